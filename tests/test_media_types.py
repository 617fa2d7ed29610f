"""One content negotiation everywhere: ``Accept`` / ``format=`` / endpoint -> status and type.

The table below is written by hand from the standards (the IANA media types of the RDF and
SPARQL results syntaxes, the SPARQL 1.1 Protocol, RFC 9110 ``Accept`` qualities, the
``format=`` names SPARQLWrapper sends), not from the registry: each row sends one request
through the Flask test client to an app over a store with the bundled sample ingested, and
checks the status, the Content-Type and that the body parses in the syntax it names.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import rdflib
from fairdicom import media_types
from fairdicom.catalog.build import refresh_catalog
from fairdicom.config import Settings, load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.resources import SAMPLE
from fairdicom.web import create_app
from fairdicom.web.protocol import SERVICE_KEY
from flask import Flask
from flask.testing import FlaskClient
from rdflib.compare import isomorphic

from tests.conftest import run_cli

BASE = "http://localhost/"
FD = "https://w3id.org/fairdicom/ontology#"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SPARQLWRAPPER_N3 = (
    "application/turtle,text/turtle,text/rdf+n3,application/n-triples,application/n3,text/n3"
)
SRJ = "application/sparql-results+json"
SRX = "application/sparql-results+xml"
TTL = "text/turtle"
N3 = "text/n3"
NT = "application/n-triples"
RDFXML = "application/rdf+xml"
JSONLD = "application/ld+json"
NQ = "application/n-quads"
TRIG = "application/trig"
HTML = "text/html"
RDF_PARSERS = {
    TTL: "turtle",
    N3: "n3",
    NT: "nt",
    RDFXML: "xml",
    JSONLD: "json-ld",
    NQ: "nquads",
    TRIG: "trig",
}
"""rdflib's parser of each RDF media type (written out here, not taken from the registry)."""

SELECT = f"PREFIX fd: <{FD}> SELECT ?s ?m WHERE {{ ?s fd:modality ?m }} LIMIT 3"
ASK = f"PREFIX fd: <{FD}> ASK {{ ?s a fd:Series }}"
CONSTRUCT = f"PREFIX fd: <{FD}> CONSTRUCT WHERE {{ ?s fd:modality ?m }}"

