"""Read a dataset's raw layer back from the store, patient by patient, by index lookups.

The raw triples of a series live in the dataset's raw graph, or in its quarantine graph when
the series failed validation (there with the curated triples held back and the report). A
:class:`Chunk` holds the raw lines of the series of a few whole patients, as the ingest wrote
them (:func:`fairdicom.rdf.raw.series_triples`), so the curated triples of every study and
patient are computed from all of their series, as a fresh ingest computes them.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from fairdicom.catalog.dump import graph_digest
from fairdicom.ingest.plan import BatchGraphs
from fairdicom.namespaces import DataIris
from fairdicom.rdf.raw import (
    IN_SERIES,
    IN_STUDY,
    INVALID,
    ITEM_INDEX,
    OF_PATIENT,
    SEQUENCE_ITEM,
    TYPE,
    InstanceRecord,
)
from fairdicom.rdf.terms import triple
from fairdicom.sparql_files import sparql
from fairdicom.store import GraphStore

PRELOAD_QUADS = 3_000_000
"""Largest raw layer (quads) read whole; a larger one is read patient by patient by index
lookups (about 300,000 instances)."""
CHUNK_SERIES = 150
"""Series read and curated together (whole patients): about 6,000 instances at 40 a series."""
STRUCTURE = frozenset({IN_SERIES, IN_STUDY, OF_PATIENT, INVALID, ITEM_INDEX})


def dataset_graphs(iris: DataIris, dataset: str) -> BatchGraphs:
    """Return the raw, curated and quarantine graphs of a dataset."""
    return BatchGraphs(
        iris.graph(dataset, "raw"),
        iris.graph(dataset, "curated"),
        iris.graph(dataset, "quarantine"),
    )


def is_raw(predicate: str, obj: str) -> bool:
    """Return whether a triple (predicate and object terms) belongs to the raw layer."""
    if predicate == TYPE:
        return obj == SEQUENCE_ITEM
    return predicate in STRUCTURE or predicate.startswith(
        ("<https://w3id.org/fairdicom/dicom#", "<https://w3id.org/fairdicom/dicom/private/")
    )


@dataclass(frozen=True)
class Member:
    """A series with its study and patient, and the graph that holds its raw triples."""

    series: str
    study: str
    patient: str
    graph: str


@dataclass
class Chunk:
    """The raw lines of the series of some whole patients, read back from the store."""

    members: list[Member]
    raw: dict[str, list[str]] = field(default_factory=dict)
    """Series -> its raw lines (series, instances, study link and sequence items)."""
    instances: dict[str, list[str]] = field(default_factory=dict)
    """Series -> its instance terms."""
    stored_raw: set[str] = field(default_factory=set)
    """The lines of the chunk that the raw graph holds now (the others are in quarantine)."""

    @property
    def lines(self) -> list[str]:
        """Return the raw lines of every series of the chunk, each once."""
        return list(dict.fromkeys(line for lines in self.raw.values() for line in lines))

    def records(self) -> dict[str, list[InstanceRecord]]:
        """Return series -> records that name its instance, study and patient (no values)."""
        by_series: dict[str, list[InstanceRecord]] = {}
        for member in self.members:
            by_series[member.series] = [
                InstanceRecord(member.patient, member.study, member.series, instance, {})
                for instance in self.instances.get(member.series, [])
            ]
        return by_series


def members(store: GraphStore, graphs: BatchGraphs) -> list[Member]:
    """Return every series of the dataset (raw graph first, then quarantine), by patient."""
    found: dict[str, Member] = {}
    for graph in (graphs.raw, graphs.quarantine):
        rows = store.select(sparql(__file__, "hierarchy").replace("$GRAPH", f"<{graph}>"))
        for row in rows:
            series, study = str(row["series"]), str(row["study"])
            if series not in found:
                patient = str(row.get("patient", study))
                found[series] = Member(series, study, patient, graph)
    return sorted(found.values(), key=lambda m: (m.patient, m.study, m.series))


def chunks(found: list[Member], size: int = CHUNK_SERIES) -> Iterator[list[Member]]:
    """Group the series into chunks of whole patients, about ``size`` series each."""
    by_patient: dict[str, list[Member]] = defaultdict(list)
    for member in found:
        by_patient[member.patient].append(member)
    chunk: list[Member] = []
    for group in by_patient.values():
        if chunk and len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk += group
    if chunk:
        yield chunk


class Preloaded:
    """The raw and quarantine graphs of a dataset read whole (one dump each, serialised by the
    engine), by subject: much faster than index lookups when the dataset fits in memory."""

    def __init__(self, store: GraphStore, graphs: BatchGraphs) -> None:
        self.by_graph: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
        self.members: dict[str, dict[str, list[str]]] = {}
        self.digests: dict[str, str] = {}
        """Graph IRI -> digest of the graph as read (see fairdicom.catalog.dump)."""
        for graph in (graphs.raw, graphs.quarantine):
            out = io.BytesIO()
            store.dump(out, "ntriples", graph)
            self.digests[graph] = graph_digest(out.getvalue())
            subjects: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
            members: dict[str, list[str]] = defaultdict(list)
            for line in out.getvalue().decode("utf-8").splitlines():
                subject, predicate, rest = line.split(" ", 2)
                obj = rest[:-2]
                subjects[subject].append((subject, predicate, obj))
                if predicate == IN_SERIES:
                    members[obj].append(subject)
            self.by_graph[graph] = subjects
            self.members[graph] = members

    def triples_of(self, subjects: Iterable[str], graph: str) -> list[tuple[str, str, str]]:
        """Return every triple of these subjects in a graph."""
        found = self.by_graph[graph]
        return [t for subject in subjects for t in found.get(subject, ())]

    def subjects_with(
        self, predicate: str, objects: Iterable[str], graph: str
    ) -> list[tuple[str, str]]:
        """Return the (instance, series) pairs of ``fd:inSeries`` for these series."""
        assert predicate == IN_SERIES
        members = self.members[graph]
        return [(instance, series) for series in objects for instance in members.get(series, ())]


def preload(store: GraphStore, graphs: BatchGraphs, limit: int = PRELOAD_QUADS) -> Preloaded | None:
    """Return the dataset's raw layer read whole, or None when it is too large for memory."""
    size = store.quad_count(graphs.raw) + store.quad_count(graphs.quarantine)
    return Preloaded(store, graphs) if size <= limit else None


