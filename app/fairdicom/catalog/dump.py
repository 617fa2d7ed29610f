"""The RDF dump of one dataset: its raw and curated graphs as gzip N-Quads, with size and hash.

The dump is written by ``fairdicom catalog`` (and the catalogue refresh after an ingest or a
remap) into the site's data folder, ``<data_dir>/dumps/<slug>.nq.gz`` (``data_dir`` defaults to
the store's directory, so a backup of the store carries it), and served from there by the
``/catalog`` blueprint. It is gzipped with mtime 0, so the same graphs give the same bytes and
the same checksum on every refresh.

Each graph is one gzip member (RFC 1952: a gzip file is a series of members; gzip, zcat and
every gzip library read them as one stream). A small manifest beside the dump records, per
member, its place in the file and the digest of the graph's N-Triples as the engine dumped
them: a caller that has just read a graph whole (the remap reads the raw graph) passes its
digest, and the member of an unchanged graph is copied from the previous dump instead of being
dumped and compressed again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fairdicom.namespaces import DataIris
from fairdicom.store import GraphStore

LAYERS = ("raw", "curated")
COMPRESS_LEVEL = 6
"""gzip's default level: 9 takes twice the time for a file 3 % smaller (measured on the
synthetic corpus), and the dump is written again after every ingest."""
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Dump:
    """A written dump file, its size in bytes and its SHA-256 (hex)."""

    path: Path
    byte_size: int
    sha256: str


def dump_path(data_folder: Path, slug: str) -> Path:
    """Return where the dump of a dataset lives in the site's data folder."""
    return data_folder / "dumps" / f"{slug}.nq.gz"


def manifest_path(dump: Path) -> Path:
    """Return where the members of a dump are listed (a hidden file beside it)."""
    return dump.with_name(f".{dump.name}.members.json")


def graph_digest(ntriples: bytes) -> str:
    """Return the digest of a graph as the engine dumps it in N-Triples (the manifest's key)."""
    return hashlib.blake2b(ntriples, digest_size=16).hexdigest()


def write_dump(
    store: GraphStore,
    iris: DataIris,
    slug: str,
    data_folder: Path,
    known: Mapping[str, str] | None = None,
) -> Dump:
    """Write the dataset's graphs as gzip N-Quads into the data folder; return its facts.

    ``known``: graph IRI -> :func:`graph_digest` of the graph as the store holds it now; the
    member of such a graph is copied from the previous dump when it was made from the same
    content.
    """
    path = dump_path(data_folder, slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = _previous_members(path, known or {})
    members: dict[str, dict[str, Any]] = {}
    fd, temp = tempfile.mkstemp(prefix=f".{slug}.", suffix=".nq.gz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            present = set(store.graphs())
            for layer in LAYERS:
                graph = iris.graph(slug, layer)
                if graph not in present:
                    continue
                offset = out.tell()
                if graph in previous:
                    digest = previous[graph]["digest"]
                    _copy_member(path, previous[graph], out)
                else:
                    digest = _write_graph(store, graph, out)
                members[graph] = {"digest": digest, "offset": offset, "length": out.tell() - offset}
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    dump = describe_dump(path)
    manifest = {"sha256": dump.sha256, "members": members}
    manifest_path(path).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return dump


def describe_dump(path: Path) -> Dump:
    """Return the size and SHA-256 of a dump file."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return Dump(path, path.stat().st_size, digest.hexdigest())


def _previous_members(path: Path, known: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Return the members of the previous dump that hold a graph of the digest ``known`` gives
    (none when the manifest is missing, unreadable or not that of the dump file)."""
    if not known or not path.is_file():
        return {}
    try:
        manifest = json.loads(manifest_path(path).read_text(encoding="utf-8"))
        members = manifest["members"]
        if manifest["sha256"] != describe_dump(path).sha256:
            return {}
        return {
            graph: member
            for graph, member in members.items()
            if known.get(graph) == member["digest"]
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _copy_member(path: Path, member: Mapping[str, Any], out: IO[bytes]) -> None:
    """Copy one member of the previous dump, byte for byte."""
    with path.open("rb") as source:
        source.seek(int(member["offset"]))
        left = int(member["length"])
        while left:
            chunk = source.read(min(left, CHUNK_BYTES))
            if not chunk:
                raise OSError(f"{path} is shorter than its manifest says")
            out.write(chunk)
            left -= len(chunk)


def _write_graph(store: GraphStore, graph: str, out: IO[bytes]) -> str:
    """Write one named graph as a gzip member of N-Quads (its N-Triples lines with the graph
    name added); return the digest of the N-Triples.

    The engine writes every line as ``s p o .`` and a newline inside a literal as ``\\n``,
    so each line ends with the only `` .`` + newline of it: a chunk of whole lines takes the
    graph name with one replace (the refresh after an ingest copies the whole dataset).
    """
    suffix = f" <{graph}> .\n".encode()
    digest = hashlib.blake2b(digest_size=16)
    with (
        tempfile.TemporaryFile() as triples,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=out, mtime=0, compresslevel=COMPRESS_LEVEL
        ) as member,
    ):
        store.dump(triples, "ntriples", graph)
        triples.seek(0)
        rest = b""
        while chunk := triples.read(CHUNK_BYTES):
            digest.update(chunk)
            lines, _, rest = (rest + chunk).rpartition(b"\n")
            if lines:
                member.write((lines + b"\n").replace(b" .\n", suffix))
        if rest.strip():
            member.write((rest.rstrip() + b"\n").replace(b" .\n", suffix))
    return digest.hexdigest()
