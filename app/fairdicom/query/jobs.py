"""What a worker process is asked to do: read jobs (queries, graph reads) and write jobs
(updates, Graph Store loads and drops), each run on a store opened through the store interface.

A job is a small frozen dataclass sent down a pipe; its :meth:`run` takes the opened store.
Read jobs carry the store generation they were asked at, so that a worker reopens its
read-only view when the store has changed; write jobs open the store read-write for their
own duration only, so that ``fairdicom ingest`` can write between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fairdicom.errors import FairdicomError
from fairdicom.store import Answer, Dataset, GraphStore, StoreLocation
from fairdicom.store.base import STORE_DATASET


class NewGraphs(FairdicomError):
    """The store gained a named graph since the caller's scope was checked against its graphs
    (the query service then runs the query again on the graphs the scope may read)."""


class Job(Protocol):
    """One request to a worker."""

    @property
    def location(self) -> StoreLocation:
        """Return the store the job runs on."""
        ...

    @property
    def writes(self) -> bool:
        """Return whether the job changes the store (it then opens it read-write)."""
        ...

    @property
    def generation(self) -> str | None:
        """Return the store generation the job was asked at (read jobs)."""
        ...

    def run(self, store: GraphStore) -> object:
        """Do the job on the opened store; return what the caller gets."""
        ...


@dataclass(frozen=True)
class QueryJob:
    """Run one SPARQL query and serialise its results (an :class:`Answer`)."""

    location: StoreLocation
    generation: str | None
    text: str
    accept: tuple[str, ...]
    max_rows: int
    dataset: Dataset = STORE_DATASET
    base_iri: str | None = None
    known_graphs: frozenset[str] | None = None
    """With access control, when the caller may read every graph the store had: the query then
    runs unrestricted, unless the store now has another graph (:class:`NewGraphs`)."""
    writes = False

    def run(self, store: GraphStore) -> Answer:
        if self.known_graphs is not None and not self.known_graphs.issuperset(store.graphs()):
            raise NewGraphs("the store has a new graph: the query runs again on a restricted view")
        return store.query(
            self.text,
            accept=self.accept,
            dataset=self.dataset,
            base_iri=self.base_iri,
            max_rows=self.max_rows,
        )


@dataclass(frozen=True)
class GraphJob:
    """Read one graph (None: the default graph): its :class:`Answer`, None when it does not
    exist; with ``exists_only``, only whether it exists."""

    location: StoreLocation
    generation: str | None
    graph: str | None
    accept: tuple[str, ...] = ()
    exists_only: bool = False
    writes = False

    def run(self, store: GraphStore) -> Answer | bool | None:
        if self.exists_only:
            return self.graph is None or store.has_graph(self.graph)
        return store.read_graph(self.graph, self.accept)


@dataclass(frozen=True)
class UpdateJob:
    """Run one SPARQL update in one transaction."""

    location: StoreLocation
    text: str
    base_iri: str | None = None
    writes = True
    generation = None

    def run(self, store: GraphStore) -> None:
        store.update(self.text, base_iri=self.base_iri)


@dataclass(frozen=True)
class LoadJob:
    """Parse an RDF document into a graph, replacing or merging; return whether the graph
    was created."""

    location: StoreLocation
    graph: str | None
    data: bytes
    media_type: str
    base_iri: str | None
    replace: bool
    writes = True
    generation = None

    def run(self, store: GraphStore) -> bool:
        return store.load_graph(
            self.graph, self.data, self.media_type, base_iri=self.base_iri, replace=self.replace
        )


@dataclass(frozen=True)
class DropJob:
    """Remove a named graph (empty the default graph); return False if it did not exist."""

    location: StoreLocation
    graph: str | None
    writes = True
    generation = None

    def run(self, store: GraphStore) -> bool:
        return store.drop_graph(self.graph)
