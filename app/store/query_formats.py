"""Result formats of the SPARQL endpoint and content negotiation between them.

Pure Python (no engine import), so that the query service can negotiate before it sends a
query to a worker process, and the worker can negotiate once it knows the query form.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.errors import NotAcceptable

SOLUTIONS = "solutions"
"""The form of SELECT and ASK queries: SPARQL query results."""
GRAPH = "graph"
"""The form of CONSTRUCT and DESCRIBE queries (and Graph Store reads): an RDF graph."""

RESULT_TYPES: dict[str, tuple[str, ...]] = {
    "application/sparql-results+json": ("json", "srj", "application/json"),
    "application/sparql-results+xml": ("xml", "srx", "application/xml", "text/xml"),
    "text/csv": ("csv",),
    "text/tab-separated-values": ("tsv",),
}
"""Media types of SPARQL query results, best first, with the short names that select them."""

GRAPH_TYPES: dict[str, tuple[str, ...]] = {
    "text/turtle": ("turtle", "ttl", "application/x-turtle"),
    "application/n-triples": ("nt", "ntriples", "n-triples", "text/plain"),
    "application/rdf+xml": ("rdfxml", "rdf", "xml", "application/xml", "text/xml"),
    "application/ld+json": ("jsonld", "json-ld", "json", "application/json"),
    "application/n-quads": ("nquads", "nq", "n-quads"),
    "application/trig": ("trig",),
}
"""Media types of RDF graphs, best first, with the short names that select them."""


def _table(form: str) -> dict[str, tuple[str, ...]]:
    return GRAPH_TYPES if form == GRAPH else RESULT_TYPES


def _normal(entry: str) -> str:
    return entry.split(";", 1)[0].strip().lower()


def pick(form: str, accept: Sequence[str]) -> str | None:
    """Return the first media type of ``accept`` that fits the query form, or None."""
    table = _table(form)
    for entry in [_normal(a) for a in accept] or ["*/*"]:
        if entry in ("", "*", "*/*"):
            return next(iter(table))
        if entry.endswith("/*"):
            major = entry[:-1]
            found = next((t for t in table if t.startswith(major)), None)
            if found:
                return found
            continue
        for media_type, names in table.items():
            if entry == media_type or entry in names:
                return media_type
    return None


def negotiate(form: str, accept: Sequence[str]) -> str:
    """Return the media type to answer with, or raise NotAcceptable naming the choices."""
    chosen = pick(form, accept)
    if chosen is None:
        what = "an RDF graph" if form == GRAPH else "SPARQL query results"
        raise NotAcceptable(
            f"this query returns {what}; none of {', '.join(accept) or '(nothing)'} fits. "
            f"Accept one of: {', '.join(_table(form))}"
        )
    return chosen
