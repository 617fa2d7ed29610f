"""Write RDF terms as N-Triples text (the form fairdicom hands to the store in bulk)."""

from __future__ import annotations

from fairdicom.namespaces import XSD

_ESCAPES = str.maketrans(
    {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1f": "\\u001F"}
)
OBJECT_SEPARATOR = "\x1f"
"""Joins several objects of one predicate (sequence items); never inside a written term."""


def iri(value: str) -> str:
    """Return an IRI term."""
    return f"<{value}>"


def literal(text: str, datatype: str = "") -> str:
    """Return a literal term; an empty or xsd:string datatype gives a plain string."""
    body = '"' + text.translate(_ESCAPES) + '"'
    if not datatype or datatype == XSD + "string":
        return body
    return f"{body}^^<{datatype}>"


def triple(subject: str, predicate: str, obj: str) -> str:
    """Return one N-Triples line (terms already written)."""
    return f"{subject} {predicate} {obj} .\n"
