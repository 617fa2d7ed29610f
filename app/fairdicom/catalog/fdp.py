"""The catalogue as a FAIR Data Point (FDP specification v1.0, FDP-O ontology v1.1).

The FDP is the server itself: its root resource is ``{base}`` (``fdp-o:FAIRDataPoint``, a
``fdp-o:MetadataService``), whose one catalogue is the DCAT-AP catalogue ``{base}catalog``.
Every metadata record (root, catalogue, dataset, distribution) carries what the specification
requires of it (``fdp-o:metadataIdentifier``, ``fdp-o:metadataIssued``,
``fdp-o:metadataModified``) and the navigation FDP clients follow: the parent-child links
(``fdp-o:metadataCatalog``, ``dcat:dataset``, ``dcat:distribution``) and, in the same document,
an ``ldp:DirectContainer`` naming that relation and its members. Nothing here is stored: the
records are the catalogue graph plus these triples, added when a record is served.
"""

from __future__ import annotations

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD
from rdflib.term import Node

from fairdicom.catalog.graph import catalog_iri
from fairdicom.catalog.served import (
    DEFAULT_PAGE_SIZE,
    Page,
    bind_prefixes,
    catalog_page,
    closure,
    drop_dangling_services,
    subset,
)
from fairdicom.namespaces import DataIris

FDPO = Namespace("https://w3id.org/fdp/fdp-o#")
LDP = Namespace("http://www.w3.org/ns/ldp#")
DATACITE = Namespace("http://purl.org/spar/datacite/")
FDP_SPEC = URIRef("https://specs.fairdatapoint.org/fdp-specs-v1.0.html")
SERVICE_SCHEMA = URIRef(f"{FDP_SPEC}#repository-shacl")
CATALOG_SCHEMA = URIRef(f"{FDP_SPEC}#catalog-shacl")
EPOCH = "1970-01-01T00:00:00Z"
CHILDREN = {
    DCAT.Catalog: (DCAT.dataset, "datasets", "Datasets"),
    DCAT.Dataset: (DCAT.distribution, "distributions", "Distributions"),
}
"""Class of a record -> (the relation to its children, container fragment, container title)."""


def root_record(graph: Graph, iris: DataIris, software: str) -> Graph:
    """Return the FDP's own metadata record: the metadata service and its catalogue."""
    root, cat = URIRef(iris.base), URIRef(catalog_iri(iris))
    out = Graph()
    bind_prefixes(out)
    out.bind("fdp-o", FDPO)
    out.bind("ldp", LDP)
    for cls in (FDPO.FAIRDataPoint, FDPO.MetadataService, DCAT.DataService, DCAT.Resource):
        out.add((root, RDF.type, cls))
    for title in graph.objects(cat, DCTERMS.title):
        out.add((root, DCTERMS.title, Literal(f"{title}: FAIR Data Point", lang=_lang(title))))
    for text in graph.objects(cat, DCTERMS.description):
        out.add((root, DCTERMS.description, text))
    for prop in (DCTERMS.publisher, DCTERMS.license, DCTERMS.language):
        for value in graph.objects(cat, prop):
            out.add((root, prop, value))
            if prop == DCTERMS.publisher:
                for name in graph.objects(value, FOAF.name):
                    out.add((value, FOAF.name, name))
                out.add((value, RDF.type, FOAF.Agent))
    out.add((root, DCTERMS.conformsTo, SERVICE_SCHEMA))
    out.add((root, DCAT.endpointURL, root))
    out.add((root, FDPO.hasSoftwareVersion, Literal(software)))
    out.add((root, FDPO.conformsToFdpSpec, FDP_SPEC))
    issued, modified = _dates(graph, cat)
    _identify(out, root, issued, modified)
    if (cat, RDF.type, DCAT.Catalog) in graph:
        out.add((root, FDPO.metadataCatalog, cat))
        _container(out, root, FDPO.metadataCatalog, "catalogs", "Catalogues", [cat])
    return out


def add_record_metadata(
    doc: Graph, graph: Graph, iris: DataIris, part_of_root: bool = True
) -> Graph:
    """Add the FDP record metadata and navigation to each catalogue, dataset and distribution
    that ``doc`` (a document cut from the catalogue ``graph``) describes; return ``doc``.

    ``part_of_root`` states the catalogue ``dct:isPartOf`` the FDP, as the FDP specification
    asks; DCAT-AP demands a ``dcat:Catalog`` there, so the DCAT-AP views leave it out.
    """
    doc.bind("fdp-o", FDPO)
    doc.bind("ldp", LDP)
    root, cat = URIRef(iris.base), URIRef(catalog_iri(iris))
    for cls in (DCAT.Catalog, DCAT.Dataset, DCAT.Distribution):
        for node in [n for n in doc.subjects(RDF.type, cls) if isinstance(n, URIRef)]:
            issued, modified = _dates(graph, node)
            _identify(doc, node, issued, modified)
            if cls == DCAT.Catalog and part_of_root:
                doc.add((node, DCTERMS.isPartOf, root))
                doc.add((node, DCTERMS.conformsTo, CATALOG_SCHEMA))
            if cls in CHILDREN:
                relation, fragment, title = CHILDREN[cls]
                members = sorted(doc.objects(node, relation), key=str)
                _container(doc, node, relation, fragment, title, members)
    if (cat, RDF.type, DCAT.Catalog) in doc:
        doc.add((root, FDPO.metadataCatalog, cat))
    return doc


