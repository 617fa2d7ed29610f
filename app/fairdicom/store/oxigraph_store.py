"""The embedded store: pyoxigraph on disk (and in memory, to run mappings on one batch).

pyoxigraph 0.5 facts this module respects: one writer per directory (RocksDB LOCK), query
results are consumed in the thread that ran the query, an update is one transaction. The
answers to the SPARQL endpoint are serialised by :mod:`fairdicom.store.oxigraph_answers`.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from fairdicom.errors import (
    Forbidden,
    QuerySyntaxError,
    StoreError,
    StoreLocked,
    UsageError,
)
from fairdicom.namespaces import PREFIXES
from fairdicom.rdf.terms import BlankNode, Iri, Literal, Term
from fairdicom.sparql_files import sparql
from fairdicom.store import oxigraph_answers, query_formats
from fairdicom.store.base import STORE_DATASET, Answer, Dataset, StaleView
from fairdicom.store.replace_update import replace_operations

BULK_LOAD_MAX_BYTES = 64 * 2**20
"""Largest data given to one bulk load: Oxigraph's bulk loader adds up to a million quads in
one step (one set of index files); beyond that it would add them in several, so a kill could
leave part of the data. 64 MiB of N-Quads hold far fewer quads than that."""


class _OxigraphStore:
    location: str

    def __init__(self, store: ox.Store, location: str, read_only: bool = False) -> None:
        self._handle: ox.Store | None = store
        self.location = location
        self._read_only = read_only

    @property
    def _store(self) -> ox.Store:
        if self._handle is None:
            raise StoreError(f"the store {self.location} is closed")
        return self._handle

    def query(
        self,
        text: str,
        *,
        accept: Sequence[str],
        dataset: Dataset = STORE_DATASET,
        base_iri: str | None = None,
        max_rows: int = 0,
    ) -> Answer:
        return oxigraph_answers.translated(
            self.location,
            lambda: oxigraph_answers.answer(self._store, text, accept, dataset, base_iri, max_rows),
        )

    def read_graph(self, graph: str | None, accept: Sequence[str]) -> Answer | None:
        return oxigraph_answers.translated(
            self.location, lambda: oxigraph_answers.read_graph(self._store, graph, accept)
        )

    def has_graph(self, graph: str) -> bool:
        return self._store.contains_named_graph(oxigraph_answers.iri(graph))

    def load_graph(
        self,
        graph: str | None,
        data: bytes,
        media_type: str,
        *,
        base_iri: str | None = None,
        replace: bool = False,
    ) -> bool:
        triples = oxigraph_answers.parse_document(data, media_type, graph or base_iri)
        created = graph is not None and not self.has_graph(graph)
        template = ("graph_put" if replace else "graph_post") + ("" if graph else "_default")
        self.update(_fill(sparql(__file__, template), graph, triples))
        return created

    def drop_graph(self, graph: str | None) -> bool:
        if graph is None:
            self.update(sparql(__file__, "graph_delete_default"))
            return True
        if not self.has_graph(graph):
            return False
        self.update(_fill(sparql(__file__, "graph_delete"), graph, ""))
        return True

    def select(self, query: str) -> list[dict[str, Term]]:
        results = self._store.query(query)
        if not isinstance(results, ox.QuerySolutions):
            raise TypeError("not a SELECT query")
        names = [v.value for v in results.variables]
        return [
            {name: term(row[name]) for name in names if row[name] is not None} for row in results
        ]

    def ask(self, query: str) -> bool:
        return bool(self._store.query(query))

    def construct(self, query: str) -> list[str]:
        results = self._store.query(query)
        if not isinstance(results, ox.QueryTriples):
            raise TypeError("not a CONSTRUCT query")
        return [f"{t.subject} {t.predicate} {t.object} .\n" for t in results]

    def update(self, update: str, *, base_iri: str | None = None) -> None:
        try:
            self._store.update(update, base_iri=base_iri)
        except SyntaxError as exc:
            raise QuerySyntaxError(str(exc)) from None
        except PermissionError as exc:  # LOAD's socket, refused by the worker's sandbox
            raise Forbidden(f"this endpoint opens no network connections ({exc})") from None
        except OSError as exc:
            raise write_error(self.location, exc) from None
        except (RuntimeError, ValueError, TypeError) as exc:
            raise UsageError(f"the update failed: {exc}") from None

    def replace(
        self,
        deletes: Mapping[str, Iterable[str]],
        inserts: Mapping[str, list[str]],
        orphans: Mapping[str, Sequence[Iterable[str]]] | None = None,
    ) -> None:
        data = "".join(
            f"GRAPH <{g}> {{\n{''.join(lines)}}}\n" for g, lines in inserts.items() if lines
        )
        parts = replace_operations(deletes, f"INSERT DATA {{\n{data}}}" if data else "", orphans)
        if parts:
            self.update(" ;\n".join(parts))

    def existing_subjects(self, subjects: Iterable[str], graphs: Iterable[str]) -> set[str]:
        named = [ox.NamedNode(g) for g in graphs]
        found = set()
        for subject in subjects:
            node = _node(subject)
            if any(next(self._store.quads_for_pattern(node, None, None, g), None) for g in named):
                found.add(subject)
        return found

    def terms_in_use(self, terms: Iterable[str], graphs: Iterable[str]) -> set[str]:
        named = [ox.NamedNode(g) for g in graphs]
        found = set()
        for term in terms:
            node = ox.NamedNode(term)
            for graph in named:
                if next(self._store.quads_for_pattern(None, node, None, graph), None) or next(
                    self._store.quads_for_pattern(None, None, node, graph), None
                ):
                    found.add(term)
                    break
        return found

    def triples_of(self, subjects: Iterable[str], graph: str) -> list[tuple[str, str, str]]:
        named = ox.NamedNode(graph)
        return [
            (subject, str(quad.predicate), str(quad.object))
            for subject in subjects
            for quad in self._store.quads_for_pattern(_node(subject), None, None, named)
        ]

    def subjects_with(
        self, predicate: str, objects: Iterable[str], graph: str
    ) -> list[tuple[str, str]]:
        named, link = ox.NamedNode(graph), _node(predicate)
        return [
            (str(quad.subject), obj)
            for obj in objects
            for quad in self._store.quads_for_pattern(None, link, _node(obj), named)
        ]

    def add(self, inserts: Mapping[str, list[str]]) -> None:
        quads = "".join(
            f"{line[:-2]} <{graph}> .\n" for graph, lines in inserts.items() for line in lines
        )
        try:
            self._store.load(quads, format=ox.RdfFormat.N_QUADS)
        except OSError as exc:
            raise write_error(self.location, exc) from None

    def load_nquads(self, data: bytes, *, bulk: bool = False) -> None:
        """Add N-Quads, all or nothing. ``bulk``: with Oxigraph's bulk loader, which writes
        the index files of the data and adds them to the store in one step, without the
        memtables (a kill leaves all of it or none, up to a million quads a call)."""
        try:
            if bulk and len(data) < BULK_LOAD_MAX_BYTES:
                self._store.bulk_load(data, format=ox.RdfFormat.N_QUADS)
            else:
                self._store.load(data, format=ox.RdfFormat.N_QUADS)
        except OSError as exc:
            raise write_error(self.location, exc) from None

    def load_lines(self, lines: list[str], graph: str | None = None) -> None:
        """Add N-Triples lines (to a named graph, or to the default graph)."""
        target = ox.NamedNode(graph) if graph else ox.DefaultGraph()
        self._store.load("".join(lines), format=ox.RdfFormat.N_TRIPLES, to_graph=target)

    def dump(self, out: BinaryIO, fmt: str, graph: str | None = None) -> None:
        rdf_format = query_formats.rdf_format(fmt)
        prefixes = PREFIXES if rdf_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
        if graph is None and not rdf_format.supports_datasets:
            # Turtle and N-Triples hold one graph: write the union of all named graphs.
            results = self._store.query(sparql(__file__, "union"))
            assert isinstance(results, ox.QueryTriples)
            ox.serialize(results, out, rdf_format, prefixes=prefixes)
            return
        if graph is None:
            self._store.dump(out, format=rdf_format, prefixes=prefixes)
        else:
            self._store.dump(
                out, format=rdf_format, from_graph=ox.NamedNode(graph), prefixes=prefixes
            )

    def graphs(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))

    def quad_count(self, graph: str | None = None) -> int:
        if graph is None:
            return len(self._store)
        results = self._store.query(
            f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        )
        assert isinstance(results, ox.QuerySolutions)
        count = next(iter(results))["n"]
        assert isinstance(count, ox.Literal)
        return int(count.value)  # the engine's typed term, not its N-Triples text

    def flush(self) -> None:
        """Write what RocksDB holds in memory to disk (keeps memory flat on long ingests)."""
        try:
            self._store.flush()
        except OSError as exc:
            raise write_error(self.location, exc) from None

    def optimize(self) -> None:
        """Compact the storage, so that reads go through few, sorted files."""
        try:
            self._store.optimize()
        except OSError as exc:
            raise write_error(self.location, exc) from None

    def close(self) -> None:
        """Flush, then drop the engine's handle so that RocksDB releases the directory now."""
        handle, self._handle = self._handle, None
        if handle is not None and not self._read_only:
            try:
                handle.flush()
            except OSError as exc:
                raise write_error(self.location, exc) from None


