"""The one N-Triples term parser (fairdicom.rdf.terms): a table of terms, broken terms, and
agreement with the engine's writer (pyoxigraph) and rdflib's N-Triples parser."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import rdflib
from fairdicom.rdf.terms import (
    LANG_STRING,
    XSD_STRING,
    BlankNode,
    Iri,
    Literal,
    Term,
    TermSyntaxError,
    integer,
    iris_in,
    lexical,
    literal,
    parse_term,
)

XSD = "http://www.w3.org/2001/XMLSchema#"


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("<http://example.org/a>", Iri("http://example.org/a")),
        ("<http://example.org/müller/山田>", Iri("http://example.org/müller/山田")),
        ("<http://example.org/m\\u00FCller>", Iri("http://example.org/müller")),
        ("_:b0", BlankNode("b0")),
        ('""', Literal("")),
        ('"Müller 山田"', Literal("Müller 山田")),
        ('"M\\u00FCller \\u5C71\\u7530"', Literal("Müller 山田")),
        ('"\\U0001F600"', Literal("\U0001f600")),
        ('"\\uD83D\\uDE00"', Literal("\U0001f600")),  # a UTF-16 pair, as some writers escape
        ('"t\\tb\\bn\\nr\\rf\\fq\\"a\\\'s\\\\"', Literal("t\tb\bn\nr\rf\fq\"a's\\")),
        ('"\\u0000\\u001F"', Literal("\x00\x1f")),
        ('"a\\"^^<x> b"', Literal('a"^^<x> b')),  # what a split on '"^^<' gets wrong
        ('"C:\\\\\\\\path"', Literal("C:\\\\path")),
        ('"e@mail"', Literal("e@mail")),
        ('"12"^^<http://www.w3.org/2001/XMLSchema#integer>', Literal("12", XSD + "integer")),
        (
            '"063Y"^^<https://w3id.org/fairdicom/vr#AS>',
            Literal("063Y", "https://w3id.org/fairdicom/vr#AS"),
        ),
        ('"x"^^<http://www.w3.org/2001/XMLSchema#string>', Literal("x")),
        ('"Bonjour"@fr', Literal("Bonjour", LANG_STRING, "fr")),
        ('"colour"@en-GB', Literal("colour", LANG_STRING, "en-gb")),
        ('"山田"@ja-Jpan-JP', Literal("山田", LANG_STRING, "ja-jpan-jp")),
    ],
)
def test_terms(text: str, term: Term) -> None:
    assert parse_term(text) == term


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain",
        '"unterminated',
        '"raw\nnewline"',
        '"bad \\q escape"',
        '"short \\u12 escape"',
        '"\\uD800"',  # half of a surrogate pair
        '"\\U00110000"',  # beyond U+10FFFF
        '"a" trailing',
        ' "a"',
        '"a"b"',
        '"a"^^<no end',
        '"a"@',
        '"a"@-en',
        "<has space>",
        "<has<angle>",
        "<unterminated",
        "_:",
        "_:ends.",
    ],
)
def test_broken_terms_are_refused(text: str) -> None:
    with pytest.raises(TermSyntaxError):
        parse_term(text)


def test_a_long_broken_literal_is_refused_without_backtracking() -> None:
    """The patterns are unrolled loops: a long literal without its closing quote fails in linear
    time (a nested quantifier would take longer than the test suite)."""
    with pytest.raises(TermSyntaxError):
        parse_term('"' + "a\\n" * 200_000)


TEXTS = [
    "Müller 山田",
    'quote " and \\ backslash',
    "new\nline, carriage\rreturn, tab\t",
    "".join(chr(c) for c in range(0x20)) + "\x7f",
    "\U0001f600 \u2028 \ufeff",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("datatype", ["", XSD + "string", XSD + "decimal"])
def test_what_fairdicom_writes_parses_back(text: str, datatype: str) -> None:
    assert parse_term(literal(text, datatype)) == Literal(text, datatype or XSD_STRING)


@pytest.mark.parametrize("text", TEXTS)
def test_what_the_engine_writes_parses_back(text: str) -> None:
    """pyoxigraph's own N-Triples form of a term (what the store hands back) is read exactly."""
    assert parse_term(str(ox.Literal(text))) == Literal(text)
    tagged = ox.Literal(text, language="en-GB")
    assert parse_term(str(tagged)) == Literal(text, LANG_STRING, "en-gb")
    typed = ox.Literal(text, datatype=ox.NamedNode("https://example.org/dt#t"))
    assert parse_term(str(typed)) == Literal(text, "https://example.org/dt#t")


@pytest.mark.parametrize(
    "text",
    [
        '"Müller 山田"',
        '"M\\u00FCller\\t\\U0001F600 \\"q\\""',
        '"x"@en-gb',
        '"5"^^<http://www.w3.org/2001/XMLSchema#integer>',
        "<http://example.org/m\\u00FCller>",
    ],
)
def test_agrees_with_rdflib(text: str) -> None:
    graph = rdflib.Graph().parse(data=f"<urn:s> <urn:p> {text} .\n", format="nt")
    (obj,) = graph.objects()
    term = parse_term(text)
    assert term.value == str(obj)
    if isinstance(obj, rdflib.Literal):
        assert isinstance(term, Literal)
        assert term.language == (obj.language or "")
        assert term.datatype == str(obj.datatype or (LANG_STRING if obj.language else XSD_STRING))


def test_values_and_integers() -> None:
    assert lexical("<http://example.org/a>") == "http://example.org/a"
    assert lexical('"Müller 山田"@de') == "Müller 山田"
    assert integer(f'"42"^^<{XSD}integer>') == 42
    # Terms the store already hands over typed pass through.
    assert lexical(Iri("http://example.org/a")) == "http://example.org/a"
    assert integer(Literal("7", XSD + "integer")) == 7
    with pytest.raises(TermSyntaxError):
        integer("<http://example.org/a>")
    with pytest.raises(TermSyntaxError):
        integer('"4.2"')


def test_the_iris_of_a_line_are_its_terms_not_text_inside_its_literals() -> None:
    line = (
        '<http://x/s> <http://x/p> "T1 <fs> \\"<a:b>\\""^^<http://x/dt> <http://x/g> .\n'
        "<http://x/\\u00e9> <http://x/q> <http://x/o> ."
    )
    first, second = line.split("\n")
    assert iris_in(first) == ["http://x/s", "http://x/p", "http://x/g"]
    assert iris_in(second) == ["http://x/é", "http://x/q", "http://x/o"]
