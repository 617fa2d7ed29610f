"""Remove whole studies from a dataset: what a harvest with ``--prune`` does to a study that
was deleted on its source.

Every triple of the study's series and instances goes from the raw, curated and quarantine
graphs, with the study node itself, in one transaction; the nodes they referred to (sequence
items, equipment, the patient) go too when nothing refers to them any more.
"""

from __future__ import annotations

from collections import defaultdict

from fairdicom.ingest.plan import BatchGraphs
from fairdicom.namespaces import DataIris
from fairdicom.rdf.raw import IN_SERIES, IN_STUDY
from fairdicom.store import GraphStore


def dataset_graphs(iris: DataIris, dataset: str) -> BatchGraphs:
    """Return the raw, curated and quarantine graphs of a dataset."""
    return BatchGraphs(
        iris.graph(dataset, "raw"),
        iris.graph(dataset, "curated"),
        iris.graph(dataset, "quarantine"),
    )


def remove_studies(store: GraphStore, iris: DataIris, dataset: str, studies: list[str]) -> int:
    """Remove studies (IRI terms) and everything derived from them; return the instances
    removed."""
    if not studies:
        return 0
    graphs = dataset_graphs(iris, dataset)
    members: list[str] = list(studies)
    instances: set[str] = set()
    for graph in (graphs.raw, graphs.quarantine, graphs.curated):
        series = [s for s, _ in store.subjects_with(IN_STUDY, studies, graph)]
        found = [i for i, _ in store.subjects_with(IN_SERIES, series, graph)]
        members += series + found
        instances.update(found)
    members = sorted(set(members))
    levels = _referenced_levels(store, graphs, members, iris.base + "id/")
    deletes = dict.fromkeys(graphs.all, members)
    store.replace(deletes, {}, dict.fromkeys(graphs.all, levels))
    store.flush()
    return len(instances)


def _referenced_levels(
    store: GraphStore, graphs: BatchGraphs, roots: list[str], data_prefix: str
) -> list[list[str]]:
    """Return the minted nodes the roots refer to (at any depth), each at the level of its
    longest path from a root, so every node that may refer to it comes in an earlier level."""
    parents: dict[str, set[str]] = defaultdict(set)
    frontier, seen = set(roots), set(roots)
    while frontier:
        found: set[str] = set()
        for graph in graphs.all:
            for subject, _, obj in store.triples_of(frontier, graph):
                if obj.startswith("<" + data_prefix):
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
        if node not in depth or depth[node] != 0:
            levels[level(node, frozenset())].append(node)
    return [sorted(levels[k]) for k in sorted(levels)]