def write_error(location: str, exc: OSError) -> StoreError:
    """Turn a failed write into a message that names the store and says what to do next."""
    text = str(exc)
    if exc.errno == errno.ENOSPC or "No space left" in text:
        cause = "the disk is full (no space left on device)"
    elif exc.errno == errno.EFBIG or "File too large" in text:
        cause = "a file of the store reached the file size limit (file too large)"
    elif exc.strerror:
        cause = exc.strerror
    else:
        cause = text.splitlines()[0][:200] if text else type(exc).__name__
    return StoreError(
        f"cannot write to the store {location}: {cause}. The batches committed before are "
        "kept; make room, then run the same command again to complete the store."
    )


class EmbeddedStore(_OxigraphStore):
    """An Oxigraph store in a directory."""

    def __init__(self, location: str, *, read_only: bool = False) -> None:
        path = Path(location)
        try:
            if read_only:
                store = ox.Store.read_only(str(path))
            else:
                path.mkdir(parents=True, exist_ok=True)
                store = ox.Store(str(path))
        except (OSError, RuntimeError) as exc:
            if "lock" in str(exc).lower():
                raise StoreLocked(
                    f"the store {path} is open in another fairdicom process (RocksDB LOCK); "
                    "stop that process or choose another --store"
                ) from None
            if any(sign in str(exc) for sign in oxigraph_answers.STALE):
                raise StaleView(f"the store {path} changed while opening: {exc}") from None
            raise StoreError(f"cannot open the store {path}: {exc}") from None
        super().__init__(store, str(path), read_only)


