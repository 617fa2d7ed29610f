"""Mapping versions: the content hash of the mapping files, plus the git commit of the folder
when it is in a git work tree; and the PROV-O record of a remap, per curated graph.

A remap run ``prov:used`` one mapping version and ``prov:generated`` the dataset's curated and
quarantine graphs; each graph ``prov:wasGeneratedBy`` the last remap only (the statements of
earlier ones are dropped in the same transaction), so "which mapping version made this graph"
is one query (``queries/graph_versions.rq``). Ingest runs since then name their version too.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fairdicom import __version__
from fairdicom.namespaces import FD, OWL, PROV, RDF, RDFS, XSD, DataIris
from fairdicom.rdf.terms import iri, literal, triple

GIT_TIMEOUT = 10.0
"""Seconds git may take to name the commit of the mappings folder."""


@dataclass(frozen=True)
class MappingVersion:
    """A mapping version: content hash and, when known, the git commit of its folder."""

    version: str
    commit: str | None = None

    def iri(self, iris: DataIris) -> str:
        """Return the IRI of the version (the one ingest runs name too)."""
        return iris.resource("mapping-set", self.version)

    def lines(self, iris: DataIris) -> list[str]:
        """Return the lines that describe the version."""
        node = iri(self.iri(iris))
        lines = [
            triple(node, iri(RDF + "type"), iri(PROV + "Entity")),
            triple(node, iri(OWL + "versionInfo"), literal(self.version)),
        ]
        if self.commit:
            lines.append(triple(node, iri(FD + "gitCommit"), literal(self.commit)))
        return lines


def git_commit(folder: Path) -> str | None:
    """Return the commit of the git work tree holding ``folder`` (``-dirty`` appended when
    its files have changes not committed), or None outside git or without git."""
    git = shutil.which("git")
    if git is None or not folder.is_dir():
        return None
    try:
        head = subprocess.run(
            [git, "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            [git, "-C", str(folder), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = head.stdout.strip()
    return commit + ("-dirty" if status.stdout.strip() else "")


def _when(moment: datetime) -> str:
    return literal(moment.isoformat(timespec="seconds"), XSD + "dateTime")


@dataclass(frozen=True)
class RemapRecord:
    """What one remap of one dataset did."""

    run_id: str
    dataset: str
    started: datetime
    ended: datetime
    added: int
    removed: int


def remap_lines(
    iris: DataIris, record: RemapRecord, version: MappingVersion, graphs: tuple[str, str, str]
) -> list[str]:
    """Return the provenance lines of one remap; ``graphs``: raw, curated, quarantine."""
    run = iri(iris.run(record.run_id))
    software = iri(iris.resource("software", f"fairdicom-{__version__}"))
    operator = iri(iris.resource("agent", getpass.getuser()))
    a = iri(RDF + "type")
    raw, curated, quarantine = (iri(g) for g in graphs)
    lines = [
        triple(run, a, iri(PROV + "Activity")),
        triple(run, a, iri(FD + "RemapRun")),
        triple(run, iri(RDFS + "label"), literal(f"remap of {record.dataset}")),
        triple(run, iri(PROV + "startedAtTime"), _when(record.started)),
        triple(run, iri(PROV + "endedAtTime"), _when(record.ended)),
        triple(run, iri(PROV + "wasAssociatedWith"), software),
        triple(run, iri(PROV + "wasAssociatedWith"), operator),
        triple(run, iri(PROV + "used"), iri(version.iri(iris))),
        triple(run, iri(PROV + "used"), raw),
        triple(run, iri(FD + "dataset"), iri(iris.dataset(record.dataset))),
        triple(run, iri(FD + "triplesAdded"), literal(str(record.added), XSD + "integer")),
        triple(run, iri(FD + "triplesRemoved"), literal(str(record.removed), XSD + "integer")),
        triple(software, a, iri(PROV + "SoftwareAgent")),
        triple(software, iri(RDFS + "label"), literal(f"fairdicom {__version__}")),
        triple(software, iri(OWL + "versionInfo"), literal(__version__)),
        triple(operator, a, iri(PROV + "Person")),
        *version.lines(iris),
    ]
    for graph in (curated, quarantine):
        lines += [
            triple(run, iri(PROV + "generated"), graph),
            triple(graph, a, iri(PROV + "Entity")),
            triple(graph, iri(PROV + "wasGeneratedBy"), run),
            triple(graph, iri(PROV + "wasDerivedFrom"), raw),
        ]
    return lines


def remap_update(iris: DataIris, lines: list[str], graphs: tuple[str, str, str]) -> str:
    """Return the update that drops the earlier "generated by" statements of the dataset's
    curated and quarantine graphs, then adds the record of this remap."""
    provenance = f"<{iris.provenance_graph}>"
    parts = [
        f"DELETE WHERE {{ GRAPH {provenance} {{ <{graph}> <{PROV}wasGeneratedBy> ?run }} }}"
        for graph in graphs[1:]
    ]
    parts.append(f"INSERT DATA {{ GRAPH {provenance} {{\n{''.join(lines)}}} }}")
    return " ;\n".join(parts)
