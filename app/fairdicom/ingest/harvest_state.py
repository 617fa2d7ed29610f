"""The harvest state of DICOMweb sources, kept in a graph of the dataset they feed
(``{base}graph/{dataset}/harvest``: it names the dataset's studies, so it is read as they are).

A source is one DICOMweb endpoint harvested into one dataset (``fd:DicomwebSource``). Each
study it gave has a node (``fd:HarvestedStudy``) with the study's IRI (its pseudonymised UID:
no original UID is stored), its instance and series counts, a keyed fingerprint of what
QIDO-RS said of it (so a re-run fetches only new or changed studies), the time it was last
fetched, and the reason it failed, if it did. Each harvest is a ``prov:Activity``
(``fd:Harvest``) with its counts; the source points at its last one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from fairdicom.namespaces import FD, PROV, RDF, XSD, DataIris
from fairdicom.rdf.terms import integer, iri, lexical, literal, triple
from fairdicom.sparql_files import sparql
from fairdicom.store import GraphStore

A = iri(RDF + "type")


@dataclass
class StudyState:
    """What the store knows of one harvested study."""

    study: str
    """The study's IRI term (``<{base}id/study/2.25....>``)."""
    instances: int = 0
    series: int = 0
    fingerprint: str = ""
    updated: str = ""
    failure: str = ""


@dataclass(frozen=True)
class SourceRow:
    """One harvested source, as ``fairdicom sources`` lists it."""

    endpoint: str
    dataset: str
    last_harvest: str
    listed: int | None
    fetched: int | None
    failed_last: int | None
    problem: str
    """Why the last harvest could not list the source ('' when it could)."""
    studies: int
    instances: int
    failing: int


def source_key(endpoint: str, dataset: str) -> str:
    """Return the key of a source's IRI (a hash: the endpoint may hold any character)."""
    return hashlib.sha256(f"{endpoint}\n{dataset}".encode()).hexdigest()[:24]


def source_iri(iris: DataIris, endpoint: str, dataset: str) -> str:
    """Return the IRI term of a source harvested into a dataset."""
    return iri(iris.resource("source", source_key(endpoint, dataset)))


def state_node(iris: DataIris, endpoint: str, dataset: str, study: str) -> str:
    """Return the IRI term of a study's harvest state node."""
    key = hashlib.sha256(f"{source_key(endpoint, dataset)}\n{study}".encode()).hexdigest()[:32]
    return iri(iris.resource("harvested-study", key))


def load_state(
    store: GraphStore, iris: DataIris, endpoint: str, dataset: str
) -> dict[str, StudyState]:
    """Return the state of a source's studies, by study IRI term."""
    query = (
        sparql(__file__, "harvest_studies")
        .replace("$GRAPH", iri(iris.harvest_graph(dataset)))
        .replace("$SOURCE", source_iri(iris, endpoint, dataset))
    )
    found: dict[str, StudyState] = {}
    for row in store.select(query):
        study = iri(lexical(row["study"]))
        found[study] = StudyState(
            study,
            integer(row["instances"]) if "instances" in row else 0,
            integer(row["series"]) if "series" in row else 0,
            lexical(row["fingerprint"]) if "fingerprint" in row else "",
            lexical(row["updated"]) if "updated" in row else "",
            lexical(row["failure"]) if "failure" in row else "",
        )
    return found


def study_lines(iris: DataIris, endpoint: str, dataset: str, state: StudyState) -> list[str]:
    """Return the N-Triples lines of one study's state."""
    node = state_node(iris, endpoint, dataset, state.study)
    lines = [
        triple(node, A, iri(FD + "HarvestedStudy")),
        triple(node, iri(FD + "harvestSource"), source_iri(iris, endpoint, dataset)),
        triple(node, iri(FD + "aboutStudy"), state.study),
    ]
    if state.fingerprint:
        lines += [
            triple(node, iri(FD + "instanceCount"), _count(state.instances)),
            triple(node, iri(FD + "seriesCount"), _count(state.series)),
            triple(node, iri(FD + "fingerprint"), literal(state.fingerprint)),
        ]
    if state.updated:
        lines.append(triple(node, iri(FD + "lastUpdate"), literal(state.updated, XSD + "dateTime")))
    if state.failure:
        lines.append(triple(node, iri(FD + "harvestFailure"), literal(state.failure)))
    return lines


@dataclass(frozen=True)
class HarvestCounts:
    """The counts of one harvest, recorded with it."""

    listed: int
    fetched: int
    unchanged: int
    failed: int
    instances: int
    deleted: int
    pruned: int


def source_lines(iris: DataIris, endpoint: str, dataset: str) -> list[str]:
    """Return the lines that make a source known (its endpoint and dataset)."""
    source = source_iri(iris, endpoint, dataset)
    return [
        triple(source, A, iri(FD + "DicomwebSource")),
        triple(source, A, iri(PROV + "Entity")),
        triple(source, iri(FD + "endpoint"), literal(endpoint)),
        triple(source, iri(FD + "dataset"), iri(iris.dataset(dataset))),
    ]


def harvest_lines(
    iris: DataIris,
    run_id: str,
    endpoint: str,
    dataset: str,
    started: datetime,
    ended: datetime,
    counts: HarvestCounts,
    failure: str = "",
) -> list[str]:
    """Return the lines of one harvest and of its source (which points at it as its last)."""
    source = source_iri(iris, endpoint, dataset)
    run = iri(iris.resource("harvest", run_id))
    lines = [
        *source_lines(iris, endpoint, dataset),
        triple(source, iri(FD + "lastHarvest"), run),
        triple(run, A, iri(FD + "Harvest")),
        triple(run, A, iri(PROV + "Activity")),
        triple(run, iri(PROV + "used"), source),
        triple(run, iri(FD + "dataset"), iri(iris.dataset(dataset))),
        triple(run, iri(PROV + "startedAtTime"), _when(started)),
        triple(run, iri(PROV + "endedAtTime"), _when(ended)),
    ]
    for name, value in vars(counts).items():
        term = "studies" + name.capitalize() if name != "instances" else "instancesFetched"
        lines.append(triple(run, iri(FD + term), _count(value)))
    if failure:
        lines.append(triple(run, iri(FD + "harvestFailure"), literal(failure)))
    return lines


def list_sources(store: GraphStore, iris: DataIris) -> list[SourceRow]:
    """Return every harvested source with its state and its last harvest."""
    query = sparql(__file__, "harvest_sources")
    rows = []
    for row in store.select(query):
        dataset = lexical(row["dataset"]).rstrip("/").rsplit("/", 1)[-1]
        rows.append(
            SourceRow(
                lexical(row["endpoint"]),
                dataset,
                lexical(row["ended"]) if "ended" in row else "",
                integer(row["listed"]) if "listed" in row else None,
                integer(row["fetched"]) if "fetched" in row else None,
                integer(row["failedRun"]) if "failedRun" in row else None,
                lexical(row["problem"]) if "problem" in row else "",
                integer(row["studies"]) if "studies" in row else 0,
                int(float(lexical(row["instances"]))) if "instances" in row else 0,
                integer(row["failing"]) if "failing" in row else 0,
            )
        )
    return rows


def _count(value: int) -> str:
    return literal(str(value), XSD + "integer")


def _when(moment: datetime) -> str:
    return literal(moment.isoformat(timespec="seconds"), XSD + "dateTime")