CASES: list[tuple[str, str | None, str | None, int, str]] = [
    # endpoint, Accept, format=, status, Content-Type (or what a 406 must offer)
    ("select", None, None, 200, SRJ),
    ("select", SRX, None, 200, SRX),
    ("select", "text/csv", None, 200, "text/csv"),
    ("select", "text/tab-separated-values", None, 200, "text/tab-separated-values"),
    ("select", "application/json", None, 200, SRJ),
    ("select", "application/xml", None, 200, SRX),
    ("select", "text/*", None, 200, "text/csv"),
    ("select", "text/csv;q=0, text/*", None, 200, "text/tab-separated-values"),
    ("select", "text/csv;q=0.5, application/sparql-results+xml", None, 200, SRX),
    ("select", "text/turtle, text/csv;q=0.2", None, 200, "text/csv"),
    ("select", "*/*", None, 200, SRJ),
    ("select", "text/csv", "json", 200, SRJ),
    ("select", None, "xml", 200, SRX),
    ("select", None, "csv", 200, "text/csv"),
    ("select", None, "tsv", 200, "text/tab-separated-values"),
    ("select", None, SRJ, 200, SRJ),
    ("select", TTL, None, 406, SRJ),
    ("select", "image/png", None, 406, SRJ),
    ("select", None, "turtle", 406, SRJ),
    ("select", None, "json-ld", 406, SRJ),
    ("select", None, "n3", 406, SRJ),
    ("ask", None, None, 200, SRJ),
    ("ask", None, "xml", 200, SRX),
    ("ask", "text/csv", None, 200, "text/csv"),
    ("construct", None, None, 200, TTL),
    ("construct", "*/*", None, 200, TTL),
    ("construct", "text/turtle;q=0, */*", None, 200, NT),
    ("construct", TTL, None, 200, TTL),
    ("construct", N3, None, 200, N3),
    ("construct", "text/rdf+n3", None, 200, N3),
    ("construct", SPARQLWRAPPER_N3, None, 200, TTL),
    ("construct", NT, None, 200, NT),
    ("construct", RDFXML, None, 200, RDFXML),
    ("construct", JSONLD, None, 200, JSONLD),
    ("construct", NQ, None, 200, NQ),
    ("construct", TRIG, None, 200, TRIG),
    ("construct", "application/json", None, 200, JSONLD),
    ("construct", "application/xml", None, 200, RDFXML),
    ("construct", BROWSER, None, 200, RDFXML),
    ("construct", None, "json", 200, JSONLD),
    ("construct", None, "xml", 200, RDFXML),
    ("construct", None, "rdf+xml", 200, RDFXML),
    ("construct", None, "n3", 200, N3),
    ("construct", None, "turtle", 200, TTL),
    ("construct", None, "ttl", 200, TTL),
    ("construct", None, "nt", 200, NT),
    ("construct", None, "jsonld", 200, JSONLD),
    ("construct", None, "json-ld", 200, JSONLD),
    ("construct", None, "nq", 200, NQ),
    ("construct", None, "trig", 200, TRIG),
    ("construct", None, "csv", 406, TTL),
    ("construct", None, "html", 406, TTL),
    ("construct", SRJ, None, 406, TTL),
    ("describe", None, "n3", 200, N3),
    ("describe", None, "json", 200, JSONLD),
    ("sd", None, None, 200, TTL),
    ("sd", "*/*", None, 200, TTL),
    ("sd", N3, None, 200, N3),
    ("sd", None, "json", 200, JSONLD),
    ("sd", None, "csv", 406, TTL),
    ("store", None, None, 200, TTL),
    ("store", N3, None, 200, N3),
    ("store", None, "json", 200, JSONLD),
    ("store", None, "rdf+xml", 200, RDFXML),
    ("store", None, "csv", 406, TTL),
    ("store", SRJ, None, 406, TTL),
    ("id", None, None, 200, TTL),
    ("id", BROWSER, None, 200, HTML),
    ("id", None, "json", 200, JSONLD),
    ("id", None, "xml", 200, RDFXML),
    ("id", None, "rdf+xml", 200, RDFXML),
    ("id", None, "n3", 200, N3),
    ("id", N3, None, 200, N3),
    ("id", None, "nq", 200, NQ),
    ("id", "application/json", None, 200, JSONLD),
    ("id", "text/html;q=0.5, text/turtle", None, 200, TTL),
    ("id", "*/*;q=0.1, text/html", None, 200, HTML),
    ("id", None, "csv", 406, TTL),
    ("id", "text/csv", None, 406, TTL),
    ("id", None, "tsv", 406, HTML),
    ("void", None, None, 200, TTL),
    ("void", None, "json", 200, JSONLD),
    ("void", None, "n3", 200, N3),
    ("void", None, "html", 406, TTL),
    ("catalog", None, None, 200, TTL),
    ("catalog", None, "json", 200, JSONLD),
    ("catalog", None, "n3", 200, N3),
    ("catalog", None, "nq", 200, NQ),
    ("catalog", None, "trig", 200, TRIG),
    ("catalog", HTML, None, 200, HTML),
    ("catalog", None, "csv", 406, TTL),
    ("dataset", None, "json", 200, JSONLD),
    ("dataset", RDFXML, None, 200, RDFXML),
    ("dataset", BROWSER, None, 200, HTML),
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    location = tmp_path_factory.mktemp("media-types") / "store"
    values = {"store": str(location), "base_iri": BASE, "secret": "media-types-secret"}
    ingest([SAMPLE], load_settings(**values), "sample")
    refresh_catalog(load_settings(**values))
    # The table reads the provenance graph, closed to anonymous readers under access control.
    return load_settings(**values, query_workers=1, access_control=False)


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Flask]:
    web = create_app(settings)
    yield web
    web.extensions[SERVICE_KEY].close()


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def paths(client: FlaskClient) -> dict[str, str]:
    """Return the path of each endpoint of the table (one minted IRI for ``id``)."""
    reply = client.get(
        f"/sparql?query={quote(f'SELECT ?s WHERE {{ ?s a <{FD}Series> }} LIMIT 1')}",
        headers={"Accept": SRJ},
    )
    series = reply.get_json()["results"]["bindings"][0]["s"]["value"]
    return {
        "select": f"/sparql?query={quote(SELECT)}",
        "ask": f"/sparql?query={quote(ASK)}",
        "construct": f"/sparql?query={quote(CONSTRUCT)}",
        "describe": f"/sparql?query={quote(f'DESCRIBE <{series}>')}",
        "sd": "/sparql",
        "store": f"/store?graph={quote(BASE + 'graph/provenance')}",
        "id": urlsplit(series).path,
        "void": "/.well-known/void",
        "catalog": "/catalog",
        "dataset": "/catalog/dataset/sample",
    }


def _with_format(path: str, fmt: str | None) -> str:
    if fmt is None:
        return path
    return f"{path}{'&' if '?' in path else '?'}format={quote(fmt)}"


def _check_body(media_type: str, body: bytes) -> None:
    """Check that the body parses in the syntax its Content-Type names, and is not empty."""
    text = body.decode("utf-8")
    if media_type in (NQ, TRIG):
        dataset = rdflib.Dataset()
        dataset.parse(data=text, format=RDF_PARSERS[media_type])
        assert len(list(dataset.quads((None, None, None, None)))) > 0
    elif media_type in RDF_PARSERS:
        assert len(rdflib.Graph().parse(data=text, format=RDF_PARSERS[media_type])) > 0
    elif media_type == SRJ:
        assert "head" in json.loads(text)
    elif media_type == SRX:
        assert ET.fromstring(text).tag == "{http://www.w3.org/2005/sparql-results#}sparql"
    elif media_type == "text/csv":
        assert next(csv.reader(io.StringIO(text)))
    elif media_type == "text/tab-separated-values":
        assert text.startswith(("?", "true", "false"))
    else:
        assert media_type == HTML and "<html" in text.lower()


