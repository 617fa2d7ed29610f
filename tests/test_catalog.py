"""The DCAT-AP / HealthDCAT-AP catalogue: conformance to the official shapes, /catalog pages."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
import rdflib
from fairdicom.catalog.build import CatalogSummary, refresh_catalog
from fairdicom.catalog.conformance import (
    REFERENCE,
    hoist_pathless_properties,
    shapes_graph,
    validate_catalog,
)
from fairdicom.catalog.stats import dataset_stats
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.namespaces import DataIris
from fairdicom.resources import SAMPLE
from fairdicom.store import open_store
from fairdicom.web import create_app
from fairdicom.web.protocol import SERVICE_KEY
from flask import Flask
from flask.testing import FlaskClient
from rdflib.namespace import DCAT, DCTERMS, RDF

BASE = "http://localhost/"
HERE = Path(__file__).resolve().parent
HEALTH = rdflib.Namespace("http://healthdataportal.eu/ns/health#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CatalogSummary]:
    location = tmp_path_factory.mktemp("catalog") / "store"
    settings = load_settings(store=str(location), base_iri=BASE, secret="s")
    ingest([SAMPLE], settings, "sample")
    return location, refresh_catalog(settings)


@pytest.fixture(scope="module")
def client(built: tuple[Path, CatalogSummary]) -> Iterator[FlaskClient]:
    settings = load_settings(store=str(built[0]), base_iri=BASE, secret="s", query_workers=1)
    app: Flask = create_app(settings)
    yield app.test_client()
    app.extensions[SERVICE_KEY].close()


def test_reference_shapes_are_the_local_copies() -> None:
    assert (HERE.parent / "shapes" / "reference").samefile(REFERENCE)
    assert (REFERENCE / "PROVENANCE.md").is_file()


def test_catalogue_conforms_to_dcat_ap_and_healthdcat_ap(
    built: tuple[Path, CatalogSummary],
) -> None:
    summary = built[1]
    assert summary.published == ["sample"]
    results = validate_catalog(summary.graph)
    assert [r.profile for r in results] == ["DCAT-AP 3.0.1", "HealthDCAT-AP r8 PUBLIC"]
    for result in results:
        assert result.conforms, result.text
        assert result.violations == 0, result.text


@pytest.mark.parametrize("level", ["RESTRICTED", "NON_PUBLIC"])
def test_other_access_levels_conform_to_their_shapes(
    built: tuple[Path, CatalogSummary], level: str
) -> None:
    graph = rdflib.Graph()
    rights = rdflib.URIRef(f"http://publications.europa.eu/resource/authority/access-right/{level}")
    for s, p, o in built[1].graph:
        graph.add((s, p, rights if p == DCTERMS.accessRights else o))
    graph.add((rights, RDF.type, DCTERMS.RightsStatement))
    results = validate_catalog(graph)
    assert results[-1].profile == f"HealthDCAT-AP r8 {level}"
    assert all(r.conforms for r in results), [r.text for r in results]


def test_a_missing_mandatory_property_is_a_violation(built: tuple[Path, CatalogSummary]) -> None:
    graph = rdflib.Graph()
    for triple in built[1].graph:
        if triple[1] != HEALTH.hdab:
            graph.add(triple)
    results = validate_catalog(graph)
    assert results[0].conforms
    assert not results[1].conforms and "hdab" in results[1].text


def test_the_pathless_property_is_hoisted() -> None:
    raw = rdflib.Graph().parse(REFERENCE / "healthdcat-ap-r8/public-shapes.ttl")
    assert hoist_pathless_properties(raw) == 1
    shapes = shapes_graph(("healthdcat-ap-r8/public-shapes.ttl",))
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    assert all((p, sh.path, None) in shapes for p in shapes.objects(None, sh.property))


def test_figures_come_from_the_store(built: tuple[Path, CatalogSummary]) -> None:
    graph = built[1].graph
    dataset = rdflib.URIRef(BASE + "id/dataset/sample")
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in SAMPLE.rglob("*.dcm")]
    patients = {str(h.PatientID) for h in headers}
    studies = {str(h.StudyInstanceUID) for h in headers}
    assert int(graph.value(dataset, HEALTH.numberOfUniqueIndividuals)) == len(patients) == 6
    assert int(graph.value(dataset, HEALTH.numberOfRecords)) == len(studies) == 12
    keywords = {str(k) for k in graph.objects(dataset, DCAT.keyword)}
    assert {"Computed Tomography", "DICOM"} <= keywords
    dump = built[0] / "dumps" / "sample.nq.gz"
    checksum = next(graph.objects(None, SPDX.checksumValue))
    assert str(checksum) == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert int(next(graph.objects(None, DCAT.byteSize))) == dump.stat().st_size
    quads = gzip.decompress(dump.read_bytes()).decode().splitlines()
    assert all(
        line.endswith(("/graph/sample/raw> .", "/graph/sample/curated> .")) for line in quads
    )


def test_dataset_counts_are_those_of_the_files(built: tuple[Path, CatalogSummary]) -> None:
    """The four counts of a dataset (counted as triples of the hierarchy, patients distinct)
    are what pydicom reads from the files."""
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in SAMPLE.rglob("*.dcm")]
    store = open_store(load_settings(store=str(built[0]), base_iri=BASE), read_only=True)
    try:
        stats = dataset_stats(store, DataIris(BASE), "sample")
    finally:
        store.close()
    found = (stats.patients, stats.studies, stats.series, stats.instances)
    assert found == (
        len({str(h.PatientID) for h in headers}),
        len({str(h.StudyInstanceUID) for h in headers}),
        len({str(h.SeriesInstanceUID) for h in headers}),
        len({str(h.SOPInstanceUID) for h in headers}),
    )
    assert found[0] < found[1] < found[2] < found[3]


@pytest.mark.parametrize(
    ("accept", "fmt", "media_type", "parse"),
    [
        (None, None, "text/turtle", "turtle"),
        ("application/rdf+xml", None, "application/rdf+xml", "xml"),
        ("application/ld+json", None, "application/ld+json", "json-ld"),
        ("application/n-triples", None, "application/n-triples", "nt"),
        ("text/html", "jsonld", "application/ld+json", "json-ld"),
    ],
)
def test_catalogue_content_negotiation(
    client: FlaskClient, accept: str | None, fmt: str | None, media_type: str, parse: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/catalog" + (f"?format={fmt}" if fmt else ""), headers=headers)
    assert response.status_code == 200
    assert response.mimetype == media_type
    graph = rdflib.Graph().parse(data=response.get_data(as_text=True), format=parse)
    assert (rdflib.URIRef(BASE + "id/dataset/sample"), RDF.type, DCAT.Dataset) in graph


def test_catalogue_html_and_bad_requests(client: FlaskClient) -> None:
    page = client.get("/catalog", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "/catalog/dataset/sample" in page.get_data(as_text=True)
    assert client.get("/catalog?pageSize=0").status_code == 400
    assert client.get("/catalog?page=9").status_code == 404
    assert client.get("/catalog?format=csv").status_code == 406


def test_dataset_pages(client: FlaskClient) -> None:
    assert client.get("/catalog/dataset/nope").status_code == 404
    assert client.get("/catalog/dataset/nope/dump.nq.gz").status_code == 404
    rdf = client.get("/catalog/dataset/sample", headers={"Accept": "text/turtle"})
    assert rdf.status_code == 200 and rdf.mimetype == "text/turtle"
    html = client.get("/catalog/dataset/sample", headers={"Accept": "text/html"})
    assert html.status_code == 200 and html.mimetype == "text/html"
    text = html.get_data(as_text=True)
    scripts = re.findall(r'<script type="application/ld\+json">(.*?)</script>', text, re.DOTALL)
    assert len(scripts) == 1
    data = json.loads(scripts[0])
    assert data["@context"] == "https://schema.org/" and data["@type"] == "Dataset"
    assert data["name"] == "fairdicom synthetic imaging sample"
    offline = json.dumps({**data, "@context": {"@vocab": "https://schema.org/"}})
    parsed = rdflib.Graph().parse(data=offline, format="json-ld")  # no fetch of the context
    schema = rdflib.Namespace("https://schema.org/")
    assert (rdflib.URIRef(BASE + "id/dataset/sample"), RDF.type, schema.Dataset) in parsed
    download = data["distribution"][0]["contentUrl"]
    dump = client.get(download.removeprefix(BASE.rstrip("/")))
    assert dump.status_code == 200 and dump.mimetype == "application/gzip"
    assert gzip.decompress(dump.get_data())
    dump.close()
