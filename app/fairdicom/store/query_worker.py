"""The code that runs inside a query worker process: read the store, answer, serialise.

A worker answers one request at a time, read from a pipe, and sends back a :class:`Reply` or
a :class:`FairdicomError`. The store is opened read-only and reopened whenever the store's
generation changes, so each query sees the data as of its start. Results are consumed and
serialised here, in the thread that ran the query (pyoxigraph aborts otherwise).

Row cap: results are first written as SPARQL TSV (SELECT) or N-Triples (CONSTRUCT), where one
line is one row, into a sink that stops the engine once ``max_rows`` rows are in; the capped
text is then converted to the requested format by the engine's own parsers and serialisers.
"""

from __future__ import annotations

import contextlib
import io
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from fairdicom.errors import FairdicomError, Forbidden, QuerySyntaxError, StoreError, UsageError
from fairdicom.namespaces import PREFIXES
from fairdicom.store.query_formats import GRAPH, RDF_FORMATS, RESULT_FORMATS, SOLUTIONS, negotiate
from fairdicom.store.sandbox import forbid_network

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


@dataclass(frozen=True)
class QueryRequest:
    """Run one SPARQL query on the store and serialise its results."""

    store: str
    generation: str
    text: str
    accept: tuple[str, ...]
    max_rows: int
    union: bool = False
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    base_iri: str | None = None


@dataclass(frozen=True)
class GraphRequest:
    """Read one graph (None: the default graph): its content, or only whether it exists."""

    store: str
    generation: str
    graph: str | None
    accept: tuple[str, ...] = ()
    exists_only: bool = False


@dataclass(frozen=True)
class ParseRequest:
    """Parse an RDF document of one graph; answer with its N-Triples."""

    data: bytes
    media_type: str
    base_iri: str | None = None


@dataclass(frozen=True)
class Reply:
    """A serialised answer (``found`` is False for a graph that does not exist)."""

    body: bytes
    media_type: str
    form: str
    truncated: bool = False
    found: bool = True


Request = QueryRequest | GraphRequest | ParseRequest

RETRY_DELAYS = (0.0, 0.02, 0.1, 0.3)
"""Pauses before reading again when the store changed under a read (files compacted away)."""
STORE_TROUBLE = ("IO error", "Corruption", "No such file")


def _store_trouble(exc: Exception) -> bool:
    """Return whether an error says the store's files moved under a reader."""
    return isinstance(exc, StoreError) or any(s in str(exc) for s in STORE_TROUBLE)


class _Enough(Exception):
    """Raised by the sink to stop the engine once the row cap is reached."""


