"""Prove that some nodes conform to the curated-layer shapes without loading a SHACL engine.

The shapes of the curated layer are node-local property shapes: a class target, a predicate
path, and counts, datatypes, ranges, node kinds, classes, patterns and value lists (a test in
``tests/test_remap_quick.py`` keeps them so). A node's conformance to them follows from its own
triples and the classes of the nodes they point at, in a few lines of Python: pyshacl and its
SPARQL machinery take longer to load (0.1-0.15 s) than a remap takes to validate the few nodes
an edit changes. :func:`surely_conform` answers True only when every constraint that targets
the nodes is one it decides and every one holds; anything else (a violation, a constraint or
a value it does not decide) answers False and the caller asks pyshacl: its True is never
wrong, its False only means "ask pyshacl".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from rdflib import OWL, RDF, Graph, Literal, URIRef
from rdflib import RDFS as RDFS_NS
from rdflib.collection import Collection

from fairdicom.namespaces import RDF as RDF_NS
from fairdicom.namespaces import RDFS, XSD
from fairdicom.resources import SHAPES

SH = "http://www.w3.org/ns/shacl#"
TYPE = f"<{RDF_NS}type>"
SUBCLASS = f"<{RDFS}subClassOf>"
DECIDED = {"minCount", "maxCount", "datatype", "nodeKind", "class", "in", "pattern"} | {
    "minInclusive",
    "minExclusive",
    "maxInclusive",
    "maxExclusive",
}
"""The constraints checked here."""
IGNORED = {"targetClass", "path", "message", "name", "description", "severity"}
"""What a property shape may say besides its constraints."""
NUMBERS = {XSD + "integer": r"[+-]?[0-9]+", XSD + "decimal": r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"}
"""Numeric datatypes decided (besides xsd:string and xsd:date), with their lexical space:
stricter than rdflib's, as a doubt asks pyshacl."""
CLASSES = {RDFS_NS.Class, OWL.Class}
"""A shape that is also a class targets its instances (an implicit class target)."""
KINDS = {
    "IRI": ("<",),
    "Literal": ('"',),
    "BlankNode": ("_:",),
    "BlankNodeOrIRI": ("<", "_:"),
    "IRIOrLiteral": ("<", '"'),
    "BlankNodeOrLiteral": ("_:", '"'),
}


@dataclass
class PropertyShape:
    """A property shape of the curated layer: targets, path and constraints (name -> value)."""

    targets: set[str] = field(default_factory=set)
    path: str = ""
    constraints: dict[str, object] = field(default_factory=dict)
    decided: bool = True
    anywhere: bool = False
    """Whether it targets nodes by more than their class (sh:targetNode, an implicit class
    target...): then no node is decided here."""