def read_chunk(
    store: GraphStore,
    graphs: BatchGraphs,
    group: list[Member],
    data_prefix: str,
    preloaded: Preloaded | None = None,
) -> Chunk:
    """Read the raw lines of some series from the raw or quarantine graph (index lookups, or
    the preloaded graphs)."""
    source: GraphStore | Preloaded = preloaded or store
    chunk = Chunk(group)
    by_graph: dict[str, list[Member]] = defaultdict(list)
    for member in group:
        by_graph[member.graph].append(member)
    item_prefix = "<" + data_prefix + "item/"
    for graph, part in by_graph.items():
        series = [m.series for m in part]
        instances: dict[str, list[str]] = defaultdict(list)
        for instance, owner in source.subjects_with(IN_SERIES, series, graph):
            instances[owner].append(instance)
        studies = sorted({m.study for m in part})
        study_lines: dict[str, list[str]] = defaultdict(list)
        for subject, predicate, obj in source.triples_of(studies, graph):
            if is_raw(predicate, obj):
                study_lines[subject].append(triple(subject, predicate, obj))
        for member in part:
            subjects = [member.series, *sorted(instances[member.series])]
            lines = list(study_lines.get(member.study, []))
            found = source.triples_of(subjects, graph)
            lines += [triple(s, p, o) for s, p, o in found if is_raw(p, o)]
            items = {o for _, _, o in found if o.startswith(item_prefix)}
            seen = set(items)
            while items:
                deeper: set[str] = set()
                for s, p, o in source.triples_of(sorted(items), graph):
                    if is_raw(p, o):
                        lines.append(triple(s, p, o))
                    if o.startswith(item_prefix) and o not in seen:
                        deeper.add(o)
                seen |= deeper
                items = deeper
            chunk.raw[member.series] = lines
            chunk.instances[member.series] = sorted(instances[member.series])
            if graph == graphs.raw:
                chunk.stored_raw.update(lines)
    return chunk
