"""The store interface: every reader and writer of fairdicom goes through it.

A :class:`StoreLocation` names a store: it is small, can be sent to another process, tells the
store's generation without opening it, and opens it. A :class:`GraphStore` is an opened store.
The embedded Oxigraph store (:mod:`fairdicom.store.embedded`) is one implementation; a remote
SPARQL 1.1 backend is another class with the same methods, found by :func:`fairdicom.store.locate`
from its URL, and nothing above the store changes.

What crosses the interface: query rows as typed terms (:mod:`fairdicom.rdf.terms`: ``Iri``,
``BlankNode``, ``Literal``); answers of the SPARQL endpoint as bytes already serialised in the
negotiated format (:class:`Answer`); bulk data as serialised RDF (N-Triples lines from the
ingest, an RDF document for the Graph Store). Subjects and graphs of the ingest's index lookups
are N-Triples terms as the ingest writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from fairdicom import media_types
from fairdicom.errors import StoreError
from fairdicom.media_types import Format
from fairdicom.rdf.terms import Term

EXPORT_FORMATS = ("nquads", "trig", "turtle", "ntriples")

SOLUTIONS = "solutions"
"""The form of SELECT and ASK queries: SPARQL query results."""
GRAPH = "graph"
"""The form of CONSTRUCT and DESCRIBE queries (and Graph Store reads): an RDF graph."""
OFFERS: dict[str, tuple[Format, ...]] = {
    SOLUTIONS: media_types.RESULTS,
    GRAPH: media_types.RDF,
}
"""The formats each query form is answered in, the default first."""


def negotiate(form: str, accept: Sequence[str]) -> str:
    """Return the media type to answer a query form with, or raise NotAcceptable naming the
    formats it is offered in (``accept``: what the client asks for, see fairdicom.media_types)."""
    return media_types.negotiate(OFFERS[form], accept).media_type


class StaleView(StoreError):
    """A read-only view lost files that a writer in another process compacted away: open the
    store again and retry."""


@dataclass(frozen=True)
class Answer:
    """A serialised answer: its bytes, media type, query form, and whether rows were cut off."""

    body: bytes
    media_type: str
    form: str = SOLUTIONS
    truncated: bool = False


@dataclass(frozen=True)
class Dataset:
    """The RDF dataset a query runs on: the given graphs, or the store's default graph (the
    union of the named graphs when ``union``)."""

    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    union: bool = False


STORE_DATASET = Dataset()
"""The store's own default graph and named graphs."""


class GraphStore(Protocol):
    """An opened quad store with SPARQL 1.1 query and update."""

    @property
    def location(self) -> str:
        """Return where the store is (a directory, a URL)."""
        ...

    # The SPARQL endpoint and the Graph Store Protocol ------------------------------------

    def query(
        self,
        text: str,
        *,
        accept: Sequence[str],
        dataset: Dataset = STORE_DATASET,
        base_iri: str | None = None,
        max_rows: int = 0,
    ) -> Answer:
        """Run a query; answer in the first accepted format of its form, at most ``max_rows``
        rows or triples (0: all)."""
        ...

    def update(self, text: str, *, base_iri: str | None = None) -> None:
        """Run a SPARQL 1.1 update in one transaction (all or nothing)."""
        ...

    def read_graph(self, graph: str | None, accept: Sequence[str]) -> Answer | None:
        """Return a graph's content (None: the default graph), or None when it does not exist."""
        ...

    def has_graph(self, graph: str) -> bool:
        """Return whether a named graph exists."""
        ...

    def load_graph(
        self,
        graph: str | None,
        data: bytes,
        media_type: str,
        *,
        base_iri: str | None = None,
        replace: bool = False,
    ) -> bool:
        """Parse an RDF document into a graph (None: the default graph), replacing its content
        or adding to it, in one transaction; return whether the named graph was created."""
        ...

    def drop_graph(self, graph: str | None) -> bool:
        """Remove a named graph (empty the default graph); return False if it did not exist."""
        ...

    # Reading ---------------------------------------------------------------------------------

    def select(self, query: str) -> list[dict[str, Term]]:
        """Run a SELECT query; return its rows, variable -> term (unbound variables left out)."""
        ...

    def ask(self, query: str) -> bool:
        """Run an ASK query."""
        ...

    def construct(self, query: str) -> list[str]:
        """Run a CONSTRUCT query; return N-Triples lines."""
        ...

    def graphs(self) -> list[str]:
        """Return the IRIs of the named graphs."""
        ...

    def quad_count(self, graph: str | None = None) -> int:
        """Return the number of quads (in one graph, or in all)."""
        ...

    def dump(self, out: BinaryIO, fmt: str, graph: str | None = None) -> None:
        """Write the store (or one named graph) to ``out`` in an export format."""
        ...

    # Writing by the ingest --------------------------------------------------------------------

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

    def terms_in_use(self, terms: Iterable[str], graphs: Iterable[str]) -> set[str]:
        """Return the IRIs (without brackets) used as a predicate or an object in one of the
        graphs (index lookups per IRI and graph, never a scan)."""
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

    def load_nquads(self, data: bytes, *, bulk: bool = False) -> None:
        """Add N-Quads in one step, all or nothing (``bulk``: the fastest way the engine has
        for quads new to the store)."""
        ...

    def flush(self) -> None:
        """Write buffered changes to disk."""
        ...

    def optimize(self) -> None:
        """Compact the storage for reading (after a large write)."""
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...


class StoreLocation(Protocol):
    """Where a store is: enough to open it in any process, and to tell when it changed."""

    @property
    def location(self) -> str:
        """Return where the store is (a directory, a URL)."""
        ...

    @property
    def local(self) -> bool:
        """Return whether the store is reached without the network (a process that opens it
        may then forbid itself every socket)."""
        ...

    def generation(self) -> str | None:
        """Return a token that changes whenever the store changes, whoever writes it; None
        when the backend cannot tell (then nothing is cached)."""
        ...

    def open(self, *, read_only: bool = False) -> GraphStore:
        """Open the store (read-only: a view of the data as of now, beside any writer)."""
        ...