class _LineSink(io.RawIOBase):
    """Collect serialised output and stop the writer after ``limit`` lines (0: no limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.lines = 0
        self.full = False

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer) -> int:
        if self.full:
            raise _Enough
        chunk = bytes(b)
        self.data += chunk
        self.lines += chunk.count(b"\n")
        if self.limit and self.lines > self.limit:
            self.full = True
            raise _Enough
        return len(chunk)

    def head(self) -> bytes:
        """Return the first ``limit`` lines (all of them when the limit was not reached)."""
        if not self.full:
            return bytes(self.data)
        end = -1
        for _ in range(self.limit):
            end = self.data.index(b"\n", end + 1)
        return bytes(self.data[: end + 1])


def _capture(results: Any, fmt: Any, limit: int) -> tuple[bytes, bool]:
    sink = _LineSink(limit)
    with contextlib.suppress(_Enough):
        results.serialize(sink, format=fmt)
    return sink.head(), sink.full


def _graph_bytes(triples: Iterable[Any], media_type: str) -> bytes:
    fmt = RDF_FORMATS[media_type]
    prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
    return _bytes(ox.serialize(triples, format=fmt, prefixes=prefixes))


def _bytes(serialised: bytes | None) -> bytes:
    """Return what a serialiser gave when asked for bytes (it gives None only for a file)."""
    assert serialised is not None
    return serialised


def _iri(value: str) -> ox.NamedNode:
    try:
        return ox.NamedNode(value)
    except ValueError as exc:
        raise UsageError(f"{value!r} is not an IRI: {exc}") from None


class Worker:
    """Answer requests on the store, keeping one read-only handle per store generation."""

    def __init__(self, sandboxed: bool = False) -> None:
        self.sandboxed = sandboxed
        self._key: tuple[str, str] | None = None
        self._store: ox.Store | None = None

    def _open(self, path: str, generation: str, fresh: bool) -> ox.Store:
        if fresh or self._store is None or self._key != (path, generation):
            self._store = None
            try:
                self._store = ox.Store.read_only(path)
            except OSError as exc:
                raise StoreError(f"cannot open the store {path}: {exc}") from None
            self._key = (path, generation)
        return self._store

    def answer(self, request: Request) -> Reply | FairdicomError:
        """Answer one request; return the error instead of raising it."""
        try:
            return self._answer(request)
        except FairdicomError as exc:
            return exc
        except SyntaxError as exc:
            return QuerySyntaxError(str(exc))
        except PermissionError as exc:
            if self.sandboxed:
                return Forbidden(f"this endpoint opens no network connections ({exc})")
            return StoreError(f"the query could not be answered: {exc}")
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            if isinstance(exc, OSError) or _store_trouble(exc):
                return StoreError(f"the query could not be answered: {exc}")
            return UsageError(f"the query failed: {exc}")

    def _answer(self, request: Request) -> Reply:
        if isinstance(request, ParseRequest):
            return self._parse(request)
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                return self._read(request, fresh=attempt > 0)
            except (OSError, RuntimeError, StoreError) as exc:
                if delay is None or not _store_trouble(exc):
                    raise
            # A writer in another process compacted away files this view still named: look
            # again at the store as it is now.
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _read(self, request: QueryRequest | GraphRequest, fresh: bool) -> Reply:
        store = self._open(request.store, request.generation, fresh)
        if isinstance(request, GraphRequest):
            return self._graph(store, request)
        return self._query(store, request)

    def _query(self, store: ox.Store, request: QueryRequest) -> Reply:
        options: dict[str, Any] = {}
        if request.default_graphs is not None:
            options["default_graph"] = [_iri(g) for g in request.default_graphs]
        if request.named_graphs is not None:
            options["named_graphs"] = [_iri(g) for g in request.named_graphs]
        if request.union:
            options["use_default_graph_as_union"] = True
        results = store.query(request.text, base_iri=request.base_iri, **options)
        if isinstance(results, ox.QueryBoolean):
            media_type = negotiate(SOLUTIONS, request.accept)
            body = _bytes(results.serialize(format=RESULT_FORMATS[media_type]))
            return Reply(body, media_type, SOLUTIONS)
        if isinstance(results, ox.QuerySolutions):
            media_type = negotiate(SOLUTIONS, request.accept)
            limit = request.max_rows + 1 if request.max_rows > 0 else 0  # + the header line
            tsv, truncated = _capture(results, ox.QueryResultsFormat.TSV, limit)
            if media_type != "text/tab-separated-values":
                parsed = ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV)
                tsv = _bytes(parsed.serialize(format=RESULT_FORMATS[media_type]))
            return Reply(tsv, media_type, SOLUTIONS, truncated)
        media_type = negotiate(GRAPH, request.accept)
        limit = max(request.max_rows, 0)
        nt, truncated = _capture(results, ox.RdfFormat.N_TRIPLES, limit)
        if media_type != "application/n-triples":
            triples = (q.triple for q in ox.parse(nt, ox.RdfFormat.N_TRIPLES))
            nt = _graph_bytes(triples, media_type)
        return Reply(nt, media_type, GRAPH, truncated)

    def _graph(self, store: ox.Store, request: GraphRequest) -> Reply:
        name: ox.NamedNode | ox.DefaultGraph = ox.DefaultGraph()
        if request.graph is not None:
            name = _iri(request.graph)
            if not store.contains_named_graph(name):
                return Reply(b"", "", GRAPH, found=False)
        if request.exists_only:
            return Reply(b"", "", GRAPH)
        media_type = negotiate(GRAPH, request.accept)
        quads = store.quads_for_pattern(None, None, None, name)
        return Reply(_graph_bytes((q.triple for q in quads), media_type), media_type, GRAPH)

    def _parse(self, request: ParseRequest) -> Reply:
        fmt = ox.RdfFormat.from_media_type(request.media_type)
        if fmt is None:
            raise UsageError(f"{request.media_type} is not an RDF format fairdicom reads")
        try:
            quads = list(ox.parse(request.data, fmt, base_iri=request.base_iri))
        except SyntaxError as exc:
            raise UsageError(f"the {fmt.name} document does not parse: {exc}") from None
        if any(not isinstance(q.graph_name, ox.DefaultGraph) for q in quads):
            raise UsageError(
                f"a graph's content cannot hold named graphs; send {fmt.name} "
                "without GRAPH blocks, or Turtle / N-Triples"
            )
        body = _bytes(ox.serialize([q.triple for q in quads], format=ox.RdfFormat.N_TRIPLES))
        return Reply(body, "application/n-triples", GRAPH)


def serve(conn: Connection, sandbox: bool) -> None:
    """Answer requests from the parent process until it closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    worker = Worker(sandboxed=sandbox and forbid_network())
    with conn:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return
            conn.send(worker.answer(request))
