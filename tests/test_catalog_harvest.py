"""A harvester walks the Hydra pages of /catalog (as ckanext-dcat and piveau do)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from fairdicom.catalog.build import refresh_catalog
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.resources import SAMPLE
from fairdicom.web import create_app
from fairdicom.web.protocol import SERVICE_KEY
from flask import Flask
from flask.testing import FlaskClient
from rdflib.namespace import DCAT, RDF, XSD

BASE = "http://localhost/"
HYDRA = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Iterator[FlaskClient]:
    location = tmp_path_factory.mktemp("harvest") / "store"
    settings = load_settings(store=str(location), base_iri=BASE, secret="s", query_workers=1)
    ingest([SAMPLE], settings, "sample")
    ingest([corpus], settings, "sample-two")
    text = (ROOT / "data" / "datasets.toml").read_text()
    second = text[text.index("[datasets.sample]") :].replace("[datasets.sample]", "")
    descriptions = tmp_path_factory.mktemp("desc") / "datasets.toml"
    descriptions.write_text(text + "\n[datasets.sample-two]" + second)
    assert refresh_catalog(settings, descriptions).published == ["sample", "sample-two"]
    app: Flask = create_app(settings)
    yield app.test_client()
    app.extensions[SERVICE_KEY].close()


def test_harvester_follows_hydra_next_and_sees_every_dataset_once(client: FlaskClient) -> None:
    url: str | None = BASE + "catalog?pageSize=1"
    seen: list[str] = []
    pages = 0
    while url:
        response = client.get(url.removeprefix(BASE.rstrip("/")), headers={"Accept": "text/turtle"})
        assert response.status_code == 200, response.get_data(as_text=True)
        graph = rdflib.Graph().parse(data=response.get_data(as_text=True), format="turtle")
        seen += [str(d) for d in graph.subjects(RDF.type, DCAT.Dataset)]
        catalog = rdflib.URIRef(BASE + "catalog")
        total = graph.value(catalog, HYDRA.totalItems)
        assert total == rdflib.Literal(2, datatype=XSD.integer)
        views = list(graph.subjects(RDF.type, HYDRA.PartialCollectionView))
        assert len(views) == 1
        assert isinstance(graph.value(views[0], HYDRA.first), rdflib.URIRef)
        assert isinstance(graph.value(views[0], HYDRA.last), rdflib.URIRef)
        following = graph.value(views[0], HYDRA.next)
        assert following is None or isinstance(following, rdflib.URIRef)
        url = str(following) if following else None
        pages += 1
        assert pages <= 3
    assert sorted(seen) == [BASE + "id/dataset/sample", BASE + "id/dataset/sample-two"]
    assert pages == 2
