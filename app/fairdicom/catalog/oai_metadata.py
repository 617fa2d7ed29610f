"""The metadata formats of the OAI-PMH repository: a dataset of the catalogue as ``oai_dc``,
``oai_datacite`` (DataCite kernel-4, OpenAIRE Guidelines for Data Archives) and ``dcat_ap``
(its DCAT-AP description in RDF/XML).

Each record declares the schema it is valid against: ``oai_dc.xsd`` and the current DataCite
kernel-4 schema (``kernel-4/metadata.xsd``, which allows URL identifiers; the versioned
``kernel-4.1`` allowed only DOIs).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

from fairdicom.catalog.graph import PREFIXES
from fairdicom.catalog.served import dataset_document
from fairdicom.namespaces import DataIris

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
DATACITE = "http://datacite.org/schema/kernel-4"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RDF_NS = str(RDF)
FORMATS = {
    "oai_dc": (OAI_DC, "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"),
    "oai_datacite": (DATACITE, "http://schema.datacite.org/meta/kernel-4/metadata.xsd"),
    "dcat_ap": (RDF_NS, "https://semiceu.github.io/DCAT-AP/releases/3.0.1/"),
}
"""Metadata prefix -> (namespace, schema)."""
COAR = {
    "PUBLIC": ("http://purl.org/coar/access_right/c_abf2", "open access"),
    "RESTRICTED": ("http://purl.org/coar/access_right/c_16ec", "restricted access"),
    "NON_PUBLIC": ("http://purl.org/coar/access_right/c_14cb", "closed access"),
}
NAMESPACES = {"oai": OAI, "oai_dc": OAI_DC, "dc": DC, "datacite": DATACITE, "xsi": XSI}
NAMESPACES |= {"rdf": RDF_NS} | {prefix: str(ns) for prefix, ns in PREFIXES.items()}
for _prefix, _ns in NAMESPACES.items():
    ET.register_namespace(_prefix, _ns)


@dataclass(frozen=True)
class Record:
    """One dataset as an OAI item: slug, node, datestamp and set specs."""

    slug: str
    node: URIRef
    datestamp: str
    sets: tuple[str, ...]


def datestamp(value: object) -> str:
    """Return a dct:modified value as ``YYYY-MM-DDThh:mm:ssZ`` in UTC."""
    moment = datetime.fromisoformat(str(value or "1970-01-01"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata(graph: Graph, iris: DataIris, record: Record, prefix: str) -> ET.Element:
    """Return the record's metadata in the format ``prefix`` (a key of :data:`FORMATS`)."""
    if prefix == "oai_dc":
        return _oai_dc(graph, iris, record)
    if prefix == "oai_datacite":
        return _datacite(graph, iris, record)
    document = dataset_document(graph, iris, record.node)
    return ET.fromstring(document.serialize(format="xml").encode("utf-8"))


def _texts(graph: Graph, node: URIRef, prop: URIRef) -> list[tuple[str, str | None]]:
    """Return the texts of a property with their language tags, sorted."""
    values = [o for o in graph.objects(node, prop) if isinstance(o, Literal)]
    return sorted((str(o), o.language) for o in values)


def _add(parent: ET.Element, tag: str, text: str, lang: str | None = None, **attrs: str) -> None:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    if lang:
        element.set(XML_LANG, lang)


def _facts(graph: Graph, iris: DataIris, record: Record) -> dict[str, str]:
    node = record.node
    publisher = graph.value(graph.value(node, DCTERMS.publisher), FOAF.name)
    landing = graph.value(node, DCAT.landingPage)
    rights = graph.value(node, DCTERMS.accessRights)
    issued = graph.value(node, DCTERMS.issued)
    level = str(rights).rsplit("/", 1)[-1] if rights else "PUBLIC"
    licences = [graph.value(d, DCTERMS.license) for d in graph.objects(node, DCAT.distribution)]
    licence = graph.value(node, DCTERMS.license) or next((x for x in licences if x), None)
    return {
        "publisher": str(publisher or "fairdicom"),
        "url": f"{iris.base}catalog/dataset/{record.slug}",
        "landing": str(landing or ""),
        "level": level if level in COAR else "NON_PUBLIC",
        "issued": datestamp(issued) if issued else record.datestamp,
        "licence": str(licence or ""),
        "licence_title": str(graph.value(licence, DCTERMS.title) or licence or ""),
    }


def _oai_dc(graph: Graph, iris: DataIris, record: Record) -> ET.Element:
    facts, node = _facts(graph, iris, record), record.node
    dc = ET.Element(f"{{{OAI_DC}}}dc")
    dc.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} {FORMATS['oai_dc'][1]}")
    for text, lang in _texts(graph, node, DCTERMS.title):
        _add(dc, f"{{{DC}}}title", text, lang)
    _add(dc, f"{{{DC}}}creator", facts["publisher"])
    for text, lang in _texts(graph, node, DCAT.keyword):
        _add(dc, f"{{{DC}}}subject", text, lang)
    for text, lang in _texts(graph, node, DCTERMS.description):
        _add(dc, f"{{{DC}}}description", text, lang)
    _add(dc, f"{{{DC}}}publisher", facts["publisher"])
    _add(dc, f"{{{DC}}}date", record.datestamp)
    _add(dc, f"{{{DC}}}type", "Dataset")
    _add(dc, f"{{{DC}}}identifier", facts["url"])
    if facts["landing"]:
        _add(dc, f"{{{DC}}}relation", facts["landing"])
    _add(dc, f"{{{DC}}}rights", COAR[facts["level"]][0])
    if facts["licence"]:
        _add(dc, f"{{{DC}}}rights", facts["licence"])
    return dc


def _datacite(graph: Graph, iris: DataIris, record: Record) -> ET.Element:
    facts, node, ns = _facts(graph, iris, record), record.node, f"{{{DATACITE}}}"
    res = ET.Element(ns + "resource")
    res.set(f"{{{XSI}}}schemaLocation", f"{DATACITE} {FORMATS['oai_datacite'][1]}")
    _add(res, ns + "identifier", facts["url"], identifierType="URL")
    creator = ET.SubElement(ET.SubElement(res, ns + "creators"), ns + "creator")
    _add(creator, ns + "creatorName", facts["publisher"], nameType="Organizational")
    titles = ET.SubElement(res, ns + "titles")
    for text, lang in _texts(graph, node, DCTERMS.title):
        _add(titles, ns + "title", text, lang)
    _add(res, ns + "publisher", facts["publisher"])
    _add(res, ns + "publicationYear", facts["issued"][:4])
    subjects = ET.SubElement(res, ns + "subjects")
    for text, lang in _texts(graph, node, DCAT.keyword):
        _add(subjects, ns + "subject", text, lang)
    dates = ET.SubElement(res, ns + "dates")
    _add(dates, ns + "date", facts["issued"], dateType="Issued")
    _add(dates, ns + "date", record.datestamp, dateType="Updated")
    _add(res, ns + "resourceType", "Dataset", resourceTypeGeneral="Dataset")
    rights = ET.SubElement(res, ns + "rightsList")
    uri, label = COAR[facts["level"]]
    _add(rights, ns + "rights", label, rightsURI=uri)
    if facts["licence"]:
        _add(rights, ns + "rights", facts["licence_title"], rightsURI=facts["licence"])
    descriptions = ET.SubElement(res, ns + "descriptions")
    for text, lang in _texts(graph, node, DCTERMS.description):
        _add(descriptions, ns + "description", text, lang, descriptionType="Abstract")
    return res
