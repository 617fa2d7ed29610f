"""Validation reads a batch's N-Triples exactly as rdflib's parser does (fairdicom.rdf.validation
builds the data graph itself, each distinct term read once, for speed)."""

from __future__ import annotations

import rdflib
from fairdicom.rdf import validation
from fairdicom.rdf.validation import validate_curated
from rdflib.compare import to_isomorphic

ID = "http://localhost:8000/id/"
FD = "https://w3id.org/fairdicom/ontology#"
XSD = "http://www.w3.org/2001/XMLSchema#"

TRICKY = f"""\
<{ID}series/2.25.1> <{FD}description> "tab\\there \\"quoted\\" back\\\\slash \\u00E9\\U0001F600 ." .
<{ID}series/2.25.1> <{FD}note> "line one\\nline two" .
<{ID}series/2.25.1> <{FD}label> "Knie rechts"@de-DE .
<{ID}series/2.25.1> <{FD}label> "knee"@en .
<{ID}series/2.25.1> <{FD}count> "007"^^<{XSD}integer> .
<{ID}series/2.25.1> <{FD}text> "explicit"^^<{XSD}string> .
<{ID}series/2.25.1> <{FD}text> "plain" .
<{ID}series/2.25.1> <{FD}equipment> _:device .
_:device <{FD}model> "X 1" .
_:device <{FD}same> _:device .
# a comment line, and an empty line

<{ID}series/2.25.1> <{FD}iri> <{ID}item/\\u0041b> .
"""


def rdflib_graph(text: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=text, format="nt")


def test_the_data_graph_is_the_graph_rdflib_reads() -> None:
    ours = validation._graph_of(TRICKY)
    assert len(ours) == 11
    assert to_isomorphic(ours) == to_isomorphic(rdflib_graph(TRICKY))


def test_text_the_fast_reader_cannot_split_is_read_by_rdflib() -> None:
    spaced = f"<{ID}a>  <{FD}b>\t<{ID}c> .  # two spaces, a tab and a comment\n"
    assert to_isomorphic(validation._graph_of(spaced)) == to_isomorphic(rdflib_graph(spaced))


def test_a_failing_series_is_found_in_the_text() -> None:
    series = f"{ID}series/2.25.2"
    text = f"<{series}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{FD}Series> .\n"
    result = validate_curated(text)
    assert not result.conforms
    assert result.failing_series == {series}