class MemoryStore(_OxigraphStore):
    """An in-memory Oxigraph store (one batch at a time, for mappings)."""

    def __init__(self) -> None:
        super().__init__(ox.Store(), ":memory:")


def term(node: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> Term:
    """Return the typed term of an engine's node (a quoted triple as its IRI text: none here)."""
    if isinstance(node, ox.NamedNode):
        return Iri(node.value)
    if isinstance(node, ox.BlankNode):
        return BlankNode(node.value)
    if isinstance(node, ox.Literal):
        return Literal(node.value, node.datatype.value, node.language or "")
    raise TypeError(f"RDF-star triples are not terms fairdicom reads: {node}")


def _fill(template: str, graph: str | None, data: str) -> str:
    """Put the graph IRI and the N-Triples data into an update template, in one pass."""
    values = {"GRAPH": f"<{graph}>" if graph else "", "DATA": data}
    return re.sub(r"\$(GRAPH|DATA)", lambda m: values[m.group(1)], template)


def _node(term: str) -> ox.NamedNode:
    """Return the engine's node for an IRI term in N-Triples form (``<iri>``)."""
    return ox.NamedNode(term[1:-1])


_SYNTAX_ERROR = re.compile(r"error at (\d+):(\d+): (.*)", re.DOTALL)


def query_form(text: str) -> str | tuple[int, int, str]:
    """Return the form of a SPARQL query (SELECT, CONSTRUCT, ASK, DESCRIBE), or
    (line, column, message) where it does not parse."""
    try:
        results = ox.Store().query(text)
    except SyntaxError as exc:
        match = _SYNTAX_ERROR.match(str(exc))
        if match is None:
            return 1, 1, str(exc)
        message = " ".join(match[3].split())
        if len(message) > 160:
            message = message[:157] + "..."
        return int(match[1]), int(match[2]), message
    if isinstance(results, ox.QueryTriples):
        return "CONSTRUCT" if re.search(r"\bCONSTRUCT\b", text, re.IGNORECASE) else "DESCRIBE"
    if isinstance(results, ox.QuerySolutions):
        return "SELECT"
    return "ASK"