def _term(node: object) -> str:
    """Return a shapes-graph node as an N-Triples term (as the engine writes it)."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        return str(node.n3())
    return f"_:{node}"


@cache
def shapes_of(path: Path = SHAPES) -> tuple[PropertyShape, ...]:
    """Return the Violation-level shapes of a shapes file (one parse per process)."""
    graph = Graph().parse(path, format="turtle")
    shapes: dict[object, PropertyShape] = defaultdict(PropertyShape)
    for subject in set(graph.subjects(URIRef(SH + "targetClass"), None)) | set(
        graph.subjects(URIRef(SH + "path"), None)
    ):
        shape = shapes[subject]
        for predicate, value in graph.predicate_objects(subject):
            name = str(predicate).removeprefix(SH)
            if (predicate == RDF.type and value not in CLASSES) or name in IGNORED:
                continue
            if name.startswith("target") or (predicate == RDF.type and value in CLASSES):
                shape.anywhere = True
            if name not in DECIDED:
                shape.decided = False
            elif name == "in":
                shape.constraints[name] = {_term(v) for v in Collection(graph, value)}
            else:
                shape.constraints[name] = value
        shape.targets = {str(t) for t in graph.objects(subject, URIRef(SH + "targetClass"))}
        path_node = graph.value(subject, URIRef(SH + "path"))
        if isinstance(path_node, URIRef):
            shape.path = f"<{path_node}>"
        else:
            shape.decided = False  # a node shape, or a property path: not node-local
        severity = graph.value(subject, URIRef(SH + "severity"))
        if severity is not None and severity != URIRef(SH + "Violation"):
            shape.targets = set()  # a Warning never sends a series to quarantine
    return tuple(shapes.values())


def _literal(term: str) -> tuple[str, str] | None:
    """Return (lexical form, datatype IRI) of a literal term without escapes, else None."""
    if not term.startswith('"') or "\\" in term:
        return None
    end = term.rindex('"')
    rest = term[end + 1 :]
    if rest.startswith("@"):
        return None
    return term[1:end], rest[3:-1] if rest.startswith("^^<") else XSD + "string"


def _number(term: str) -> Decimal | None:
    """Return the value of an integer or decimal literal (in its lexical space), else None."""
    found = _literal(term)
    if found is None or found[1] not in NUMBERS or not re.fullmatch(NUMBERS[found[1]], found[0]):
        return None
    return Decimal(found[0])


def _date(lexical: str, datatype: str) -> bool:
    """Return whether an xsd:date literal is surely valid (a plain YYYY-MM-DD date)."""
    if datatype != XSD + "date" or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", lexical):
        return False
    try:
        date.fromisoformat(lexical)
    except ValueError:
        return False
    return True


def _bound(value: object) -> Decimal | None:
    """Return a numeric bound of a shape (an integer or decimal literal), else None."""
    if not isinstance(value, Literal) or str(value.datatype) not in NUMBERS:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _holds(
    name: str, rule: object, values: list[str], pairs: dict[str, set[tuple[str, str]]]
) -> bool:
    """Return whether one constraint surely holds for a node's values."""
    if name == "minCount":
        return len(values) >= int(str(rule))
    if name == "maxCount":
        return len(values) <= int(str(rule))
    if name == "in":
        return all(v in rule for v in values)  # type: ignore[operator]
    if name == "nodeKind":
        starts = KINDS.get(str(rule).removeprefix(SH))
        return starts is not None and all(v.startswith(starts) for v in values)
    if name == "class":
        return all((TYPE, f"<{rule}>") in pairs.get(v, set()) for v in values)
    if name == "datatype":
        wanted = str(rule)
        for value in values:
            found = _literal(value)
            if found is None or found[1] != wanted:
                return False
            if wanted != XSD + "string" and _number(value) is None and not _date(found[0], wanted):
                return False
        return True
    if name == "pattern":
        texts = [v[1:-1] if v.startswith("<") else (_literal(v) or ("\0",))[0] for v in values]
        return "\0" not in texts and all(re.search(str(rule), text) for text in texts)
    bound = _bound(rule)
    numbers = [_number(v) for v in values]
    if bound is None:
        return False
    return all(number is not None and _within(name, number, bound) for number in numbers)


def _within(name: str, number: Decimal, bound: Decimal) -> bool:
    """Return whether a number meets a range constraint."""
    if name == "minInclusive":
        return number >= bound
    if name == "minExclusive":
        return number > bound
    if name == "maxInclusive":
        return number <= bound
    return name == "maxExclusive" and number < bound


def surely_conform(nodes: Iterable[str], lines: Iterable[str], path: Path = SHAPES) -> bool:
    """Return True when every node (an N-Triples term) surely conforms, judged on ``lines``
    (their triples and the class triples of the nodes they point at); False when in doubt."""
    pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for line in lines:
        subject, predicate, rest = line.split(" ", 2)
        if predicate == SUBCLASS:
            return False  # a class target would reach the subclasses' instances too
        pairs[subject].add((predicate, rest.rstrip()[:-1].rstrip()))
    shapes = shapes_of(path)
    if any(shape.anywhere for shape in shapes):
        return False
    for node in nodes:
        own = pairs.get(node, set())
        classes = {o[1:-1] for p, o in own if p == TYPE}
        for shape in shapes:
            if not shape.targets & classes:
                continue
            if not shape.decided:
                return False
            values = sorted({o for p, o in own if p == shape.path})
            for name, rule in shape.constraints.items():
                if not _holds(name, rule, values, pairs):
                    return False
    return True
