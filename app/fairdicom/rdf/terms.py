"""RDF terms as N-Triples text: write them (the form fairdicom hands to the store in bulk) and
read them back (the form the store answers in), with one parser for every reader.

The parser follows the N-Triples grammar (RDF 1.1): IRIs (``<...>``, ``\\u`` escapes allowed),
blank nodes (``_:label``) and literals with the escapes ``\\t \\b \\n \\r \\f \\" \\' \\\\``,
``\\uXXXX`` and ``\\UXXXXXXXX``, and a datatype (``^^<iri>``) or a language tag (``@en-GB``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fairdicom.namespaces import RDF, XSD

_ESCAPES = str.maketrans(
    {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1f": "\\u001F"}
)
OBJECT_SEPARATOR = "\x1f"
"""Joins several objects of one predicate (sequence items); never inside a written term."""
XSD_STRING = XSD + "string"
LANG_STRING = RDF + "langString"


def iri(value: str) -> str:
    """Return an IRI term."""
    return f"<{value}>"


def literal(text: str, datatype: str = "", language: str = "") -> str:
    """Return a literal term; an empty or xsd:string datatype gives a plain string."""
    body = '"' + text.translate(_ESCAPES) + '"'
    if language:
        return f"{body}@{language}"
    if not datatype or datatype == XSD_STRING:
        return body
    return f"{body}^^<{datatype}>"


def triple(subject: str, predicate: str, obj: str) -> str:
    """Return one N-Triples line (terms already written)."""
    return f"{subject} {predicate} {obj} .\n"


@dataclass(frozen=True)
class Iri:
    """An IRI."""

    value: str

    def __str__(self) -> str:
        return iri(self.value)


@dataclass(frozen=True)
class BlankNode:
    """A blank node; ``value`` is its label."""

    value: str

    def __str__(self) -> str:
        return f"_:{self.value}"


@dataclass(frozen=True)
class Literal:
    """A literal: its lexical form, its datatype and, for ``rdf:langString``, its language."""

    value: str
    datatype: str = XSD_STRING
    language: str = ""

    def __str__(self) -> str:
        return literal(self.value, self.datatype, self.language)


Term = Iri | BlankNode | Literal


class TermSyntaxError(ValueError):
    """A text that is not one N-Triples term (the message quotes at most its start)."""


_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_ECHAR = r"\\[tbnrf\"'\\]"
# Unrolled loops (plain run, then escape + plain run, ...): linear time on any input.
_IRI_BODY = rf"[^\x00-\x20<>\"{{}}|^`\\]*(?:(?:{_UCHAR})[^\x00-\x20<>\"{{}}|^`\\]*)*"
_STRING_BODY = rf"[^\"\\\n\r]*(?:(?:{_ECHAR}|{_UCHAR})[^\"\\\n\r]*)*"
_TERM = re.compile(
    rf"<(?P<iri>{_IRI_BODY})>"
    rf"|_:(?P<bnode>[^\s.](?:[^\s]*[^\s.])?)"
    rf"|\"(?P<text>{_STRING_BODY})\""
    rf"(?:\^\^<(?P<datatype>{_IRI_BODY})>|@(?P<language>[A-Za-z]+(?:-[A-Za-z0-9]+)*))?"
)
_ESCAPE = re.compile(rf"{_UCHAR}|{_ECHAR}")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_CHARACTER_ESCAPES = {
    "t": "\t",
    "b": "\b",
    "n": "\n",
    "r": "\r",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}


def parse_term(text: str | Term) -> Term:
    """Return the term that ``text`` (one N-Triples term, nothing around it) writes; a term
    already parsed (as the store's query rows hold them) is returned as it is."""
    if not isinstance(text, str):
        return text
    match = _TERM.fullmatch(text)
    if match is None:
        start = text[:40] + ("..." if len(text) > 40 else "")
        raise TermSyntaxError(f"not an N-Triples term: {start!r}")
    if match["iri"] is not None:
        return Iri(_unescape(match["iri"]))
    if match["bnode"] is not None:
        return BlankNode(match["bnode"])
    value = _unescape(match["text"])
    if match["language"]:
        return Literal(value, LANG_STRING, match["language"].lower())
    return Literal(value, _unescape(match["datatype"] or XSD_STRING))


def iris_in(line: str) -> list[str]:
    """Return the IRIs of the terms of an N-Triples or N-Quads line, in order (a literal's
    text and datatype are not terms of the line: ``"T1 <fs>"`` holds no IRI)."""
    return [_unescape(found["iri"]) for found in _TERM.finditer(line) if found["iri"] is not None]


def parse_literal(text: str | Term) -> Literal:
    """Return the literal that ``text`` writes; raise TermSyntaxError for another term."""
    term = parse_term(text)
    if not isinstance(term, Literal):
        raise TermSyntaxError(f"not a literal: {str(text)[:40]!r}")
    return term


def lexical(text: str | Term) -> str:
    """Return the value of a term: a literal's lexical form, an IRI, a blank node's label."""
    return parse_term(text).value


def integer(text: str | Term) -> int:
    """Return the number that an integer literal (``"12"^^xsd:integer``, as COUNT gives) holds."""
    value = parse_literal(text).value
    try:
        return int(value)
    except ValueError:
        raise TermSyntaxError(f"not an integer literal: {str(text)[:40]!r}") from None


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body
    decoded = _ESCAPE.sub(_character, body)
    if _LONE_SURROGATE.search(decoded) is None:
        return decoded
    # \uD83D\uDE00: some writers escape a character beyond U+FFFF as a UTF-16 pair.
    joined = _SURROGATE_PAIR.sub(
        lambda pair: pair.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le"),
        decoded,
    )
    if _LONE_SURROGATE.search(joined) is not None:
        raise TermSyntaxError("an escape writes half of a UTF-16 surrogate pair")
    return joined


def _character(escape: re.Match[str]) -> str:
    text = escape.group()
    if text[1] in "uU":
        code = int(text[2:], 16)
        if code > 0x10FFFF:
            raise TermSyntaxError(f"{text} is beyond the last Unicode code point")
        return chr(code)
    return _CHARACTER_ESCAPES[text[1]]
