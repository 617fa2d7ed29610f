"""What the HTML page of a Linked Data resource shows, built from SPARQL JSON rows.

The page leads with the curated properties (labelled, with their QUDT units), then the
resources below this one (a patient's studies, a study's series, a series' instances: counted
and paged), then what else points at it, and last the raw DICOM attributes (name, tag, value)
in a collapsed section. Breadcrumbs walk up dataset > patient > study > series. Every query
runs through the caller's scope, so nothing of a dataset the caller cannot read shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from rdflib import URIRef

from fairdicom.namespaces import DCMPRIV, DCMTAG, FD, PREFIXES, QUDT
from fairdicom.rdf.mapping_terms import turtle, vocabulary_tags
from fairdicom.resources import CORE_ONTOLOGY, TAG_VOCABULARY

PAGE_SIZE = 50
"""Resources below this one listed per page (a series of 500 instances shows 50 at a time)."""
UNIT_SYMBOLS = {
    "MilliM": "mm",
    "CentiM": "cm",
    "M": "m",
    "YR": "years",
    "MO": "months",
    "WK": "weeks",
    "DAY": "days",
    "SEC": "s",
    "MilliSEC": "ms",
    "KiloGM": "kg",
    "DEG": "°",
    "T": "T",
    "HZ": "Hz",
    "MegaHZ": "MHz",
    "KiloV": "kV",
    "MilliA": "mA",
}
"""Symbols of the QUDT units the curated properties use (others show their local name)."""
CHILDREN = {
    FD + "Patient": ("studies", FD + "patient", "child_studies"),
    FD + "Study": ("series", FD + "study", "child_series"),
    FD + "Series": ("instances", FD + "inSeries", "child_instances"),
}
"""Per class: the name of the resources below it, the link they point up with, their query."""
LEVELS = (FD + "Patient", FD + "Study", FD + "Series", FD + "Instance")
KIND_NAMES = {FD + "Patient": "patient", FD + "Study": "study", FD + "Series": "series"}
KIND_NAMES[FD + "Instance"] = "instance"
Binding = dict[str, dict[str, str]]
PLAIN = frozenset({"xsd:string", "xsd:integer", "xsd:decimal", "xsd:double"})
"""Datatypes the page leaves unsaid: a reader sees a text or a number without them."""


@dataclass(frozen=True)
class Term:
    """One RDF term of the HTML page: its text, its link, its label, datatype and unit."""

    text: str
    href: str | None = None
    label: str | None = None
    datatype: str | None = None
    unit: str | None = None
    iri: str | None = None


@dataclass(frozen=True)
class Row:
    """One property of the resource and one of its values."""

    predicate: Term
    value: Term
    tag: str = ""


@dataclass(frozen=True)
class Crumb:
    """One step of the breadcrumbs: what it is, its text and its link."""

    kind: str
    text: str
    href: str


@dataclass
class Children:
    """One page of the resources below this one."""

    name: str
    total: int
    page: int
    pages: int
    offset: int = 0
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Term, list[str]]] = field(default_factory=list)


@dataclass(frozen=True)
class Reference:
    """Resources that point at this one with a property, and how many."""

    predicate: Term
    count: int
    query: str


def compact(iri: str) -> str:
    """Return ``prefix:local`` for an IRI of a known namespace, else the IRI."""
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


def term(binding: dict[str, str], link: Callable[[str], str], label: str | None = None) -> Term:
    """Return a SPARQL JSON term as page text: IRIs compacted and linked, literals typed."""
    value = binding["value"]
    if binding["type"] == "bnode":
        return Term(f"_:{value}")
    if binding["type"] != "uri":
        lang = binding.get("xml:lang")
        datatype = (
            f"@{lang}" if lang else compact(binding.get("datatype", PREFIXES["xsd"] + "string"))
        )
        return Term(value, datatype=None if datatype in PLAIN else datatype)
    href = link(value)
    local = re.search(r"/id/([^/]+)/(.+)$", value) if href != value else None
    text = f"{local.group(1)} {local.group(2)}" if local else compact(value)
    return Term(text, href, label, iri=value)


def split_rows(
    bindings: list[Binding], link: Callable[[str], str]
) -> tuple[list[Row], list[Row], str | None]:
    """Return the curated rows (type first, then by label), the raw DICOM attribute rows (by
    tag) and a graph that states them."""
    units = _units()
    curated: list[Row] = []
    raw: list[Row] = []
    graph = None
    for row in bindings:
        p = row["p"]["value"]
        graph = graph or row.get("graph", {}).get("value")
        predicate_label = row.get("predicateLabel", {}).get("value")
        predicate = Term(compact(p), link(p), predicate_label, iri=p)
        value = term(row["o"], link, row.get("label", {}).get("value"))
        stated_in = row.get("graph", {}).get("value", "")
        if p.startswith((DCMTAG, DCMPRIV)) or stated_in.endswith("/raw"):
            raw.append(Row(predicate, value, _tag(p)))
        else:
            if p in units and value.href is None:
                value = Term(value.text, None, None, value.datatype, units[p])
            curated.append(Row(predicate, value))
    curated.sort(key=lambda r: (r.predicate.text != "rdf:type", _label(r.predicate), r.value.text))
    raw.sort(key=lambda r: (r.tag, r.value.text))
    return curated, raw, graph


def breadcrumbs(
    bindings: list[Binding],
    iri: str,
    link: Callable[[str], str],
    dataset_link: Callable[[str], str],
) -> tuple[list[Crumb], str | None, str | None]:
    """Return the breadcrumbs (dataset, then patient to the resource's parent), the
    resource's class among Patient..Instance (or None) and its dataset's slug."""
    classes = {row["node"]["value"]: row["class"]["value"] for row in bindings}
    slug = None
    for row in bindings:
        slug = slug or dataset_slug(row["g"]["value"])
    crumbs = [Crumb("dataset", slug, dataset_link(slug))] if slug else []
    for level in LEVELS:
        for node, cls in sorted(classes.items()):
            if cls == level and node != iri:
                crumbs.append(Crumb(KIND_NAMES[level], short_key(node), link(node)))
    return crumbs, classes.get(iri), slug


def children_page(
    name: str, total: int, page: int, bindings: list[Binding], link: Callable[[str], str]
) -> Children:
    """Return one page of the resources below this one, with the columns of their kind."""
    pages = max(1, -(-total // PAGE_SIZE))
    found = Children(name, total, page, pages, (page - 1) * PAGE_SIZE)
    columns, describe = _COLUMNS[name]
    found.columns = [_SINGULAR[name], *columns]
    for row in bindings:
        child = row["child"]["value"]
        found.rows.append((Term(short_key(child), link(child)), describe(row)))
    return found


def references(bindings: list[Binding], iri: str, link: Callable[[str], str]) -> list[Reference]:
    """Return what else points at the resource, with a query that lists them."""
    found = []
    for row in bindings:
        p = row["p"]["value"]
        label = row.get("label", {}).get("value")
        query = f"SELECT ?resource WHERE {{ ?resource <{p}> <{iri}> }} ORDER BY ?resource"
        found.append(Reference(Term(compact(p), link(p), label), int(row["n"]["value"]), query))
    return found


def dataset_slug(graph: str) -> str | None:
    """Return the dataset slug of a ``.../graph/{slug}/{layer}`` graph IRI, else None."""
    match = re.search(r"/graph/([^/]+)/(?:raw|curated)$", graph)
    return match.group(1) if match else None


def short_key(iri: str) -> str:
    """Return the last path segment of a data IRI (its pseudonymous key)."""
    return iri.rstrip("/").rsplit("/", 1)[-1]


def kind_name(cls: str | None, iri: str) -> str:
    """Return what the resource is (patient, study, ...), from its class or its IRI."""
    if cls in KIND_NAMES:
        return KIND_NAMES[cls]
    match = re.search(r"/id/([^/]+)/", iri)
    return match.group(1) if match else "resource"


def _value(row: Binding, name: str) -> str:
    return row.get(name, {}).get("value", "")


def _labelled(row: Binding, name: str) -> str:
    label = _value(row, name + "Label")
    return label or compact(_value(row, name))


def _studies(row: Binding) -> list[str]:
    return [_value(row, "date"), _value(row, "description"), _value(row, "seriesCount")]


def _series(row: Binding) -> list[str]:
    cells = [_value(row, "number"), _labelled(row, "modality"), _labelled(row, "bodyPart")]
    return [*cells, _value(row, "description"), _value(row, "instances")]


def _instances(row: Binding) -> list[str]:
    return [_value(row, "number")]


_SINGULAR = {"studies": "study", "series": "series", "instances": "instance"}
_COLUMNS: dict[str, tuple[list[str], Callable[[Binding], list[str]]]] = {
    "studies": (["date", "description", "series"], _studies),
    "series": (["number", "modality", "body part", "description", "instances"], _series),
    "instances": (["instance number"], _instances),
}


def _label(term: Term) -> str:
    return (term.label or term.text).casefold()


def _tag(predicate: str) -> str:
    """Return ``(gggg,eeee)`` of a DICOM attribute property (private: ``(gggg,xxee)``)."""
    if predicate.startswith(DCMTAG):
        found = vocabulary_tags(TAG_VOCABULARY).get(predicate[len(DCMTAG) :])
        return f"({found.tag[:4]},{found.tag[4:]})" if found else ""
    element = predicate.rsplit("#", 1)[-1]
    return f"({element[:4]},{element[4:]})" if len(element) == 8 else ""


@cache
def _units() -> dict[str, str]:
    """Return curated property IRI -> unit symbol, from ``qudt:hasUnit`` in the ontology."""
    graph, _ = turtle(CORE_ONTOLOGY)
    units: dict[str, str] = {}
    for prop, unit in graph.subject_objects(URIRef(QUDT + "hasUnit")):
        local = str(unit).rsplit("/", 1)[-1]
        units[str(prop)] = UNIT_SYMBOLS.get(local, local)
    return units