def served_page(graph: Graph, iris: DataIris, number: int, size: int) -> Page | None:
    """Return page ``number`` of the catalogue as ``/catalog`` serves it: the Hydra page with
    the FDP metadata of its records (None past the last page)."""
    page = catalog_page(graph, iris, number, size)
    if page is not None:
        add_record_metadata(page.graph, graph, iris, part_of_root=False)
    return page


def served_pages(graph: Graph, iris: DataIris, size: int = DEFAULT_PAGE_SIZE) -> list[Page]:
    """Return every page as a harvester following ``hydra:next`` from the first one gets it."""
    pages: list[Page] = []
    while (page := served_page(graph, iris, len(pages) + 1, size)) is not None:
        pages.append(page)
        if page.number == page.last:
            break
    return pages


def catalog_record(graph: Graph, iris: DataIris) -> Graph:
    """Return the FDP record of the catalogue: every dataset, with the FDP metadata."""
    cat = URIRef(catalog_iri(iris))
    doc = subset(graph, cat, graph.objects(cat, DCAT.dataset))
    return add_record_metadata(doc, graph, iris)


def resource_record(graph: Graph, iris: DataIris, node: URIRef) -> Graph:
    """Return the FDP record of one dataset or distribution of the catalogue."""
    cat = URIRef(catalog_iri(iris))
    others = set(graph.subjects(RDF.type, DCAT.Dataset)) | {cat}
    doc = Graph()
    bind_prefixes(doc)
    closure(graph, node, others - {node}, doc)
    for record in graph.subjects(FOAF.primaryTopic, node):
        closure(graph, record, {cat, node}, doc)
    drop_dangling_services(doc, {node})
    return add_record_metadata(doc, graph, iris)


def _identify(doc: Graph, node: URIRef, issued: str, modified: str) -> None:
    identifier = URIRef(f"{node}#identifier")
    doc.add((node, FDPO.metadataIdentifier, identifier))
    doc.add((identifier, RDF.type, DATACITE.Identifier))
    doc.add((identifier, DCTERMS.identifier, Literal(str(node))))
    doc.add((node, FDPO.metadataIssued, Literal(issued, datatype=XSD.dateTime)))
    doc.add((node, FDPO.metadataModified, Literal(modified, datatype=XSD.dateTime)))


def _container(
    doc: Graph, node: URIRef, relation: URIRef, fragment: str, title: str, members: list[Node]
) -> None:
    """State the LDP container through which FDP clients find the children of ``node``."""
    container = URIRef(f"{node}#{fragment}")
    doc.add((container, RDF.type, LDP.DirectContainer))
    doc.add((container, DCTERMS.title, Literal(title, lang="en")))
    doc.add((container, LDP.membershipResource, node))
    doc.add((container, LDP.hasMemberRelation, relation))
    for member in members:
        doc.add((container, LDP.contains, member))


def _dates(graph: Graph, node: Node) -> tuple[str, str]:
    """Return when the record of ``node`` was first issued and last modified (xsd:dateTime):
    its own dct:issued / dct:modified, else its catalogue record's, else those of the datasets
    it holds, else the epoch."""
    issued = [str(v) for v in graph.objects(node, DCTERMS.issued)]
    modified = [str(v) for v in graph.objects(node, DCTERMS.modified)]
    for record in graph.subjects(FOAF.primaryTopic, node):
        modified += [str(v) for v in graph.objects(record, DCTERMS.modified)]
    for child in graph.objects(node, DCAT.dataset):
        issued += [str(v) for v in graph.objects(child, DCTERMS.issued)]
        modified += [str(v) for v in graph.objects(child, DCTERMS.modified)]
    stamps = [_date_time(v) for v in issued + modified]
    first = min((_date_time(v) for v in issued), default=min(stamps, default=EPOCH))
    return first, max(stamps, default=first)


def _date_time(value: str) -> str:
    """Return an xsd:date or xsd:dateTime lexical form as an xsd:dateTime one."""
    return value if "T" in value else f"{value}T00:00:00Z"


def _lang(literal: Node) -> str | None:
    return literal.language if isinstance(literal, Literal) else None
