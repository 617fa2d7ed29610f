"""Linked Data: every minted IRI dereferences as HTML and RDF; VoID describes the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyoxigraph
import pytest
import rdflib
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.resources import SAMPLE
from fairdicom.web import create_app
from fairdicom.web.protocol import SERVICE_KEY
from flask import Flask
from flask.testing import FlaskClient

BASE = "http://localhost/"
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
TURTLE = {"Accept": "text/turtle"}
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SERIES = "<https://w3id.org/fairdicom/ontology#Series>"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    location = tmp_path_factory.mktemp("linked-data") / "store"
    settings = load_settings(store=str(location), base_iri=BASE, secret="s")
    ingest([SAMPLE], settings, "sample")
    return location


@pytest.fixture(scope="module")
def app(store: Path) -> Iterator[Flask]:
    # Every subject, the provenance graph's included (closed to anonymous readers when access
    # control is on, tests/test_access.py).
    settings = load_settings(
        store=str(store), base_iri=BASE, secret="s", query_workers=1, access_control=False
    )
    web = create_app(settings)
    yield web
    web.extensions[SERVICE_KEY].close()


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def subjects(store: Path) -> dict[str, set[tuple[str, str]]]:
    """Return the (predicate, object N-Triples) pairs of every subject under ``{base}id/``."""
    found: dict[str, set[tuple[str, str]]] = {}
    oxi = pyoxigraph.Store.read_only(str(store))
    for quad in oxi.quads_for_pattern(None, None, None, None):
        subject = quad.subject
        if isinstance(subject, pyoxigraph.NamedNode) and subject.value.startswith(BASE + "id/"):
            found.setdefault(subject.value, set()).add((quad.predicate.value, str(quad.object)))
    return found


def _path(iri: str) -> str:
    return "/" + iri.removeprefix(BASE)


def test_every_subject_dereferences(
    client: FlaskClient, subjects: dict[str, set[tuple[str, str]]]
) -> None:
    assert len(subjects) > 100
    kinds = {iri.removeprefix(BASE + "id/").split("/")[0] for iri in subjects}
    assert {"patient", "study", "series", "instance", "run"} <= kinds
    for iri, pairs in subjects.items():
        page = client.get(_path(iri), headers=BROWSER)
        assert page.status_code == 200, iri
        assert page.mimetype == "text/html"
        assert iri in page.get_data(as_text=True)
        reply = client.get(_path(iri), headers=TURTLE)
        assert reply.status_code == 200, iri
        assert reply.mimetype == "text/turtle"
        assert "Accept" in reply.headers["Vary"]
        graph = rdflib.Graph().parse(data=reply.get_data(as_text=True), format="turtle")
        subject = rdflib.URIRef(iri)
        got = {(str(p), o.n3()) for p, o in graph.predicate_objects(subject)}
        assert len(got) == len(pairs), iri
        assert {p for p, _ in pairs} == {p for p, _ in got}, iri


def test_html_links_stay_on_server(
    client: FlaskClient, subjects: dict[str, set[tuple[str, str]]]
) -> None:
    iri = next(i for i, pairs in sorted(subjects.items()) if (RDF_TYPE, SERIES) in pairs)
    page = client.get(_path(iri), headers=BROWSER).get_data(as_text=True)
    assert 'href="/id/study/' in page
    assert "fd:Series" in page
    assert "?format=jsonld" in page


def test_formats_and_links(client: FlaskClient, subjects: dict[str, set[tuple[str, str]]]) -> None:
    iri = next(i for i in sorted(subjects) if "/id/study/" in i)
    default = client.get(_path(iri))
    assert default.mimetype == "text/turtle"
    links = default.headers.get_all("Link")
    assert any('type="application/ld+json"' in link for link in links)
    assert any('type="text/html"' in link for link in links)
    for fmt, media_type, parser in [
        ("jsonld", "application/ld+json", "json-ld"),
        ("rdf", "application/rdf+xml", "xml"),
        ("nt", "application/n-triples", "nt"),
    ]:
        reply = client.get(_path(iri) + f"?format={fmt}")
        assert reply.mimetype == media_type
        graph = rdflib.Graph().parse(data=reply.get_data(as_text=True), format=parser)
        assert (rdflib.URIRef(iri), None, None) in graph
    jsonld = client.get(_path(iri), headers={"Accept": "application/ld+json"})
    assert jsonld.mimetype == "application/ld+json"
    assert client.get(_path(iri), headers={"Accept": "image/png"}).status_code == 406


def test_unknown_iri_is_404(client: FlaskClient) -> None:
    reply = client.get("/id/series/nope")
    assert reply.status_code == 404
    assert reply.get_json()["error"]["status"] == 404
    page = client.get("/id/series/nope", headers=BROWSER)
    assert page.status_code == 404
    assert page.mimetype == "text/html"


def test_void(client: FlaskClient) -> None:
    reply = client.get("/.well-known/void")
    assert reply.status_code == 200
    assert reply.mimetype == "text/turtle"
    graph = rdflib.Graph().parse(data=reply.get_data(as_text=True), format="turtle")
    store = rdflib.URIRef(BASE + ".well-known/void#store")
    assert (store, VOID.sparqlEndpoint, rdflib.URIRef(BASE + "sparql")) in graph
    assert (store, VOID.uriSpace, rdflib.Literal(BASE + "id/")) in graph
    subsets = set(graph.objects(store, VOID.subset))
    assert rdflib.URIRef(BASE + "graph/sample/raw") in subsets
    assert rdflib.URIRef(BASE + "graph/provenance") in subsets
    counts = [int(str(graph.value(subset, VOID.triples))) for subset in subsets]
    assert all(count > 0 for count in counts)
    assert int(str(graph.value(store, VOID.triples))) == sum(counts)
    assert len(set(graph.objects(store, VOID.vocabulary))) == 4
    jsonld = client.get("/.well-known/void?format=jsonld")
    rdflib.Graph().parse(data=jsonld.get_data(as_text=True), format="json-ld")
