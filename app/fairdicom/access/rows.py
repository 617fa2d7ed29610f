"""Count the rows (or triples) of a serialised answer, for the audit log."""

from __future__ import annotations

import json
import re

from rdflib import Graph

LINE_FORMATS = ("text/tab-separated-values", "text/csv")
"""Result formats with a header line, then one row a line."""
RDF_PARSERS = {
    "text/turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/ld+json": "json-ld",
    "application/trig": "trig",
    "application/n-quads": "nquads",
}


def count_rows(body: bytes, media_type: str | None) -> int | None:
    """Return how many solutions or triples ``body`` holds (None: a page, not data)."""
    kind = (media_type or "").split(";")[0].strip().lower()
    text = body.decode("utf-8", "replace")
    if kind == "application/sparql-results+json":
        data = json.loads(text)
        return int("boolean" in data) if "boolean" in data else len(data["results"]["bindings"])
    if kind == "application/sparql-results+xml":
        if "<boolean>" in text:
            return 1
        return len(re.findall(r"<result[\s>]", text))
    if kind in LINE_FORMATS:
        lines = [line for line in text.splitlines() if line.strip()]
        return max(len(lines) - 1, 0)
    if kind == "application/n-triples":
        return sum(1 for line in text.splitlines() if line.strip() and not line.startswith("#"))
    if kind in RDF_PARSERS:
        graph = Graph()
        graph.parse(data=text, format=RDF_PARSERS[kind])
        return len(graph)
    return None
