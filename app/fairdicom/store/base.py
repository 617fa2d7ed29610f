"""The store interface: what fairdicom needs from a quad store, in N-Triples terms.

Terms cross this interface as N-Triples text (``<iri>``, ``"lit"^^<dt>``), so no caller sees
the engine's own classes; a remote SPARQL 1.1 backend implements the same methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import BinaryIO, Protocol

EXPORT_FORMATS = ("nquads", "trig", "turtle", "ntriples")


class GraphStore(Protocol):
    """A quad store with SPARQL 1.1 query and update."""

    location: str

    def select(self, query: str) -> list[dict[str, str]]:
        """Run a SELECT query; return rows of variable -> N-Triples term."""
        ...

    def ask(self, query: str) -> bool:
        """Run an ASK query."""
        ...

    def construct(self, query: str) -> list[str]:
        """Run a CONSTRUCT query; return N-Triples lines."""
        ...

    def update(self, update: str) -> None:
        """Run a SPARQL 1.1 update in one transaction."""
        ...

    def replace(
        self,
        deletes: Mapping[str, Iterable[str]],
        inserts: Mapping[str, list[str]],
        orphans: Mapping[str, Sequence[Iterable[str]]] | None = None,
    ) -> None:
        """In one transaction, drop every triple of the given subjects from each graph
        (graph IRI -> subject terms), add the given lines (graph IRI -> N-Triples lines), then
        drop the triples of the ``orphans`` candidates that nothing in their graph refers to
        any more (graph IRI -> levels of node terms, checked level by level: a node that may
        refer to a candidate comes in an earlier level than that candidate)."""
        ...

    def existing_subjects(self, subjects: Iterable[str], graphs: Iterable[str]) -> set[str]:
        """Return the subject terms that have at least one triple in one of the graphs (an
        index lookup per subject, never a scan)."""
        ...

    def triples_of(self, subjects: Iterable[str], graph: str) -> list[tuple[str, str, str]]:
        """Return every triple of these subject terms in a graph (index lookups)."""
        ...

    def subjects_with(
        self, predicate: str, objects: Iterable[str], graph: str
    ) -> list[tuple[str, str]]:
        """Return the (subject, object) pairs of the triples ``?s predicate object`` in a graph,
        for each of the object terms (index lookups)."""
        ...

    def add(self, inserts: Mapping[str, list[str]]) -> None:
        """In one transaction, add the given lines (graph IRI -> N-Triples lines)."""
        ...

    def dump(self, out: BinaryIO, fmt: str, graph: str | None = None) -> None:
        """Write the store (or one named graph) to ``out`` in an export format."""
        ...

    def graphs(self) -> list[str]:
        """Return the IRIs of the named graphs."""
        ...

    def quad_count(self, graph: str | None = None) -> int:
        """Return the number of quads (in one graph, or in all)."""
        ...

    def flush(self) -> None:
        """Write buffered changes to disk."""
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...
