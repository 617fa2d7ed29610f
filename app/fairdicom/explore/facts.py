"""Read the answer of the facts query (``queries/facts.rq``, as SPARQL TSV) row by row.

Each row is one kind of fact and one value, with the subjects that have it: a few thousand rows
for a hundred thousand instances, where one row per fact made tens of thousands. The value is
turned into a SPARQL JSON term (``type``, ``value``, ``datatype``, ``xml:lang``), the form
:func:`fairdicom.explore.counts.literal_value` reads; the subjects' IRIs hold no whitespace
(RFC 3987), so the engine joins them with spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fairdicom.errors import StoreError
from fairdicom.namespaces import XSD
from fairdicom.rdf.terms import LANG_STRING, XSD_STRING, BlankNode, Iri, TermSyntaxError, parse_term

COLUMNS = ["?k", "?g", "?v", "?of"]
"""The variables of the facts query, in the order the engine writes them."""
_BARE = (
    (re.compile(r"[+-]?[0-9]+"), XSD + "integer"),
    (re.compile(r"[+-]?[0-9]*\.[0-9]+"), XSD + "decimal"),
    (re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+"), XSD + "double"),
    (re.compile(r"true|false"), XSD + "boolean"),
)
"""Literals SPARQL TSV writes without quotes (Turtle's short forms), with their datatypes."""


@dataclass(frozen=True)
class FactRow:
    """One value of one kind of fact, and the subjects that have it."""

    kind: str
    graph: str
    """The curated graph (``study`` rows only; else empty)."""
    value: dict[str, str] | None
    """The value as a SPARQL JSON term (None: the row has none)."""
    subjects: list[str]


def binding(text: str) -> dict[str, str] | None:
    """Return a term of SPARQL TSV as a SPARQL JSON term (None: unbound)."""
    if not text:
        return None
    if "\\" not in text:  # nothing escaped: the common case, read without the full grammar
        if text[0] == "<" and text[-1] == ">":
            return {"type": "uri", "value": text[1:-1]}
        if text[0] == '"' and text[-1] == '"' and text.count('"') == 2:
            return {"type": "literal", "value": text[1:-1]}
    if text[0] not in '<"_':
        for pattern, datatype in _BARE:
            if pattern.fullmatch(text):
                return {"type": "literal", "value": text, "datatype": datatype}
        raise StoreError(f"the store answered a term the explorer cannot read: {text[:40]!r}")
    try:
        term = parse_term(text)
    except TermSyntaxError as exc:
        raise StoreError(f"the store answered a term the explorer cannot read: {exc}") from None
    if isinstance(term, Iri):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    if term.datatype == LANG_STRING:
        return {"type": "literal", "value": term.value, "xml:lang": term.language}
    if term.datatype == XSD_STRING:
        return {"type": "literal", "value": term.value}
    return {"type": "literal", "value": term.value, "datatype": term.datatype}


def _text(term: str) -> str:
    """Return the text of a plain literal of SPARQL TSV (quick when nothing is escaped)."""
    if len(term) >= 2 and term[0] == term[-1] == '"' and "\\" not in term:
        return term[1:-1]
    found = binding(term)
    return found["value"] if found else ""


def read_facts(body: bytes) -> Iterator[FactRow]:
    """Yield the rows of the facts query's SPARQL TSV answer."""
    lines = body.decode("utf-8").split("\n")
    if lines[0].rstrip("\r").split("\t") != COLUMNS:
        raise StoreError(
            f"the store answered the explorer's facts with the columns {lines[0][:80]!r}, not "
            f"{' '.join(COLUMNS)}: check that the store speaks SPARQL 1.1 TSV"
        )
    graphs: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        kind, graph, value, subjects = line.rstrip("\r").split("\t")
        if graph not in graphs:
            named = binding(graph)
            graphs[graph] = named["value"] if named and named["type"] == "uri" else ""
        yield FactRow(_text(kind), graphs[graph], binding(value), _text(subjects).split())
