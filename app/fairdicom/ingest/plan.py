"""Plan one batch against what the store holds: which of its series are stored already, the
instances of theirs that the batch does not carry, the other series of the same patients, and
the nodes that the stored version of the series refers to.

Every lookup is an index lookup on a subject or on an object (never a query that the engine
answers by scanning), so planning costs the same however large the store grows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from fairdicom.namespaces import FD, DataIris
from fairdicom.rdf.raw import (
    IN_SERIES,
    IN_STUDY,
    OF_PATIENT,
    InstanceRecord,
    Pairs,
    records_from_store,
)
from fairdicom.rdf.terms import iri, triple
from fairdicom.store import GraphStore

EQUIPMENT = iri(FD + "equipment")


@dataclass(frozen=True)
class BatchGraphs:
    """The named graphs of one dataset that a batch writes."""

    raw: str
    curated: str
    quarantine: str

    @property
    def all(self) -> tuple[str, str, str]:
        return (self.raw, self.curated, self.quarantine)

    @classmethod
    def of(cls, iris: DataIris, dataset: str) -> BatchGraphs:
        """Return the graphs of a dataset."""
        return cls(
            iris.graph(dataset, "raw"),
            iris.graph(dataset, "curated"),
            iris.graph(dataset, "quarantine"),
        )


@dataclass
class BatchPlan:
    """What writing one batch involves besides its own records."""

    by_series: dict[str, list[InstanceRecord]]
    """Series -> its instances: the batch's, plus those already stored that it does not carry."""
    replacing: bool = False
    """Some series of the batch are in the store already: the batch replaces them."""
    context: list[str] = field(default_factory=list)
    """Raw N-Triples lines of the other stored series of the batch's patients, from which the
    curated triples of the studies and patients they share with the batch are computed too."""
    context_owners: dict[str, set[str]] = field(default_factory=dict)
    """Study or patient -> its stored series that are not in the batch."""
    orphan_levels: list[list[str]] = field(default_factory=list)
    """Nodes that the stored version of the series refers to (items, study, patient,
    equipment), in levels: those that nothing refers to after the write are dropped."""

    @property
    def context_series(self) -> set[str]:
        return {s for owners in self.context_owners.values() for s in owners}


def plan_batch(
    store: GraphStore, graphs: BatchGraphs, records: Iterable[InstanceRecord], data_prefix: str
) -> BatchPlan:
    """Return the plan of a batch; ``data_prefix`` starts every IRI the store mints."""
    by_series: dict[str, list[InstanceRecord]] = defaultdict(list)
    for record in records:
        by_series[record.series].append(record)
    plan = BatchPlan(dict(by_series))
    patients = {r.patient for g in plan.by_series.values() for r in g}
    plan.context, plan.context_owners = _context(store, graphs.raw, patients, set(by_series))
    shared = patients | {r.study for g in plan.by_series.values() for r in g}
    stored = store.existing_subjects(by_series, (graphs.raw, graphs.quarantine))
    if not stored and not store.existing_subjects(shared, (graphs.quarantine,)):
        return plan  # all new, nothing held in quarantine: nothing to replace
    plan.replacing = True
    for series, group in plan.by_series.items():
        group += _stored_instances(store, graphs, series, group, data_prefix)
    roots = list(plan.by_series) + [r.instance for g in plan.by_series.values() for r in g]
    plan.orphan_levels = referenced_levels(store, graphs, roots, data_prefix)
    return plan


def _stored_instances(
    store: GraphStore,
    graphs: BatchGraphs,
    series: str,
    group: list[InstanceRecord],
    data_prefix: str,
) -> list[InstanceRecord]:
    """Return the stored instances of a series (raw or quarantined) that the batch lacks."""
    present = {r.instance for r in group}
    first = group[0]
    found: list[InstanceRecord] = []
    for graph in (graphs.raw, graphs.quarantine):
        instances = [s for s, _ in store.subjects_with(IN_SERIES, [series], graph)]
        missing = [i for i in instances if i not in present]
        if not missing:
            continue
        rows = store.triples_of([series, *missing], graph)
        records = records_from_store(series, first.study, first.patient, rows)
        if records:  # their sequence items (at any depth), written again with them
            records[0].items = stored_items(store, graph, {o for _, _, o in rows}, data_prefix)
        found += records
        present.update(missing)
    return found


def stored_items(
    store: GraphStore, graph: str, objects: set[str], data_prefix: str
) -> dict[str, Pairs]:
    """Return the sequence items among these objects and the items they refer to, with their
    (predicate, object) pairs."""
    items: dict[str, list[tuple[str, str]]] = {}
    frontier = {o for o in objects if o.startswith("<" + data_prefix + "item/")}
    while frontier:
        for subject, predicate, obj in store.triples_of(frontier, graph):
            items.setdefault(subject, []).append((predicate, obj))
        frontier = {
            o
            for pairs in items.values()
            for _, o in pairs
            if o.startswith("<" + data_prefix + "item/")
        } - items.keys()
    return {node: tuple(pairs) for node, pairs in items.items()}


def referenced_levels(
    store: GraphStore, graphs: BatchGraphs, roots: list[str], data_prefix: str
) -> list[list[str]]:
    """Return the minted nodes reachable from the roots, each at the level of its longest path
    from a root (so every node that may refer to it comes in an earlier level)."""
    parents: dict[str, set[str]] = defaultdict(set)
    frontier = set(roots)
    seen = set(roots)
    while frontier:
        found: set[str] = set()
        for graph in graphs.all:
            for subject, predicate, obj in store.triples_of(frontier, graph):
                if predicate == IN_SERIES or not obj.startswith("<" + data_prefix):
                    continue
                parents[obj].add(subject)
                if obj not in seen:
                    found.add(obj)
        seen |= found
        frontier = found
    depth: dict[str, int] = dict.fromkeys(roots, 0)

    def level(node: str, path: frozenset[str]) -> int:
        if node not in depth:
            above = [level(p, path | {node}) for p in parents[node] if p not in path]
            depth[node] = 1 + max(above, default=0)
        return depth[node]

    levels: dict[int, list[str]] = defaultdict(list)
    for node in parents:
        if node not in roots:
            levels[level(node, frozenset())].append(node)
    return [sorted(levels[k]) for k in sorted(levels)]


def _context(
    store: GraphStore, raw: str, patients: set[str], batch_series: set[str]
) -> tuple[list[str], dict[str, set[str]]]:
    """Return the raw lines of the patients' other stored series and their owners map."""
    owners: dict[str, set[str]] = defaultdict(set)
    lines: list[str] = []
    studies = store.subjects_with(OF_PATIENT, patients, raw)
    lines += [triple(study, OF_PATIENT, patient) for study, patient in studies]
    patient_of = dict(studies)
    series = [
        (s, study)
        for s, study in store.subjects_with(IN_STUDY, patient_of, raw)
        if s not in batch_series
    ]
    for s, study in series:
        owners[study].add(s)
        owners[patient_of[study]].add(s)
    frontier = {s for s, _ in series}
    seen = set(frontier)
    while frontier:  # the series nodes, then the sequence items they refer to, at any depth
        found: set[str] = set()
        for subject, predicate, obj in store.triples_of(frontier, raw):
            lines.append(triple(subject, predicate, obj))
            if obj.startswith("<") and predicate != IN_STUDY and obj not in seen:
                found.add(obj)
        seen |= found
        frontier = found
    return lines, dict(owners)
