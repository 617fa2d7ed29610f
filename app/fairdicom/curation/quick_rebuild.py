"""Rebuild a dataset's curated layer in one pass over its raw graph, validating only what
changes: the fast path of a remap.

The raw graph is dumped once by the engine and loaded as it is into an in-memory store; every
mapping query runs over it at once and the result is compared with the stored curated graph.
Only the nodes whose curated triples change, and those pointing at a node whose class
changes, are validated again (the shapes are node-local: :func:`still_valid`), by
:mod:`fairdicom.curation.shape_check` when it is sure, else by pyshacl. The change is the one
the full rebuild (:func:`fairdicom.curation.rebuild.rebuild`) finds, as long as:

* the dataset's quarantine graph is empty: every series passed validation, so the raw graph
  holds the whole raw layer and nothing can come out of quarantine;
* the raw graph holds raw-layer triples only (no triple added by hand) and fits in memory;
* the runs that wrote the dataset since its last remap were made by this fairdicom version:
  the series not validated again were judged by the same shapes;
* every node validated again passes: no series enters quarantine.

Otherwise :func:`quick_rebuild` returns None and the remap takes the full rebuild, which also
moves series in and out of quarantine.
"""

from __future__ import annotations

import io
from collections import defaultdict

from fairdicom import __version__
from fairdicom.catalog.dump import graph_digest
from fairdicom.curation.layers import PRELOAD_QUADS, Member, is_raw
from fairdicom.curation.rebuild import GraphChange, Progress, Rebuilt, graph_lines
from fairdicom.curation.shape_check import surely_conform
from fairdicom.ingest.plan import BatchGraphs
from fairdicom.namespaces import FD, DataIris
from fairdicom.rdf.mapping import MappingSet
from fairdicom.rdf.raw import TYPE
from fairdicom.rdf.terms import iri, lexical
from fairdicom.sparql_files import sparql
from fairdicom.store import GraphStore, MemoryStore


def _ignore(_: int) -> None:
    return None


def same_software(store: GraphStore, iris: DataIris, dataset: str, graphs: BatchGraphs) -> bool:
    """Return whether every run that wrote the dataset since its last remap was this version."""
    query = (
        sparql(__file__, "dataset_software")
        .replace("$PROVENANCE", f"<{iris.provenance_graph}>")
        .replace("$DATASET", f"<{iris.dataset(dataset)}>")
        .replace("$CURATED", f"<{graphs.curated}>")
    )
    versions = {lexical(row["version"]) for row in store.select(query)}
    return versions == {__version__}


def _only_raw(memory: MemoryStore) -> bool:
    """Return whether every triple loaded is of the raw layer (see layers.is_raw)."""
    rows = memory.select(sparql(__file__, "raw_predicates"))
    return all(is_raw(str(row["predicate"]), str(row.get("object", ""))) for row in rows)


def _subject(line: str) -> str:
    """Return the subject term of an N-Triples line."""
    return line.split(" ", 1)[0]


def _object(line: str) -> str:
    """Return the object term of an N-Triples line."""
    return line.split(" ", 2)[2][:-3]


def still_valid(new: set[str], change: GraphChange) -> bool:
    """Validate again, as an ingest validates them, the nodes whose curated triples change
    and the nodes that point at one whose class changes; return whether all of them pass.

    The shapes of the curated layer are node-local (``tests/test_remap_quick.py`` keeps them
    so): a node's verdict follows from its own triples and the classes of the nodes they
    point at, so a node outside this set keeps the verdict its ingest gave it.
    """
    by_subject: dict[str, list[str]] = defaultdict(list)
    for line in new:
        by_subject[_subject(line)].append(line)
    changed = {*change.added, *change.removed}
    focus = {_subject(line) for line in changed}
    retyped = {_subject(line) for line in changed if line.split(" ", 2)[1] == TYPE}
    if retyped:
        focus |= {_subject(line) for line in new if _object(line) in retyped}
    instance = iri(FD + "Instance")
    focus -= {s for s in focus if f"{s} {TYPE} {instance} .\n" in by_subject.get(s, ())}
    lines = {line for subject in focus for line in by_subject.get(subject, ())}
    pointed = {_object(line) for line in lines}
    lines |= {ln for o in pointed for ln in by_subject.get(o, ()) if ln.split(" ", 2)[1] == TYPE}
    if not lines or surely_conform(focus, lines):
        return True
    from fairdicom.rdf.validation import validate_curated  # pyshacl: only when in doubt

    failing = validate_curated("".join(sorted(lines))).failing_nodes
    return not failing & {subject[1:-1] for subject in focus}  # the others are half there


def quick_rebuild(
    store: GraphStore,
    iris: DataIris,
    dataset: str,
    graphs: BatchGraphs,
    mappings: MappingSet,
    found: list[Member],
    progress: Progress = _ignore,
) -> Rebuilt | None:
    """Return the change a rebuild of the dataset makes, or None where the full rebuild must
    run (see the module's conditions)."""
    if store.has_graph(graphs.quarantine) and store.quad_count(graphs.quarantine):
        return None
    if store.quad_count(graphs.raw) > PRELOAD_QUADS:
        return None
    if not same_software(store, iris, dataset, graphs):
        return None
    out = io.BytesIO()
    store.dump(out, "ntriples", graphs.raw)
    data = out.getvalue()
    memory = MemoryStore()
    memory.load_lines([data.decode("utf-8")])
    if not _only_raw(memory):
        return None
    new: set[str] = set()
    for query in mappings.queries:
        new.update(memory.construct(query.sparql))
    stored = graph_lines(store, graphs.curated)
    result = Rebuilt(graphs, series=len(found))
    result.curated = GraphChange(new - stored, stored - new)
    if result.curated and not still_valid(new, result.curated):
        return None
    result.digests = {graphs.raw: graph_digest(data)}
    progress(len(found))
    return result
