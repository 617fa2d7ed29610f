"""The FAIR Data Point of a real ``fairdicom serve``, read by the ``fairdatapoint-client`` package
and by following its links as the FDP specification (v1.0) describes them."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import rdflib
from fairdicom.catalog.build import refresh_catalog
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.resources import SAMPLE
from fdpclient.client import Client
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from tests.servers import free_port, running_server

FDPO = rdflib.Namespace("https://w3id.org/fdp/fdp-o#")
LDP = rdflib.Namespace("http://www.w3.org/ns/ldp#")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("fdp")
    port = free_port()
    base = f"http://localhost:{port}/"
    settings = load_settings(store=str(work / "store"), base_iri=base, secret="s", workers=1)
    ingest([SAMPLE], settings, "sample")
    refresh_catalog(settings)
    with running_server(work, port, {"store": str(work / "store"), "query_workers": "1"}):
        yield base


def get(url: str, accept: str | None) -> tuple[str, bytes]:
    """GET a URL; return its Content-Type (whole, parameters included) and body."""
    headers = {"Accept": accept} if accept else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as reply:
        assert reply.status == 200
        return reply.headers["Content-Type"], reply.read()


def test_the_fdp_client_reads_the_root_the_catalogue_and_a_dataset(base: str) -> None:
    client = Client(base)  # finds the FDP's record: GET <host>/fdp must be plain text/turtle
    root = client.read_fdp()
    node = rdflib.URIRef(base)
    assert (node, RDF.type, FDPO.FAIRDataPoint) in root
    catalog = root.value(node, FDPO.metadataCatalog)
    assert catalog == rdflib.URIRef(base + "catalog")
    identifier = str(root.value(catalog, DCTERMS.identifier) or "fairdicom")
    record = client.read_catalog(identifier)
    assert (catalog, RDF.type, DCAT.Catalog) in record
    dataset = rdflib.URIRef(base + "id/dataset/sample")
    assert (catalog, DCAT.dataset, dataset) in record
    assert (catalog, DCTERMS.isPartOf, node) in record
    described = client.read_dataset("sample")
    assert (dataset, RDF.type, DCAT.Dataset) in described
    dump = rdflib.URIRef(base + "id/distribution/sample-nquads")
    assert (dataset, DCAT.distribution, dump) in described
    distribution = client.read_distribution("sample-nquads")
    assert (dump, DCAT.downloadURL, None) in distribution


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("text/turtle", "text/turtle"),
        ("application/ld+json", "application/ld+json"),
        ("application/rdf+xml;q=0.9, text/html;q=0.1", "application/rdf+xml"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
        (None, "text/html"),
    ],
)
def test_the_root_answers_rdf_to_fdp_clients_and_the_page_to_browsers(
    base: str, accept: str | None, media_type: str
) -> None:
    content_type, body = get(base, accept)
    assert content_type.split(";")[0] == media_type
    if media_type == "text/html":
        assert b"<html" in body.lower()
        return
    assert content_type == media_type  # no charset parameter: FDP clients compare it whole
    fmt = {"text/turtle": "turtle", "application/ld+json": "json-ld"}.get(media_type, "xml")
    graph = rdflib.Graph().parse(data=body, format=fmt)
    assert (rdflib.URIRef(base), RDF.type, FDPO.MetadataService) in graph


def assert_record(graph: rdflib.Graph, node: rdflib.URIRef) -> None:
    """Check the metadata every FDP record must carry."""
    identifier = graph.value(node, FDPO.metadataIdentifier)
    assert isinstance(identifier, rdflib.URIRef), node
    for prop in (FDPO.metadataIssued, FDPO.metadataModified):
        value = graph.value(node, prop)
        assert isinstance(value, rdflib.Literal) and value.datatype == XSD.dateTime, (node, prop)
        assert value.toPython()  # a valid xsd:dateTime


def children(graph: rdflib.Graph, node: rdflib.URIRef, relation: rdflib.URIRef) -> set[str]:
    """Return what the record's LDP container says ``node`` holds through ``relation``."""
    containers = [
        c
        for c in graph.subjects(LDP.membershipResource, node)
        if (c, RDF.type, LDP.DirectContainer) in graph
        and (c, LDP.hasMemberRelation, relation) in graph
    ]
    assert len(containers) == 1, (node, relation)
    members = {str(m) for m in graph.objects(containers[0], LDP.contains)}
    assert members == {str(m) for m in graph.objects(node, relation)}
    return members


def test_a_client_navigates_from_the_root_to_every_distribution(base: str) -> None:
    _, body = get(base + "fdp", None)  # RDF with nothing asked: Turtle, the FDP default
    root = rdflib.Graph().parse(data=body, format="turtle")
    node = rdflib.URIRef(base)
    assert_record(root, node)
    assert root.value(node, FDPO.conformsToFdpSpec) is not None
    assert str(root.value(node, FDPO.hasSoftwareVersion)).startswith("fairdicom ")
    assert root.value(node, DCTERMS.license) is not None
    assert root.value(node, DCAT.endpointURL) == node
    publisher = root.value(node, DCTERMS.publisher)
    assert root.value(publisher, FOAF.name) is not None
    assert root.value(node, DCTERMS.title) is not None
    visited = 0
    for catalog in children(root, node, FDPO.metadataCatalog):
        _, body = get(catalog, "text/turtle")
        record = rdflib.Graph().parse(data=body, format="turtle")
        assert_record(record, rdflib.URIRef(catalog))
        for dataset in children(record, rdflib.URIRef(catalog), DCAT.dataset):
            slug = dataset.rsplit("/", 1)[-1]
            _, body = get(f"{base}dataset/{slug}", "text/turtle")
            described = rdflib.Graph().parse(data=body, format="turtle")
            assert_record(described, rdflib.URIRef(dataset))
            for distribution in children(described, rdflib.URIRef(dataset), DCAT.distribution):
                key = distribution.rsplit("/", 1)[-1]
                _, body = get(f"{base}distribution/{key}", "text/turtle")
                graph = rdflib.Graph().parse(data=body, format="turtle")
                assert_record(graph, rdflib.URIRef(distribution))
                visited += 1
    assert visited == 2  # the sample's dump and its SPARQL endpoint


def test_unknown_records_are_404(base: str) -> None:
    for path in ("catalog/nope", "dataset/nope", "distribution/nope"):
        with pytest.raises(urllib.error.HTTPError) as error:
            get(base + path, "text/turtle")
        assert error.value.code == 404
        error.value.close()  # its response holds the connection
