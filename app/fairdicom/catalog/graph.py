"""The catalogue as RDF: DCAT-AP 3.0.1 with the HealthDCAT-AP (release 8) extension.

One dcat:Catalog; per dataset a dcat:Dataset, its dcat:CatalogRecord and two
dcat:Distributions (the gzip N-Quads dump and the SPARQL endpoint, a dcat:DataService).
Controlled-vocabulary terms (licences, rights, media types, themes, ...) are typed in the
graph itself, with a label, because the DCAT-AP range shapes check their class.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from fairdicom.catalog.descriptions import Agent, CatalogDescription, DatasetDescription
from fairdicom.catalog.dump import Dump
from fairdicom.catalog.stats import DatasetStats
from fairdicom.namespaces import DataIris

DCATAP = Namespace("http://data.europa.eu/r5r/")
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
CV = Namespace("http://data.europa.eu/m8g/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
EU = "http://publications.europa.eu/resource/authority/"
IANA = "http://www.iana.org/assignments/media-types/"
HEALTHDCAT_AP = "http://healthdataportal.eu/ns/health"
PROFILES = {
    "https://semiceu.github.io/DCAT-AP/releases/3.0.1/": "DCAT-AP 3.0.1",
    HEALTHDCAT_AP: "HealthDCAT-AP release 8",
}
LANGUAGES = {"en": "ENG", "nl": "NLD", "de": "DEU", "fr": "FRA", "es": "SPA", "it": "ITA"}
LANGUAGES |= {"pt": "POR", "pl": "POL", "sv": "SWE", "da": "DAN", "fi": "FIN", "el": "ELL"}
FAIRDICOM_MODEL = "https://w3id.org/fairdicom/ontology"
PREFIXES = {"dcat": DCAT, "dct": DCTERMS, "foaf": FOAF, "dcatap": DCATAP, "healthdcatap": HEALTH}
PREFIXES |= {"cv": CV, "vcard": VCARD, "spdx": SPDX, "skos": SKOS, "eli": ELI}
DATATYPES = {
    DCAT.byteSize: XSD.nonNegativeInteger,
    HEALTH.numberOfRecords: XSD.nonNegativeInteger,
    HEALTH.numberOfUniqueIndividuals: XSD.nonNegativeInteger,
    HEALTH.minTypicalAge: XSD.nonNegativeInteger,
    HEALTH.maxTypicalAge: XSD.nonNegativeInteger,
}
"""The exact datatype DCAT-AP 3.0.1 / HealthDCAT-AP demand of each count; Oxigraph stores every
derived integer type as ``xsd:integer``, so :mod:`fairdicom.catalog.served` types them again."""
CC_BY, CC0, CC_BY_SA = (
    "Creative Commons Attribution",
    "Creative Commons CCZero",
    "Creative Commons Attribution Share-Alike",
)
LICENCE_TITLES = {
    f"{EU}licence/CC_BY_4_0": CC_BY,
    "https://creativecommons.org/licenses/by/4.0/": CC_BY,
    "http://www.opendefinition.org/licenses/cc-by": CC_BY,
    f"{EU}licence/CC0": CC0,
    "https://creativecommons.org/publicdomain/zero/1.0/": CC0,
    f"{EU}licence/CC_BYSA_4_0": CC_BY_SA,
    "https://creativecommons.org/licenses/by-sa/4.0/": CC_BY_SA,
}
"""Titles of well-known licences, as CKAN's licence register names them: ckanext-dcat finds a
``license_id`` by the licence IRI, else by its ``dct:title`` (the EU vocabulary IRIs, which
DCAT-AP recommends, are not in CKAN's register)."""


@dataclass(frozen=True)
class DatasetEntry:
    """Everything the graph says about one dataset: description, figures and dump."""

    description: DatasetDescription
    stats: DatasetStats
    dump: Dump


def catalog_iri(iris: DataIris) -> str:
    """Return the IRI of the catalogue (the /catalog document)."""
    return iris.base + "catalog"


def catalog_graph_iri(iris: DataIris) -> str:
    """Return the named graph that holds the catalogue."""
    return iris.base + "graph/catalog"


def dump_url(iris: DataIris, slug: str) -> str:
    """Return the download URL of a dataset's dump."""
    return f"{iris.base}catalog/dataset/{slug}/dump.nq.gz"


class _Builder:
    def __init__(self, iris: DataIris) -> None:
        self.iris = iris
        self.g = Graph()
        self.agents: set[str] = set()
        for prefix, ns in PREFIXES.items():
            self.g.bind(prefix, ns)

    def add(self, s: URIRef, p: URIRef, o: URIRef | Literal) -> None:
        self.g.add((s, p, o))

    def typed(self, iri: str, cls: URIRef, label: str | None = None) -> URIRef:
        """Return the IRI, stating its class and (optionally) its label."""
        node = URIRef(iri)
        self.add(node, RDF.type, cls)
        if label:
            self.add(node, SKOS.prefLabel if cls == SKOS.Concept else RDFS.label, Literal(label))
        return node

    def concept(self, iri: str, label: str, scheme: str | None = None) -> URIRef:
        node = self.typed(iri, SKOS.Concept, label)
        if scheme:
            self.add(node, SKOS.inScheme, self.typed(scheme, SKOS.ConceptScheme))
            self.add(URIRef(scheme), DCTERMS.title, Literal(scheme.rsplit("/", 1)[-1], lang="en"))
        return node

    def texts(self, node: URIRef, prop: URIRef, texts: dict[str, str]) -> None:
        for lang, text in texts.items():
            self.add(node, prop, Literal(text, lang=lang))

    def agent(self, agent: Agent) -> URIRef:
        """Return a foaf:Agent with one cv:ContactPoint (stated once per agent IRI)."""
        node = URIRef(agent.iri)
        if agent.iri not in self.agents:
            self.agents.add(agent.iri)
            key = hashlib.sha256(agent.iri.encode()).hexdigest()[:16]
            point = URIRef(self.iris.resource("contact-point", key))
            self.add(node, RDF.type, FOAF.Agent)
            self.add(node, RDF.type, FOAF.Organization)
            self.add(node, FOAF.name, Literal(agent.name))
            self.add(node, FOAF.mbox, URIRef(f"mailto:{agent.email}"))  # what ckanext-dcat reads
            self.add(node, CV.contactPoint, point)
            self.add(point, RDF.type, CV.ContactPoint)
            self.add(point, CV.email, Literal(agent.email))
        return node

    def kind(self, agent: Agent) -> URIRef:
        key = hashlib.sha256(f"{agent.name}\n{agent.email}".encode()).hexdigest()[:16]
        node = URIRef(self.iris.resource("contact", key))
        self.add(node, RDF.type, VCARD.Kind)
        self.add(node, RDF.type, VCARD.Organization)
        self.add(node, VCARD.fn, Literal(agent.name))
        self.add(node, VCARD.hasEmail, URIRef(f"mailto:{agent.email}"))
        return node

    def common(self, node: URIRef, licence: str, legislation: tuple[str, ...]) -> None:
        document = self.typed(licence, DCTERMS.LicenseDocument)
        self.add(node, DCTERMS.license, document)
        if licence in LICENCE_TITLES:
            self.add(document, DCTERMS.title, Literal(LICENCE_TITLES[licence]))
        for law in legislation:
            self.add(node, DCATAP.applicableLegislation, self.typed(law, ELI.LegalResource))

    def count(self, node: URIRef, prop: URIRef, value: int) -> None:
        """State a count, typed as the profiles demand of ``prop``."""
        self.add(node, prop, Literal(str(max(value, 0)), datatype=DATATYPES[prop]))

    def languages(self, node: URIRef, tags: set[str]) -> None:
        for tag in sorted(tags):
            code = LANGUAGES.get(tag.split("-")[0])
            if code:
                iri = f"{EU}language/{code}"
                self.add(node, DCTERMS.language, self.typed(iri, DCTERMS.LinguisticSystem))


def _when(value: str) -> Literal:
    return Literal(value, datatype=XSD.dateTime if "T" in value else XSD.date)


def build_catalog(
    iris: DataIris, catalog: CatalogDescription, entries: list[DatasetEntry]
) -> Graph:
    """Return the catalogue graph of the given datasets."""
    b = _Builder(iris)
    cat = URIRef(catalog_iri(iris))
    b.add(cat, RDF.type, DCAT.Catalog)
    b.texts(cat, DCTERMS.title, catalog.title)
    b.texts(cat, DCTERMS.description, catalog.description)
    b.add(cat, DCTERMS.identifier, Literal(catalog.identifier))
    b.add(cat, DCTERMS.publisher, b.agent(catalog.publisher))
    b.common(cat, catalog.licence, catalog.legislation)
    b.languages(cat, set(catalog.title))
    for profile, label in PROFILES.items():
        b.add(cat, DCTERMS.conformsTo, b.typed(profile, DCTERMS.Standard, label))
    b.add(cat, FOAF.homepage, b.typed(iris.base, FOAF.Document))
    themes = b.typed(f"{EU}data-theme", SKOS.ConceptScheme)
    b.add(themes, DCTERMS.title, Literal("Data theme", lang="en"))
    b.add(cat, DCAT.themeTaxonomy, themes)
    service = URIRef(iris.resource("service", "sparql"))
    endpoint = URIRef(iris.base + "sparql")
    b.add(cat, DCAT.service, service)
    b.add(service, RDF.type, DCAT.DataService)
    b.add(service, DCTERMS.title, Literal("fairdicom SPARQL 1.1 endpoint", lang="en"))
    b.add(service, DCAT.endpointURL, endpoint)
    b.add(service, DCAT.endpointDescription, endpoint)
    protocol = b.typed("https://www.w3.org/TR/sparql11-protocol/", DCTERMS.Standard, "SPARQL 1.1")
    b.add(service, DCTERMS.conformsTo, protocol)
    b.common(service, catalog.licence, catalog.legislation)
    modified = [e.stats.modified for e in entries if e.stats.modified]
    if modified:
        b.add(cat, DCTERMS.modified, _when(max(modified)))
    for entry in entries:
        dataset = _dataset(b, entry, service, endpoint)
        b.add(cat, DCAT.dataset, dataset)
        b.add(service, DCAT.servesDataset, dataset)
        record = URIRef(iris.resource("record", entry.description.slug))
        b.add(cat, DCAT.record, record)
        b.add(record, RDF.type, DCAT.CatalogRecord)
        b.add(record, FOAF.primaryTopic, dataset)
        b.add(record, DCTERMS.modified, _when(entry.stats.modified or "1970-01-01"))
        health = b.typed(HEALTHDCAT_AP, DCTERMS.Standard, PROFILES[HEALTHDCAT_AP])
        b.add(
            record, DCTERMS.conformsTo, health
        )  # at most one: the profile that includes the other
    return b.g


def _dataset(b: _Builder, entry: DatasetEntry, service: URIRef, endpoint: URIRef) -> URIRef:
    d, s = entry.description, entry.stats
    node = URIRef(b.iris.dataset(d.slug))
    b.add(node, RDF.type, DCAT.Dataset)
    b.add(node, DCTERMS.identifier, Literal(d.slug))
    b.texts(node, DCTERMS.title, d.title)
    b.texts(node, DCTERMS.description, d.description)
    b.languages(node, set(d.title) | set(d.description))
    b.add(node, DCTERMS.publisher, b.agent(d.publisher))
    b.add(node, DCAT.contactPoint, b.kind(d.contact))
    b.add(node, HEALTH.hdab, b.agent(d.hdab))
    rights = b.typed(d.access_rights, DCTERMS.RightsStatement, d.access_level)
    b.add(node, DCTERMS.accessRights, rights)
    for law in d.legislation:
        b.add(node, DCATAP.applicableLegislation, b.typed(law, ELI.LegalResource))
    for theme in d.themes:
        b.add(node, DCAT.theme, b.concept(theme, theme.rsplit("/", 1)[-1], f"{EU}data-theme"))
    for category in d.health_categories:
        label = category.rsplit("/", 1)[-1]
        b.add(node, HEALTH.healthCategory, b.concept(category, label, f"{EU}health-category"))
    if d.dataset_type:
        label = d.dataset_type.rsplit("/", 1)[-1]
        b.add(node, DCTERMS.type, b.concept(d.dataset_type, label, f"{EU}dataset-type"))
    for lang, words in d.keywords.items():
        for word in words:
            b.add(node, DCAT.keyword, Literal(word, lang=lang))
    for concept, label in {**s.modalities, **s.body_parts}.items():
        b.add(node, HEALTH.healthTheme, b.concept(concept, label))
        b.add(node, DCAT.keyword, Literal(label, lang="en"))
    for name in s.manufacturers:
        b.add(node, DCAT.keyword, Literal(name))
    if d.landing_page:
        b.add(node, DCAT.landingPage, b.typed(d.landing_page, FOAF.Document))
    model = b.typed(FAIRDICOM_MODEL, DCTERMS.Standard, "fairdicom RDF model")
    b.add(node, DCTERMS.conformsTo, model)
    provenance = URIRef(b.iris.resource("provenance-statement", d.slug))
    b.add(node, DCTERMS.provenance, provenance)
    b.add(provenance, RDF.type, DCTERMS.ProvenanceStatement)
    statement = "DICOM headers de-identified (PS3.15 Annex E) and mapped to RDF by fairdicom."
    b.add(provenance, RDFS.label, Literal(statement, lang="en"))
    b.count(node, HEALTH.numberOfUniqueIndividuals, s.patients)
    b.count(node, HEALTH.numberOfRecords, s.studies)
    b.add(node, HEALTH.hasStructuredData, Literal(False))
    if s.min_age is not None and s.max_age is not None:
        b.count(node, HEALTH.minTypicalAge, s.min_age)
        b.count(node, HEALTH.maxTypicalAge, s.max_age)
    if s.first_date and s.last_date:
        period = URIRef(b.iris.resource("period", d.slug))
        b.add(node, DCTERMS.temporal, period)
        b.add(period, RDF.type, DCTERMS.PeriodOfTime)
        b.add(period, DCAT.startDate, _when(s.first_date))
        b.add(period, DCAT.endDate, _when(s.last_date))
    if s.issued:
        b.add(node, DCTERMS.issued, _when(s.issued))
    if s.modified:
        b.add(node, DCTERMS.modified, _when(s.modified))
    for dist in (_dump(b, entry), _endpoint(b, d, service, endpoint)):
        b.add(node, DCAT.distribution, dist)
    return node


def _distribution(b: _Builder, d: DatasetDescription, key: str, title: str) -> URIRef:
    node = URIRef(b.iris.resource("distribution", f"{d.slug}-{key}"))
    b.add(node, RDF.type, DCAT.Distribution)
    b.add(node, DCTERMS.title, Literal(title, lang="en"))
    b.common(node, d.licence, d.legislation)
    return node


def _dump(b: _Builder, entry: DatasetEntry) -> URIRef:
    d, dump = entry.description, entry.dump
    node = _distribution(b, d, "nquads", "RDF dump (N-Quads, gzip)")
    url = URIRef(dump_url(b.iris, d.slug))
    b.add(node, DCAT.accessURL, url)
    b.add(node, DCAT.downloadURL, url)
    b.add(node, DCAT.mediaType, b.typed(IANA + "application/n-quads", DCTERMS.MediaType))
    b.add(node, DCAT.compressFormat, b.typed(IANA + "application/gzip", DCTERMS.MediaType))
    b.add(node, DCTERMS.format, b.typed(f"{EU}file-type/NQUADS", DCTERMS.MediaTypeOrExtent))
    b.count(node, DCAT.byteSize, dump.byte_size)
    checksum = URIRef(b.iris.resource("checksum", f"{d.slug}-nquads"))
    b.add(node, SPDX.checksum, checksum)
    b.add(checksum, RDF.type, SPDX.Checksum)
    b.add(checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256)
    b.add(checksum, SPDX.checksumValue, Literal(dump.sha256, datatype=XSD.hexBinary))
    if entry.stats.modified:
        b.add(node, DCTERMS.modified, _when(entry.stats.modified))
    return node


def _endpoint(b: _Builder, d: DatasetDescription, service: URIRef, endpoint: URIRef) -> URIRef:
    node = _distribution(b, d, "sparql", "SPARQL 1.1 endpoint")
    b.add(node, DCAT.accessURL, endpoint)
    b.add(node, DCAT.accessService, service)
    return node
