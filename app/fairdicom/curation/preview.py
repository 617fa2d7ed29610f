"""Preview one DICOM file: the raw and curated triples it would give, as Turtle, each curated
triple annotated with the table row or rule that made it. Nothing is written.

The file is read and de-identified exactly as an ingest reads it (the same worker code, the
site's secret when there is one, so the IRIs are those the store would hold).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from fairdicom.config import Settings
from fairdicom.curation.check import load_checked
from fairdicom.curation.rebuild import per_query
from fairdicom.curation.turtle_lines import compact, turtle_line
from fairdicom.dicom.sources import iter_sources
from fairdicom.errors import UsageError
from fairdicom.ingest.secret import key_file, resolve_secret
from fairdicom.ingest.worker import FileWorker
from fairdicom.namespaces import PREFIXES
from fairdicom.rdf.mapping import MappingSet
from fairdicom.rdf.raw import series_triples


@dataclass
class Preview:
    """The triples of one file: raw lines, and curated lines with where each comes from."""

    path: Path
    raw: list[str] = field(default_factory=list)
    curated: dict[str, list[str]] = field(default_factory=dict)
    """Source (``attributes.sssom.tsv:31 (dcmtag:SliceThickness)``, ``rules/x.rq``) -> lines."""
    throwaway_secret: bool = False


def _secret(settings: Settings) -> tuple[str, bool]:
    """Return the site's secret (never making a key file), or a throw-away one."""
    if settings.secret or key_file(settings).exists():
        return resolve_secret(settings), False
    return secrets.token_hex(32), True


def _source(mappings: MappingSet, name: str, line: str) -> str:
    """Return the table row or rule file that made a curated line of a query."""
    query = next(q for q in mappings.queries if q.name == name)
    _, predicate, obj = line.split(" ", 2)
    prop, value = predicate[1:-1], obj.rstrip(" .\n")
    if name == "attributes":
        row = next((m for m in mappings.attributes if m.property == prop), None)
        if row is not None:
            keyword = row.attribute.rpartition("#")[2]
            return f"{query.source.name}:{row.line} (dcmtag:{keyword} -> {compact(prop)})"
    if value.startswith("<"):
        for entry in mappings.values:
            if entry.concept == value[1:-1] and entry.table == query.source.name:
                shown = compact(entry.concept)
                return f"{entry.table}:{entry.line} ({entry.value} -> {shown})"
    try:
        return query.source.relative_to(mappings.directory).as_posix()
    except ValueError:
        return query.source.name


def preview(settings: Settings, path: Path) -> Preview:
    """Read one DICOM file and map it with the mappings in force."""
    if not path.is_file():
        raise UsageError(f"{path} is not a file: preview takes one DICOM file")
    mappings = load_checked(settings.mappings_folder, settings)
    secret, throwaway = _secret(settings)
    worker = FileWorker(settings.base_iri, secret, settings.deid)
    source = next(iter(iter_sources([path])))
    outcome = worker(source)
    if outcome.record is None:
        reason = outcome.rejected or outcome.skipped or "unknown reason"
        raise UsageError(f"{path}: cannot be previewed: {reason}")
    result = Preview(path, series_triples([outcome.record]), throwaway_secret=throwaway)
    queries = [(q.name, q.sparql) for q in mappings.queries]
    seen: set[str] = set()
    for name, lines in per_query(queries, result.raw).items():
        for line in sorted(lines):
            if line not in seen:
                seen.add(line)
                result.curated.setdefault(_source(mappings, name, line), []).append(line)
    return result


def render(result: Preview) -> str:
    """Return the preview as one Turtle document with comments."""
    out = [f"@prefix {p}: <{n}> ." for p, n in sorted(PREFIXES.items())]
    out += ["", f"# raw layer of {result.path} ({len(result.raw)} triples)"]
    if result.throwaway_secret:
        out.append("# (no site secret yet: pseudonyms made with a throw-away key)")
    out += [turtle_line(line) for line in result.raw]
    count = sum(len(lines) for lines in result.curated.values())
    out += ["", f"# curated layer ({count} triples), each group with the row or rule that made it"]
    for source, lines in sorted(result.curated.items()):
        out.append(f"# from {source}")
        out += [turtle_line(line) for line in lines]
    return "\n".join(out) + "\n"
