"""A remote store: a SPARQL 1.1 engine (Oxigraph server, Fuseki, Virtuoso...) behind the store
interface, over the SPARQL 1.1 Protocol, Update and Graph Store Protocol. Virtuoso, known by its
``Server`` header, gets its own variants where it departs from the standard
(:data:`VIRTUOSO`, :data:`VIRTUOSO_UPDATE`; docs/deployment.md).

Writes: each call is one update request, so it is all or nothing on engines that run one
request in one transaction (Oxigraph server does; Fuseki with TDB2 too; Virtuoso does not: it
keeps the operations done before one that fails), and it ends by replacing the store's
generation token (:mod:`fairdicom.store.remote_generation`). A batch of
the ingest (:meth:`RemoteStore.replace`) deletes every triple of its subjects before inserting
them again, so a batch sent twice (a retry after the connection broke) leaves the same triples;
N-Quads (:meth:`RemoteStore.load_nquads`) go as ``INSERT DATA`` too (fairdicom writes no blank
nodes, so sending them twice adds nothing), in requests of at most :data:`UPDATE_MAX_BYTES`.

Reads: the ingest's index lookups are SPARQL queries over ``VALUES`` of at most
:data:`LOOKUP_BATCH` terms (``FILTER EXISTS`` where only existence matters, which engines
answer with one index lookup per row); graphs and exports go through the Graph Store Protocol.
The engine's answers are parsed with the same library as the embedded store's, so both give
the same terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, BinaryIO, cast

import pyoxigraph as ox

from fairdicom.errors import StoreError, UsageError
from fairdicom.namespaces import PREFIXES
from fairdicom.rdf.terms import Term
from fairdicom.sparql_files import sparql
from fairdicom.store import query_formats, remote_answers
from fairdicom.store.base import GRAPH, STORE_DATASET, Answer, Dataset, negotiate
from fairdicom.store.oxigraph_answers import graph_bytes, iri, parse_document
from fairdicom.store.oxigraph_store import term
from fairdicom.store.remote_generation import bump
from fairdicom.store.replace_update import replace_operations

if TYPE_CHECKING:
    from fairdicom.store.remote_http import Response
    from fairdicom.store.remote_location import RemoteLocation

LOOKUP_BATCH = 256
"""Most terms in the VALUES of one lookup query (URL and form sizes stay small)."""
UPDATE_MAX_BYTES = 4 * 2**20
"""Largest ``INSERT DATA`` request of :meth:`RemoteStore.load_nquads`; more data goes in
several requests (each one idempotent). The request is held several times over while it is
built and sent (lines, operations, body), so this bounds the ingest's memory on a remote store:
with loads parsed whole and requests of 16 MiB, a 9,044-file ingest peaked at 287 MiB; streamed
in requests of 4 MiB, at 201 MiB (225 at 99,182 files; docs/performance.md)."""
INSERT_TRIPLES = 1000
"""Most triples in one ``INSERT DATA`` operation (a request holds several): Virtuoso's parser
runs out of memory on one of about 5,000 ("SPARQL compiler ... memory exhausted")."""
VIRTUOSO = frozenset({"remote_graphs", "remote_has_graph", "remote_count", "remote_union"})
"""Queries with a Virtuoso variant (``NAME_virtuoso.rq``): Virtuoso has no empty graphs, its
default graph is the union of all graphs, and it holds graphs of its own, left out."""
VIRTUOSO_UPDATE = "define sql:big-data-const 1\n"
"""What starts an update request to Virtuoso: its constants go to the database as data, not
compiled into SQL, which refuses an ``INSERT DATA`` of more than about 1,000 triples ("The
length of generated SQL text has exceeded 10000 lines of code") and, in 7.2.5, any
``xsd:time`` literal ("Cannot convert T13:15:24 to time")."""
JSON = "application/sparql-results+json"
NTRIPLES = "application/n-triples"


class RemoteStore:
    """A SPARQL 1.1 engine reached over HTTP, opened by :class:`RemoteLocation`."""

    def __init__(self, where: RemoteLocation, *, read_only: bool = False) -> None:
        self.where = where
        self.location = where.location
        self._read_only = read_only
        self._http = where.http()

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
        return remote_answers.answer(
            self._http, self.where.query_url, text, accept, dataset, base_iri, max_rows
        )

    def update(self, text: str, *, base_iri: str | None = None) -> None:
        # The engine's parser (Oxigraph's) takes BASE and PREFIX only at the start of a request,
        # so the text comes first and the generation's operations after it.
        text = text.rstrip()
        text = (text[:-1] if text.endswith(";") else text) + "\n"
        self._write([f"BASE <{base_iri}>\n{text}" if base_iri else text])

    def read_graph(self, graph: str | None, accept: Sequence[str]) -> Answer | None:
        media_type = negotiate(GRAPH, accept)
        data = self._graph_ntriples(graph)
        if data is None:
            return None
        if media_type != NTRIPLES:
            data = graph_bytes(
                (q.triple for q in ox.parse(data, ox.RdfFormat.N_TRIPLES)), media_type
            )
        return Answer(data, media_type, GRAPH)

    def has_graph(self, graph: str) -> bool:
        return self.ask(_values(self._sparql("remote_has_graph"), GRAPH=_iri(graph)))

    def load_graph(
        self,
        graph: str | None,
        data: bytes,
        media_type: str,
        *,
        base_iri: str | None = None,
        replace: bool = False,
    ) -> bool:
        triples = parse_document(data, media_type, graph or base_iri)
        created = graph is not None and not self.has_graph(graph)
        template = ("graph_put" if replace else "graph_post") + ("" if graph else "_default")
        # The template's DROP / CREATE / CLEAR, then the triples in operations of at most
        # INSERT_TRIPLES (Virtuoso refuses larger ones, and an empty INSERT DATA).
        parts = [_fill(op, graph, "") for op in _before_insert(sparql(__file__, template))]
        inserts = _insert_data({graph or "": triples.splitlines(keepends=True)})
        self._write([*parts, inserts] if inserts else parts)
        return created

    def drop_graph(self, graph: str | None) -> bool:
        if graph is None:
            self._write([sparql(__file__, "graph_delete_default")])
            return True
        if not self.has_graph(graph):
            return False
        self._write([_fill(sparql(__file__, "graph_delete"), graph, "")])
        return True

    # Reading ---------------------------------------------------------------------------------

    def select(self, query: str) -> list[dict[str, Term]]:
        results = self._results(query)
        if not isinstance(results, ox.QuerySolutions):
            raise TypeError("not a SELECT query")
        names = [v.value for v in results.variables]
        return [
            {name: term(row[name]) for name in names if row[name] is not None} for row in results
        ]

    def ask(self, query: str) -> bool:
        return bool(self._results(query))

    def construct(self, query: str) -> list[str]:
        with self._http.request(
            "POST", self.where.query_url, data={"query": query}, headers={"Accept": NTRIPLES}
        ) as response:
            data = response.content
        return [f"{t.subject} {t.predicate} {t.object} .\n" for t in _triples(data)]

    def graphs(self) -> list[str]:
        rows = self.select(self._sparql("remote_graphs"))
        return sorted(str(row["g"].value) for row in rows if "g" in row)

    def quad_count(self, graph: str | None = None) -> int:
        if graph is None:
            query = self._sparql("remote_count")
        else:
            query = sparql(__file__, "remote_count_graph").replace("$GRAPH", f"<{graph}>")
        row = self.select(query)[0]
        return int(row["n"].value)

    def dump(self, out: BinaryIO, fmt: str, graph: str | None = None) -> None:
        rdf_format = query_formats.rdf_format(fmt)
        prefixes = PREFIXES if rdf_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
        if graph is not None:
            ox.serialize(self._graph_triples(graph), out, rdf_format, prefixes=prefixes)
        elif not rdf_format.supports_datasets:
            # Turtle and N-Triples hold one graph: write the union of all named graphs.
            union = self.construct(self._sparql("remote_union"))
            ox.serialize(_triples("".join(union).encode()), out, rdf_format, prefixes=prefixes)
        else:
            ox.serialize(self._quads(), out, rdf_format, prefixes=prefixes)

    # Writing by the ingest --------------------------------------------------------------------

    def replace(
        self,
        deletes: Mapping[str, Iterable[str]],
        inserts: Mapping[str, list[str]],
        orphans: Mapping[str, Sequence[Iterable[str]]] | None = None,
    ) -> None:
        parts = replace_operations(deletes, _insert_data(inserts), orphans)
        if parts:
            self._write(parts)

    def existing_subjects(self, subjects: Iterable[str], graphs: Iterable[str]) -> set[str]:
        named = " ".join(f"<{g}>" for g in graphs)
        found: set[str] = set()
        if not named:
            return found
        for chunk in _chunks(subjects):
            query = _values(sparql(__file__, "remote_existing"), SUBJECTS=chunk, GRAPHS=named)
            found.update(str(row["s"]) for row in self._rows(query))
        return found

    def triples_of(self, subjects: Iterable[str], graph: str) -> list[tuple[str, str, str]]:
        triples = []
        for chunk in _chunks(subjects):
            query = _values(
                sparql(__file__, "remote_triples_of"), SUBJECTS=chunk, GRAPH=f"<{graph}>"
            )
            triples += [(str(r["s"]), str(r["p"]), str(r["o"])) for r in self._rows(query)]
        return triples

    def terms_in_use(self, terms: Iterable[str], graphs: Iterable[str]) -> set[str]:
        named = " ".join(f"<{g}>" for g in graphs)
        found: set[str] = set()
        if not named:
            return found
        for chunk in _chunks(f"<{t}>" for t in terms):
            query = _values(sparql(__file__, "remote_in_use"), TERMS=chunk, GRAPHS=named)
            found.update(str(row["t"])[1:-1] for row in self._rows(query))
        return found

    def subjects_with(
        self, predicate: str, objects: Iterable[str], graph: str
    ) -> list[tuple[str, str]]:
        pairs = []
        for chunk in _chunks(objects):
            query = _values(
                sparql(__file__, "remote_subjects_with"),
                OBJECTS=chunk,
                GRAPH=f"<{graph}>",
                PREDICATE=predicate,
            )
            pairs += [(str(row["s"]), str(row["o"])) for row in self._rows(query)]
        return pairs

    def add(self, inserts: Mapping[str, list[str]]) -> None:
        data = _insert_data(inserts)
        if data:
            self._write([data])

    def load_nquads(self, data: bytes, *, bulk: bool = False) -> None:
        """Add N-Quads as ``INSERT DATA``, one request per :data:`UPDATE_MAX_BYTES` of data,
        sent as the quads are parsed (``bulk`` changes nothing: the engine has no faster way
        through the protocol). Each request is idempotent: a load that stops half way (a
        broken connection, a line that does not parse) is completed by sending it again."""
        request: dict[str, list[str]] = {}
        size = 0
        try:
            for quad in ox.parse(data, ox.RdfFormat.N_QUADS):
                graph = quad.graph_name
                name = graph.value if isinstance(graph, ox.NamedNode) else ""
                line = f"{quad.subject} {quad.predicate} {quad.object} .\n"
                request.setdefault(name, []).append(line)
                size += len(line)
                if size >= UPDATE_MAX_BYTES:
                    self.add(request)
                    request, size = {}, 0
        except SyntaxError as exc:
            raise UsageError(f"the N-Quads do not parse: {exc}") from None
        self.add(request)

    def flush(self) -> None:
        """Do nothing: the engine keeps its own data."""

    def optimize(self) -> None:
        """Do nothing: the engine compacts its own storage."""

    def close(self) -> None:
        """Release the connections."""
        self._http.close()

    # Requests ------------------------------------------------------------------------------------

    def _virtuoso(self) -> bool:
        """Return whether the engine is Virtuoso (its ``Server`` header; asked once)."""
        if self._http.engine is None:
            self._results("ASK {}")
        return (self._http.engine or "").startswith("Virtuoso")

    def _sparql(self, name: str) -> str:
        """Return a query of ``queries/``, in Virtuoso's variant on Virtuoso (:data:`VIRTUOSO`)."""
        variant = name in VIRTUOSO and self._virtuoso()
        return sparql(__file__, f"{name}_virtuoso" if variant else name)

    def _write(self, parts: list[str]) -> None:
        """Send update operations as one request, the generation's new token last."""
        if self._read_only:
            raise StoreError(f"the store {self.location} was opened read-only; open it to write")
        body = " ;\n".join([*parts, bump()])
        if self._virtuoso():
            body = VIRTUOSO_UPDATE + body
        with self._http.request(
            "POST",
            self.where.update_url,
            data=body.encode(),
            headers={"Content-Type": "application/sparql-update; charset=utf-8"},
        ):
            pass

    def _results(self, query: str) -> ox.QuerySolutions | ox.QueryBoolean:
        """Run a SELECT or ASK query; return its parsed results."""
        with self._http.request(
            "POST", self.where.query_url, data={"query": query}, headers={"Accept": JSON}
        ) as response:
            data = response.content
        results = ox.parse_query_results(data, ox.QueryResultsFormat.JSON)
        assert not isinstance(results, ox.QueryTriples)
        return results

    def _rows(self, query: str) -> list[dict[str, ox.NamedNode | ox.BlankNode | ox.Literal]]:
        """Run a SELECT query; return its rows as the engine's terms (N-Triples by ``str``)."""
        results = self._results(query)
        assert isinstance(results, ox.QuerySolutions)
        names = [v.value for v in results.variables]
        return [{n: row[n] for n in names if row[n] is not None} for row in results]

    @contextmanager
    def _graph_answer(self, graph: str | None, stream: bool) -> Iterator[Response | None]:
        """Yield the engine's answer to a GET of a graph as N-Triples (None: no such graph)."""
        params = {"graph": graph} if graph is not None else {"default": ""}
        with self._http.request(
            "GET",
            self.where.graph_store_url,
            params=params,
            headers={"Accept": NTRIPLES},
            stream=stream,
            missing_ok=True,
        ) as response:
            yield None if response.status_code == 404 else response

    def _graph_ntriples(self, graph: str | None) -> bytes | None:
        """Return a graph's triples as N-Triples (None: the graph does not exist)."""
        with self._graph_answer(graph, stream=False) as response:
            return None if response is None else response.content

    def _graph_triples(self, graph: str | None) -> Iterator[ox.Triple]:
        """Yield a graph's triples as the engine sends them, parsed as they arrive (a dump of a
        large store's graph is held neither whole nor twice); none when it does not exist."""
        with self._graph_answer(graph, stream=True) as response:
            if response is None:
                return
            response.raw.decode_content = True  # read as it arrives, decoded when compressed
            body = cast("IO[bytes]", response.raw)
            for quad in ox.parse(body, ox.RdfFormat.N_TRIPLES):
                yield quad.triple

    def _quads(self) -> Iterator[ox.Quad]:
        """Yield every quad of the store, graph by graph (the default graph first)."""
        # Virtuoso's default graph is the union of its graphs: it has no triples of its own.
        for graph in ([] if self._virtuoso() else [None]) + [*self.graphs()]:
            name: ox.NamedNode | ox.DefaultGraph = (
                ox.DefaultGraph() if graph is None else ox.NamedNode(graph)
            )
            for triple in self._graph_triples(graph):
                yield ox.Quad(triple.subject, triple.predicate, triple.object, name)


def _triples(data: bytes) -> Iterator[ox.Triple]:
    """Yield the triples of N-Triples data."""
    return (quad.triple for quad in ox.parse(data, ox.RdfFormat.N_TRIPLES))


def _insert_data(inserts: Mapping[str, list[str]]) -> str:
    """Return ``INSERT DATA`` operations of N-Triples lines per graph ("" graph: the default
    graph), at most :data:`INSERT_TRIPLES` triples each."""
    operations = []
    for g, lines in inserts.items():
        for start in range(0, len(lines), INSERT_TRIPLES):
            run = "".join(lines[start : start + INSERT_TRIPLES])
            block = f"GRAPH <{g}> {{\n{run}}}" if g else run
            operations.append(f"INSERT DATA {{\n{block}}}")
    return " ;\n".join(operations)


def _before_insert(template: str) -> list[str]:
    """Return the operations of a Graph Store template before its last, ``INSERT DATA``."""
    text = "".join(line for line in template.splitlines(keepends=True) if not line.startswith("#"))
    return [operation.strip() for operation in text.split(";\n")[:-1]]


def _chunks(terms: Iterable[str]) -> Iterator[str]:
    """Yield the terms as space-separated runs of at most :data:`LOOKUP_BATCH`."""
    run: list[str] = []
    for item in terms:
        run.append(item)
        if len(run) == LOOKUP_BATCH:
            yield " ".join(run)
            run = []
    if run:
        yield " ".join(run)


def _values(template: str, **values: str) -> str:
    """Fill a query template's ``$NAME`` placeholders in one pass."""
    return re.sub(r"\$([A-Z]+)", lambda m: values[m.group(1)], template)


def _iri(value: str) -> str:
    """Return an IRI as a SPARQL term, after checking it is one (400 otherwise)."""
    return f"<{iri(value).value}>"


def _fill(template: str, graph: str | None, data: str) -> str:
    """Put the graph IRI and the N-Triples data into an update template, in one pass."""
    return _values(template, GRAPH=_iri(graph) if graph else "", DATA=data)