@pytest.mark.parametrize(("endpoint", "accept", "fmt", "status", "media_type"), CASES)
def test_negotiation_table(
    client: FlaskClient,
    paths: dict[str, str],
    endpoint: str,
    accept: str | None,
    fmt: str | None,
    status: int,
    media_type: str,
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    reply = client.get(_with_format(paths[endpoint], fmt), headers=headers)
    body = reply.get_data()
    assert reply.status_code == status, body[:300]
    if status == 406:
        detail = reply.get_json()["error"]["detail"]
        assert media_type in detail, detail  # the refusal lists what is offered
        assert (fmt or accept or "") in detail
        return
    assert reply.mimetype == media_type
    assert "Accept" in reply.headers.get("Vary", "")
    _check_body(media_type, body)


def test_every_rdf_format_of_a_resource_holds_the_same_graph(
    client: FlaskClient, paths: dict[str, str]
) -> None:
    graphs = {}
    for media_type, parser in RDF_PARSERS.items():
        reply = client.get(paths["id"], headers={"Accept": media_type})
        assert reply.status_code == 200 and reply.mimetype == media_type
        if media_type in (NQ, TRIG):
            dataset = rdflib.Dataset()
            dataset.parse(data=reply.get_data(as_text=True), format=parser)
            graph = rdflib.Graph()
            for s, p, o, _ in dataset.quads((None, None, None, None)):
                graph.add((s, p, o))
        else:
            graph = rdflib.Graph().parse(data=reply.get_data(as_text=True), format=parser)
        graphs[media_type] = graph
    assert len(graphs[TTL]) > 3
    for media_type, graph in graphs.items():
        assert isomorphic(graph, graphs[TTL]), media_type


def test_every_alternate_link_answers_in_its_type(
    client: FlaskClient, paths: dict[str, str]
) -> None:
    for path in (paths["id"], paths["void"]):
        links = client.get(path).headers.get_all("Link")
        alternates = [link for link in links if 'rel="alternate"' in link]
        assert len(alternates) >= 5, links
        for link in alternates:
            url = link.split(">", 1)[0].lstrip("<")
            declared = link.split('type="', 1)[1].rstrip('"')
            reply = client.get(url.removeprefix(BASE.rstrip("/")))
            assert reply.status_code == 200, url
            assert reply.mimetype == declared, url
    page = client.get(paths["id"], headers={"Accept": BROWSER}).get_data(as_text=True)
    for name in ("ttl", "jsonld", "rdf", "nt", "n3"):
        assert f"?format={name}" in page


def test_one_name_one_format_per_offer() -> None:
    """Within what one endpoint offers, a name, media type or extension selects one format."""
    for offer in (media_types.RESULTS, media_types.RDF, media_types.DOCUMENT):
        seen: dict[str, str] = {}
        for fmt in offer:
            for key in (fmt.media_type, *fmt.aliases, *fmt.names):
                assert seen.setdefault(key, fmt.name) == fmt.name, (key, fmt.name, seen[key])
    names = [fmt.name for fmt in media_types.FORMATS]
    assert len(names) == len(set(names))
    extensions = [ext for fmt in media_types.RDF for ext in fmt.extensions]
    assert len(extensions) == len(set(extensions))


@pytest.mark.parametrize(
    ("name", "parser"),
    [
        ("nquads", "nquads"),
        ("nq", "nquads"),
        ("trig", "trig"),
        ("turtle", "turtle"),
        ("ttl", "turtle"),
        ("ntriples", "nt"),
        ("nt", "nt"),
        ("n3", "n3"),
        ("rdf+xml", "xml"),
        ("jsonld", "json-ld"),
        ("json", "json-ld"),
    ],
)
def test_export_takes_the_format_names_of_the_web(
    settings: Settings, name: str, parser: str, tmp_path: Path
) -> None:
    graph = BASE + "graph/provenance"
    env = {"FAIRDICOM_STORE": settings.store, "FAIRDICOM_SECRET": "media-types-secret"}
    result = run_cli("export", "--format", name, "--graph", graph, env=env)
    assert result.returncode == 0, result.stderr
    if parser in ("nquads", "trig"):
        dataset = rdflib.Dataset()
        dataset.parse(data=result.stdout, format=parser)
        got = rdflib.Graph()
        for s, p, o, _ in dataset.quads((None, None, None, None)):
            got.add((s, p, o))
    else:
        got = rdflib.Graph().parse(data=result.stdout, format=parser)
    reference = run_cli("export", "--format", "ntriples", "--graph", graph, env=env)
    assert len(got) > 3
    assert isomorphic(got, rdflib.Graph().parse(data=reference.stdout, format="nt"))


def test_export_refuses_a_results_format(settings: Settings) -> None:
    result = run_cli("export", "--format", "csv", env={"FAIRDICOM_STORE": settings.store})
    assert result.returncode == 2
    assert "nquads" in result.stderr and "Traceback" not in result.stderr
