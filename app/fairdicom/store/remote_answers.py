"""Answers of a remote store to the SPARQL endpoint: the engine's results, capped and converted.

The query goes to the engine as the SPARQL 1.1 Protocol says (POST, form-encoded, with
``default-graph-uri`` / ``named-graph-uri``; the union default graph with Oxigraph server's
``union-default-graph`` parameter, which other engines ignore: configure theirs, see
docs/deployment.md). The engine is asked for SPARQL TSV (SELECT, and ASK on Oxigraph) or
N-Triples (CONSTRUCT, DESCRIBE), where one line is one row, read as a stream (SPARQL JSON,
read whole, from an engine whose TSV is not SPARQL 1.1's: Virtuoso's): once
``max_rows`` rows are in, the connection is closed (the engine stops sending) and the answer is
marked truncated, as the embedded store does. The engine's bytes are given as they are when
the client asked for that format, else converted by the same parsers and writers as the
embedded store's answers (:mod:`fairdicom.store.oxigraph_answers`), so both stores answer
alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyoxigraph as ox

from fairdicom.errors import StoreError
from fairdicom.store.base import GRAPH, SOLUTIONS, Answer, Dataset, negotiate
from fairdicom.store.oxigraph_answers import graph_bytes
from fairdicom.store.oxigraph_store import query_form
from fairdicom.store.query_formats import RESULT_FORMATS
from fairdicom.store.remote_http import SparqlHttp

ASKED = (
    "text/tab-separated-values, application/n-triples;q=0.9, application/sparql-results+json;q=0.8"
)
"""What the engine is asked for: line-based formats first (one row a line)."""
JSON = "application/sparql-results+json"
CHUNK = 64 * 1024
"""Bytes read from the engine at a time."""
EMPTY_GRAPH = "urn:x-fairdicom:no-graph"
"""A graph no store holds: names an empty default graph or no named graphs over the protocol,
which has no other way to say "none"."""


def protocol_fields(
    text: str, dataset: Dataset, base_iri: str | None
) -> dict[str, str | list[str]]:
    """Return the form fields of a query: its text and its dataset."""
    fields: dict[str, str | list[str]] = {
        "query": f"BASE <{base_iri}>\n{text}" if base_iri else text
    }
    if dataset.default_graphs is not None:
        fields["default-graph-uri"] = list(dataset.default_graphs) or [EMPTY_GRAPH]
    if dataset.named_graphs is not None:
        fields["named-graph-uri"] = list(dataset.named_graphs) or [EMPTY_GRAPH]
    if dataset.union and dataset.default_graphs is None:
        fields["union-default-graph"] = ""
    return fields


def answer(
    http: SparqlHttp,
    url: str,
    text: str,
    accept: Sequence[str],
    dataset: Dataset,
    base_iri: str | None,
    max_rows: int,
) -> Answer:
    """Run a query on the engine; answer in the first accepted format of its form."""
    fields = protocol_fields(text, dataset, base_iri)
    asked = ASKED if http.standard_tsv else _asked_without_tsv(text)
    with http.request("POST", url, data=fields, headers={"Accept": asked}, stream=True) as response:
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind == "text/tab-separated-values":
            body, truncated = _lines(response.iter_lines(CHUNK), max_rows + 1 if max_rows else 0)
            if body.startswith(b'"'):  # Virtuoso's head: "name", not ?name
                http.standard_tsv = False
                return answer(http, url, text, accept, dataset, base_iri, max_rows)
            if body.count(b"\n") <= 1 and body.strip() in (b"true", b"false"):  # Oxigraph's ASK
                return _boolean(body.strip() == b"true", accept)
            return _solutions(body, truncated, accept)
        if kind == "application/n-triples":
            body, truncated = _lines(response.iter_lines(CHUNK), max(max_rows, 0))
            return _graph(body, truncated, accept)
        if kind == JSON:
            parsed = ox.parse_query_results(response.content, ox.QueryResultsFormat.JSON)
            if isinstance(parsed, ox.QueryBoolean):
                return _boolean(bool(parsed), accept)
            tsv = _serialised(parsed, ox.QueryResultsFormat.TSV)
            body, truncated = _lines(tsv.splitlines(), max_rows + 1 if max_rows else 0)
            return _solutions(body, truncated, accept)
    raise StoreError(
        f"the SPARQL store at {url} answered in {kind or 'no declared format'}; fairdicom reads "
        "SPARQL TSV, SPARQL JSON and N-Triples from an engine"
    )


def _asked_without_tsv(text: str) -> str:
    """Return what an engine whose TSV is not SPARQL 1.1's (Virtuoso quotes IRIs and names) is
    asked for: N-Triples for a graph, else SPARQL JSON (it answers any query in any format)."""
    return "application/n-triples" if query_form(text) in ("CONSTRUCT", "DESCRIBE") else JSON


def _lines(lines: Iterable[bytes], limit: int) -> tuple[bytes, bool]:
    """Return the first ``limit`` lines (0: all), each ended by a newline, and whether more
    were there."""
    kept = bytearray()
    for count, line in enumerate(lines):
        if limit and count == limit:
            return bytes(kept), True
        kept += line + b"\n"
    return bytes(kept), False


def _serialised(results: ox.QuerySolutions | ox.QueryBoolean, fmt: ox.QueryResultsFormat) -> bytes:
    """Return results written in a results format."""
    data = results.serialize(format=fmt)
    assert data is not None
    return data


def _boolean(value: bool, accept: Sequence[str]) -> Answer:
    media_type = negotiate(SOLUTIONS, accept)
    text = b'{"head": {}, "boolean": %s}' % (b"true" if value else b"false")
    parsed = ox.parse_query_results(text, ox.QueryResultsFormat.JSON)
    return Answer(_serialised(parsed, RESULT_FORMATS[media_type]), media_type, SOLUTIONS)


def _solutions(tsv: bytes, truncated: bool, accept: Sequence[str]) -> Answer:
    media_type = negotiate(SOLUTIONS, accept)
    if media_type != "text/tab-separated-values":
        parsed = ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV)
        tsv = _serialised(parsed, RESULT_FORMATS[media_type])
    return Answer(tsv, media_type, SOLUTIONS, truncated)


def _graph(nt: bytes, truncated: bool, accept: Sequence[str]) -> Answer:
    media_type = negotiate(GRAPH, accept)
    if media_type != "application/n-triples":
        nt = graph_bytes((q.triple for q in ox.parse(nt, ox.RdfFormat.N_TRIPLES)), media_type)
    return Answer(nt, media_type, GRAPH, truncated)
