"""Answers of the embedded store to the SPARQL endpoint: queries and graphs, serialised.

Results are consumed and serialised here, in the thread that ran the query (pyoxigraph aborts
otherwise). Row cap: results are first written as SPARQL TSV (SELECT) or N-Triples (CONSTRUCT),
where one line is one row, into a sink that stops the engine once ``max_rows`` rows are in; the
capped text is then converted to the requested format by the engine's own parsers and writers.
The engine's exceptions become fairdicom's errors here, so that no caller sees them.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pyoxigraph as ox

from fairdicom.errors import Forbidden, QuerySyntaxError, StoreError, UsageError
from fairdicom.namespaces import PREFIXES
from fairdicom.store.base import GRAPH, SOLUTIONS, Answer, Dataset, StaleView, negotiate
from fairdicom.store.query_formats import RDF_FORMATS, RESULT_FORMATS

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

T = TypeVar("T")
STALE = ("IO error", "Corruption", "No such file")
"""What the engine says when a writer in another process compacted away files a view named."""


def translated(location: str, action: Callable[[], T]) -> T:
    """Run ``action`` on the engine; raise the engine's errors as fairdicom's."""
    try:
        return action()
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from None
    except PermissionError as exc:  # a socket refused by the worker's sandbox
        raise Forbidden(f"this endpoint opens no network connections ({exc})") from None
    except (OSError, RuntimeError) as exc:
        if any(sign in str(exc) for sign in STALE):
            raise StaleView(f"the store {location} changed under a reader: {exc}") from None
        if isinstance(exc, OSError):
            raise StoreError(f"the store {location} could not be read: {exc}") from None
        raise UsageError(f"the query failed: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise UsageError(f"the query failed: {exc}") from None


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


def _bytes(serialised: bytes | None) -> bytes:
    """Return what a serialiser gave when asked for bytes (it gives None only for a file)."""
    assert serialised is not None
    return serialised


def graph_bytes(triples: Iterable[ox.Triple], media_type: str) -> bytes:
    """Serialise triples in an RDF format, with the project's prefixes where it has them."""
    fmt = RDF_FORMATS[media_type]
    prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
    return _bytes(ox.serialize(triples, format=fmt, prefixes=prefixes))


def iri(value: str) -> ox.NamedNode:
    """Return the engine's node for an IRI (400 when it is not one)."""
    try:
        return ox.NamedNode(value)
    except ValueError as exc:
        raise UsageError(f"{value!r} is not an IRI: {exc}") from None


def answer(
    store: ox.Store,
    text: str,
    accept: Sequence[str],
    dataset: Dataset,
    base_iri: str | None,
    max_rows: int,
) -> Answer:
    """Run a query and serialise its results in the first accepted format of its form."""
    options: dict[str, Any] = {}
    if dataset.default_graphs is not None:
        options["default_graph"] = [iri(g) for g in dataset.default_graphs]
    if dataset.named_graphs is not None:
        options["named_graphs"] = [iri(g) for g in dataset.named_graphs]
    if dataset.union:
        options["use_default_graph_as_union"] = True
    results = store.query(text, base_iri=base_iri, **options)
    if isinstance(results, ox.QueryBoolean):
        media_type = negotiate(SOLUTIONS, accept)
        body = _bytes(results.serialize(format=RESULT_FORMATS[media_type]))
        return Answer(body, media_type, SOLUTIONS)
    if isinstance(results, ox.QuerySolutions):
        media_type = negotiate(SOLUTIONS, accept)
        limit = max_rows + 1 if max_rows > 0 else 0  # + the header line
        tsv, truncated = _capture(results, ox.QueryResultsFormat.TSV, limit)
        if media_type != "text/tab-separated-values":
            parsed = ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV)
            tsv = _bytes(parsed.serialize(format=RESULT_FORMATS[media_type]))
        return Answer(tsv, media_type, SOLUTIONS, truncated)
    media_type = negotiate(GRAPH, accept)
    nt, truncated = _capture(results, ox.RdfFormat.N_TRIPLES, max(max_rows, 0))
    if media_type != "application/n-triples":
        nt = graph_bytes((q.triple for q in ox.parse(nt, ox.RdfFormat.N_TRIPLES)), media_type)
    return Answer(nt, media_type, GRAPH, truncated)


def read_graph(store: ox.Store, graph: str | None, accept: Sequence[str]) -> Answer | None:
    """Serialise one graph (None: the default graph); None when the named graph is missing."""
    name: ox.NamedNode | ox.DefaultGraph = ox.DefaultGraph()
    if graph is not None:
        name = iri(graph)
        if not store.contains_named_graph(name):
            return None
    media_type = negotiate(GRAPH, accept)
    quads = store.quads_for_pattern(None, None, None, name)
    return Answer(graph_bytes((q.triple for q in quads), media_type), media_type, GRAPH)


def parse_document(data: bytes, media_type: str, base_iri: str | None) -> str:
    """Parse an RDF document of one graph; return its triples as N-Triples text."""
    fmt = ox.RdfFormat.from_media_type(media_type)
    if fmt is None:
        raise UsageError(f"{media_type} is not an RDF format fairdicom reads")
    try:
        quads = list(ox.parse(data, fmt, base_iri=base_iri))
    except SyntaxError as exc:
        raise UsageError(f"the {fmt.name} document does not parse: {exc}") from None
    if any(not isinstance(q.graph_name, ox.DefaultGraph) for q in quads):
        raise UsageError(
            f"a graph's content cannot hold named graphs; send {fmt.name} "
            "without GRAPH blocks, or Turtle / N-Triples"
        )
    return _bytes(ox.serialize([q.triple for q in quads], format=ox.RdfFormat.N_TRIPLES)).decode()
