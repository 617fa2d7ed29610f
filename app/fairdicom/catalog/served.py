"""The catalogue as harvesters get it: typed as the profiles demand, cut into Hydra pages.

The catalogue graph comes back from the store with Oxigraph's canonical literals
(``xsd:nonNegativeInteger`` stored as ``xsd:integer``, see ARCHITECTURE.md), so
:func:`served_catalog` types the counts of :data:`~fairdicom.catalog.graph.DATATYPES` again.
``/catalog``, ``/oai``, the FAIR Data Point and ``fairdicom catalog --validate`` all read the
catalogue through it, so what is validated is what is served.

A page (:func:`catalog_page`) is the catalogue with some of its datasets, their records and
everything they lead to, plus the ``hydra:PartialCollectionView`` that ckanext-dcat and piveau
follow (``hydra:first``, ``hydra:next``, ``hydra:last`` as IRIs, ``hydra:totalItems``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, FOAF, RDF, XSD
from rdflib.term import Node

from fairdicom.catalog.graph import DATATYPES, PREFIXES, catalog_iri
from fairdicom.namespaces import DataIris

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    """One Hydra page: its graph, its number, the number of pages and of datasets."""

    graph: Graph
    number: int
    last: int
    total: int
    datasets: list[URIRef]


def served_catalog(stored: Graph) -> Graph:
    """Return the stored catalogue graph with each count typed as the profiles demand."""
    served = Graph()
    bind_prefixes(served)
    for s, p, o in stored:
        wanted = DATATYPES.get(p) if isinstance(p, URIRef) else None
        if wanted is not None and isinstance(o, Literal) and o.datatype != wanted:
            o = Literal(str(o), datatype=wanted)
        served.add((s, p, o))
    return served


def bind_prefixes(graph: Graph) -> None:
    """Bind the catalogue's usual prefixes (dcat, dct, healthdcatap, hydra, ...)."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    graph.bind("hydra", HYDRA)


def closure(graph: Graph, start: Node, stop: set[Node], out: Graph) -> None:
    """Copy the triples of ``start`` and of the nodes it leads to, not entering ``stop``."""
    todo: list[Node] = [start]
    seen = {start}
    while todo:
        node = todo.pop()
        for p, o in graph.predicate_objects(node):
            out.add((node, p, o))
            if not isinstance(o, Literal) and o not in seen and o not in stop:
                seen.add(o)
                todo.append(o)


def catalog_datasets(graph: Graph, iris: DataIris) -> list[URIRef]:
    """Return the datasets of the catalogue, sorted by IRI."""
    cat = URIRef(catalog_iri(iris))
    return sorted((d for d in graph.objects(cat, DCAT.dataset) if isinstance(d, URIRef)), key=str)


def subset(graph: Graph, cat: Node, chosen: Iterable[Node]) -> Graph:
    """Return the catalogue ``cat`` with only the ``chosen`` datasets, their records and what
    they lead to (the other datasets, their records and distributions left out)."""
    kept = set(chosen)
    datasets = set(graph.objects(cat, DCAT.dataset))
    records = {r: graph.value(r, FOAF.primaryTopic) for r in graph.objects(cat, DCAT.record)}
    stop: set[Node] = {cat, *datasets, *records}
    out = Graph()
    bind_prefixes(out)
    for p, o in graph.predicate_objects(cat):
        if (p == DCAT.dataset and o not in kept) or (p == DCAT.record and records[o] not in kept):
            continue
        out.add((cat, p, o))
        if o not in stop and not isinstance(o, Literal):
            closure(graph, o, stop, out)
    for node in sorted(kept, key=str):
        closure(graph, node, stop - {node}, out)
    for record, topic in records.items():
        if topic in kept:
            closure(graph, record, stop - {record}, out)
    drop_dangling_services(out, kept)
    return out


def drop_dangling_services(out: Graph, kept: set[Node]) -> None:
    """Remove ``dcat:servesDataset`` links to datasets that the subset leaves out."""
    for service, dataset in list(out.subject_objects(DCAT.servesDataset)):
        if dataset not in kept:
            out.remove((service, DCAT.servesDataset, dataset))


def catalog_page(graph: Graph, iris: DataIris, number: int, size: int) -> Page | None:
    """Return page ``number`` of ``size`` datasets with its Hydra view, None past the last."""
    cat = URIRef(catalog_iri(iris))
    datasets = catalog_datasets(graph, iris)
    total = len(datasets)
    last = max(1, -(-total // size))
    if number > last:
        return None
    chosen = datasets[(number - 1) * size : number * size]
    out = subset(graph, cat, chosen)

    def link(n: int) -> URIRef:
        return URIRef(f"{cat}?page={n}&pageSize={size}")

    view = link(number)
    out.add((cat, RDF.type, HYDRA.Collection))
    out.add((cat, HYDRA.totalItems, Literal(total, datatype=XSD.integer)))
    out.add((cat, HYDRA.view, view))
    out.add((view, RDF.type, HYDRA.PartialCollectionView))
    out.add((view, HYDRA.first, link(1)))
    out.add((view, HYDRA.last, link(last)))
    if number < last:
        out.add((view, HYDRA.next, link(number + 1)))
    if number > 1:
        out.add((view, HYDRA.previous, link(number - 1)))
    return Page(out, number, last, total, chosen)


def dataset_document(graph: Graph, iris: DataIris, node: URIRef) -> Graph:
    """Return what the catalogue says of one dataset: the dataset, its record, what they use."""
    cat = URIRef(catalog_iri(iris))
    out = Graph()
    bind_prefixes(out)
    others = set(graph.subjects(RDF.type, DCAT.Dataset)) - {node}
    closure(graph, node, {cat, *others}, out)
    for record in graph.subjects(FOAF.primaryTopic, node):
        closure(graph, record, {cat, node}, out)
    drop_dangling_services(out, {node})
    return out
