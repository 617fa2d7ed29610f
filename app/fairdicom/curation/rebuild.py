"""Rebuild a dataset's curated layer in memory from the raw layer in the store.

Chunk by chunk (whole patients), the raw lines read back from the store go through the same
steps as an ingest batch: :func:`fairdicom.ingest.curate.curate` runs the mapping queries,
:func:`fairdicom.ingest.curate.route` validates with SHACL and sends failing series (raw lines,
held curated lines and report) to quarantine. The result is what a fresh ingest with these
mappings would store, as a change against what the store holds: lines to add and to remove
in each of the three graphs. Nothing is written here.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fairdicom.curation.layers import Member, chunks, members, preload, read_chunk
from fairdicom.ingest.plan import BatchGraphs
from fairdicom.rdf.mapping import MappingSet
from fairdicom.store import GraphStore, MemoryStore

Progress = Callable[[int], None]
"""Called with the number of series done since the last call."""


def _ignore(_: int) -> None:
    return None


@dataclass
class GraphChange:
    """Lines to add to one graph and lines to remove from it."""

    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


@dataclass
class Rebuilt:
    """What a rebuild of one dataset would change, and what it found on the way."""

    graphs: BatchGraphs
    curated: GraphChange = field(default_factory=GraphChange)
    quarantine: GraphChange = field(default_factory=GraphChange)
    raw: GraphChange = field(default_factory=GraphChange)
    series: int = 0
    quarantined: dict[str, str] = field(default_factory=dict)
    """Series that fail validation with these mappings -> report."""
    released: set[str] = field(default_factory=set)
    """Series held in quarantine that pass now."""
    entering: set[str] = field(default_factory=set)
    """Series in the raw graph that fail now."""
    by_query: dict[str, set[str]] = field(default_factory=dict)
    """Query name -> the curated lines it makes (only when asked for)."""
    by_previous: dict[str, set[str]] = field(default_factory=dict)
    """Query name -> the curated lines the previous query of that name makes."""
    digests: dict[str, str] = field(default_factory=dict)
    """Graph IRI -> digest of the graphs read whole, as they were before the change."""

    @property
    def changed(self) -> bool:
        return bool(self.curated or self.quarantine or self.raw)

    def updates(self) -> list[tuple[str, GraphChange]]:
        """Return (graph IRI, change) of each graph, in the order of writing."""
        return [
            (self.graphs.curated, self.curated),
            (self.graphs.quarantine, self.quarantine),
            (self.graphs.raw, self.raw),
        ]


def graph_lines(store: GraphStore, graph: str) -> set[str]:
    """Return every triple of a graph as N-Triples lines (serialised by the engine)."""
    out = io.BytesIO()
    store.dump(out, "ntriples", graph)
    return set(out.getvalue().decode("utf-8").splitlines(keepends=True))


def canonical(lines: list[str]) -> list[str]:
    """Return lines as the store writes them (the same text for the same term)."""
    memory = MemoryStore()
    memory.load_lines(lines)
    return memory.construct("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")


def per_query(queries: Iterable[tuple[str, str]], lines: list[str]) -> dict[str, list[str]]:
    """Run each (name, SPARQL) query alone over raw lines; return name -> its lines."""
    memory = MemoryStore()
    memory.load_lines(lines)
    return {name: memory.construct(text) for name, text in queries}


def rebuild(
    store: GraphStore,
    graphs: BatchGraphs,
    mappings: MappingSet,
    data_prefix: str,
    *,
    progress: Progress = _ignore,
    attribute: bool = False,
    previous: Iterable[tuple[str, str]] = (),
    found: list[Member] | None = None,
) -> Rebuilt:
    """Rebuild a dataset's curated layer from its raw layer; return the change it makes.

    ``found``: the dataset's series when the caller has read them already. ``attribute``: also
    record which query makes each curated line, for these mappings and
    for the ``previous`` ones ((name, SPARQL) pairs, such as those of the mappings graph).
    """
    # Loaded here: a remap that takes the fast path with nothing to validate needs no pyshacl.
    from fairdicom.ingest.curate import curate, owners_of, route

    earlier = list(previous)
    result = Rebuilt(graphs)
    found = members(store, graphs) if found is None else found
    result.series = len(found)
    held = {m.series for m in found if m.graph == graphs.quarantine}
    new_curated: set[str] = set()
    new_quarantine: set[str] = set()
    kept_raw: set[str] = set()
    preloaded = preload(store, graphs)
    result.digests = dict(preloaded.digests) if preloaded else {}
    for group in chunks(found):
        chunk = read_chunk(store, graphs, group, data_prefix, preloaded)
        lines = chunk.lines
        curated = curate(mappings, lines)
        if attribute:
            queries = [(q.name, q.sparql) for q in mappings.queries]
            for name, made in per_query(queries, lines).items():
                result.by_query.setdefault(name, set()).update(made)
            for name, made in per_query(earlier, lines).items():
                result.by_previous.setdefault(name, set()).update(made)
        owners = owners_of(chunk.records(), curated)
        routed = route(chunk.raw, curated, owners, chunk.instances)
        new_curated.update(routed.curated)
        new_quarantine.update(canonical(routed.quarantine))
        new_raw = set(routed.raw)
        result.raw.added |= new_raw - chunk.stored_raw
        result.raw.removed |= chunk.stored_raw - new_raw
        kept_raw |= new_raw
        for series, report in routed.reports.items():
            result.quarantined[series] = report
        bad = set(routed.reports)
        result.released |= {m.series for m in group if m.series in held and m.series not in bad}
        result.entering |= {m.series for m in group if m.series not in held and m.series in bad}
        progress(len(group))
    result.raw.removed -= kept_raw  # a sequence item shared with a series that stays
    old_curated = graph_lines(store, graphs.curated)
    old_quarantine = graph_lines(store, graphs.quarantine)
    result.curated = GraphChange(new_curated - old_curated, old_curated - new_curated)
    result.quarantine = GraphChange(
        new_quarantine - old_quarantine, old_quarantine - new_quarantine
    )
    return result
