"""The web layer through the Flask test client: errors, auth, conneg, CORS, ETags, gzip."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import rdflib
from fairdicom.config import Settings
from fairdicom.web import create_app
from fairdicom.web.protocol import SERVICE_KEY
from flask import Flask
from flask.testing import FlaskClient
from rdflib.compare import isomorphic

TOKEN = "web-test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
GRAPH = "http://example.org/web-test"
MAX_ROWS = 500
WRITE_ORIGIN = "https://admin.example.org"


def _settings(store: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "store": str(store),
        "secret": "web-secret",
        "base_iri": "http://localhost/",
        "admin_token": TOKEN,
        "max_request_bytes": 65_536,
        "max_rows": MAX_ROWS,
        "query_workers": 1,
        "cors_write_origins": (WRITE_ORIGIN,),
        **changes,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    web = create_app(_settings(tmp_path_factory.mktemp("web") / "store"))
    yield web
    web.extensions[SERVICE_KEY].close()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _query(text: str, **params: str) -> str:
    extra = "".join(f"&{k}={quote(v)}" for k, v in params.items())
    return f"/sparql?query={quote(text)}{extra}"


def _update(client: FlaskClient, text: str) -> None:
    reply = client.post(
        "/sparql", data=text, content_type="application/sparql-update", headers=ADMIN
    )
    assert reply.status_code == 204, reply.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("GET", _query("ASK {"), {}, b"", 400),
        ("GET", "/nowhere", {}, b"", 404),
        ("DELETE", "/sparql", {}, b"", 405),
        ("POST", "/sparql", {"Content-Type": "text/plain"}, b"ASK {}", 415),
        ("GET", _query("ASK {}"), {"Accept": "image/png"}, b"", 406),
        ("GET", "/store?graph=http://example.org/nothing", {}, b"", 404),
        ("POST", "/sparql", {"Content-Type": "application/sparql-update"}, b"CLEAR ALL", 401),
        ("POST", "/sparql", {"Content-Type": "application/sparql-query"}, b"x" * 70_000, 413),
        ("GET", _query("ASK {}") + "&update=CLEAR%20ALL", {}, b"", 400),
    ],
)
def test_errors_have_one_json_shape(
    client: FlaskClient, method: str, path: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    reply = client.open(path, method=method, headers=headers, data=body)
    assert reply.status_code == status
    assert reply.mimetype == "application/json"
    error = reply.get_json()["error"]
    assert set(error) == {"status", "title", "detail"}
    assert error["status"] == status and error["title"] and error["detail"]


def test_errors_in_plain_text_when_preferred(client: FlaskClient) -> None:
    reply = client.get(_query("ASK {"), headers={"Accept": "text/plain"})
    assert reply.status_code == 400 and reply.mimetype == "text/plain"
    assert reply.get_data(as_text=True).startswith("400 Bad Request: ")


def test_updates_need_the_bearer_token(client: FlaskClient) -> None:
    form = {"update": "CLEAR SILENT GRAPH <http://example.org/none>"}
    missing = client.post("/sparql", data=form)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.post("/sparql", data=form, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401  # a token nobody issued (RFC 6750 invalid_token)
    assert "not one this server knows" in wrong.get_data(as_text=True)
    assert client.post("/sparql", data=form, headers=ADMIN).status_code == 204
    put = client.put("/store?default", data="", content_type="text/turtle")
    assert put.status_code == 401


def test_updates_refused_when_no_admin_token_is_set(tmp_path: Path) -> None:
    # Without access control a token is checked only by the write gate, which names the setting.
    app = create_app(_settings(tmp_path / "store", admin_token="", access_control=False))
    try:
        reply = app.test_client().post("/sparql", data={"update": "CLEAR ALL"}, headers=ADMIN)
        assert reply.status_code == 403
        assert "admin_token" in reply.get_json()["error"]["detail"]
    finally:
        app.extensions[SERVICE_KEY].close()


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/sparql", b"ASK {}", "text/plain"),
        ("/sparql", b"query=ASK%20%7B%7D", ""),
        ("/store?graph=http://example.org/g", b"\x89PNG", "image/png"),
    ],
)
def test_unsupported_media_type(
    client: FlaskClient, path: str, body: bytes, content_type: str
) -> None:
    headers = {**ADMIN, **({"Content-Type": content_type} if content_type else {})}
    assert client.post(path, data=body, headers=headers).status_code == 415


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("json", "application/sparql-results+json"),
        ("xml", "application/sparql-results+xml"),
        ("csv", "text/csv"),
        ("tsv", "text/tab-separated-values"),
        ("application/sparql-results+json", "application/sparql-results+json"),
    ],
)
def test_format_parameter_chooses_the_result_format(
    client: FlaskClient, fmt: str, media_type: str
) -> None:
    reply = client.get(_query("SELECT (1 AS ?one) {}", format=fmt), headers={"Accept": "text/csv"})
    assert reply.status_code == 200 and reply.mimetype == media_type


def test_non_ascii_query_by_get(client: FlaskClient) -> None:
    reply = client.get(_query('SELECT ("Žlutý kůň é" AS ?s) {}', format="json"))
    rows = reply.get_json()["results"]["bindings"]
    assert rows[0]["s"]["value"] == "Žlutý kůň é"


def _preflight(client: FlaskClient, path: str, origin: str, method: str) -> dict[str, str]:
    reply = client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert reply.status_code == 200
    return dict(reply.headers)


def test_cors_lets_every_origin_read_and_only_listed_origins_write(client: FlaskClient) -> None:
    assert client.get(_query("ASK {}")).headers["Access-Control-Allow-Origin"] == "*"
    for path in ("/sparql", "/store", "/store/some/graph"):
        anyone = _preflight(client, path, "https://example.org", "PUT")
        assert anyone["Access-Control-Allow-Origin"] == "*"
        assert "POST" in anyone["Access-Control-Allow-Methods"]  # a query by POST is a read
        assert "PUT" not in anyone["Access-Control-Allow-Methods"]
        assert "DELETE" not in anyone["Access-Control-Allow-Methods"]
        assert "authorization" not in anyone["Access-Control-Allow-Headers"].lower()
        assert "content-type" in anyone["Access-Control-Allow-Headers"].lower()
        admin = _preflight(client, path, WRITE_ORIGIN, "PUT")
        assert admin["Access-Control-Allow-Origin"] == WRITE_ORIGIN
        assert "Origin" in admin["Vary"]
        assert {"PUT", "DELETE"} <= set(admin["Access-Control-Allow-Methods"].split(", "))
        assert "authorization" in admin["Access-Control-Allow-Headers"].lower()
    # A write's answer is shared only with a listed origin's page.
    update = "INSERT DATA { <urn:cors> <urn:p> 1 }"
    for origin, shared in [("https://example.org", False), (WRITE_ORIGIN, True)]:
        reply = client.post(
            "/sparql",
            data=update,
            content_type="application/sparql-update",
            headers={**ADMIN, "Origin": origin},
        )
        assert reply.status_code == 204
        assert ("Access-Control-Allow-Origin" in reply.headers) is shared


def test_etag_revalidates_and_changes_with_the_store(client: FlaskClient) -> None:
    path = _query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{GRAPH}/etag> {{ ?s ?p ?o }} }}")
    first = client.get(path)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    again = client.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    _update(client, f"INSERT DATA {{ GRAPH <{GRAPH}/etag> {{ <urn:a> <urn:b> 1 }} }}")
    changed = client.get(path, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


def test_large_responses_are_gzipped(client: FlaskClient) -> None:
    values = " ".join(str(i) for i in range(400))
    path = _query(f"SELECT ?i {{ VALUES ?i {{ {values} }} }}", format="json")
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    rows = json.loads(gzip.decompress(zipped.data))["results"]["bindings"]
    assert len(rows) == 400
    plain = client.get(path)
    assert "Content-Encoding" not in plain.headers and len(plain.get_json()["results"]["bindings"])
    small = client.get(_query("ASK {}"), headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers


def test_results_beyond_max_rows_are_flagged(client: FlaskClient) -> None:
    values = " ".join(str(i) for i in range(MAX_ROWS + 10))
    reply = client.get(_query(f"SELECT ?i {{ VALUES ?i {{ {values} }} }}", format="json"))
    assert reply.headers["Fairdicom-Truncated"] == str(MAX_ROWS)
    assert len(reply.get_json()["results"]["bindings"]) == MAX_ROWS


def test_query_and_update_in_one_request_is_refused(client: FlaskClient) -> None:
    form = {"query": "ASK {}", "update": "CLEAR ALL"}
    assert client.post("/sparql", data=form, headers=ADMIN).status_code == 400


def _description(client: FlaskClient, accept: str | None = None) -> tuple[str, rdflib.Graph]:
    reply = client.get("/sparql", headers={"Accept": accept} if accept else {})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    media_type = reply.mimetype or ""
    fmt = {
        "text/turtle": "turtle",
        "application/rdf+xml": "xml",
        "application/n-triples": "nt",
        "application/ld+json": "json-ld",
    }[media_type]
    return media_type, rdflib.Graph().parse(data=reply.get_data(as_text=True), format=fmt)


def test_service_description(client: FlaskClient) -> None:
    _update(client, f"INSERT DATA {{ GRAPH <{GRAPH}/sd> {{ <urn:a> <urn:b> 1, 2 }} }}")
    media_type, description = _description(client)
    assert media_type == "text/turtle"
    service = rdflib.URIRef("http://localhost/sparql")
    assert (service, SD.endpoint, service) in description
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in description
    assert (service, SD.supportedLanguage, SD.SPARQL11Update) in description
    assert (service, SD.feature, SD.UnionDefaultGraph) in description
    assert len(set(description.objects(service, SD.resultFormat))) >= 4
    named = {
        str(description.value(node, SD.name)): str(
            description.value(description.value(node, SD.graph), VOID.triples)
        )
        for node in description.objects(None, SD.namedGraph)
    }
    assert named[f"{GRAPH}/sd"] == "2"
    dataset = description.value(service, SD.defaultDataset)
    assert description.value(description.value(dataset, SD.defaultGraph), VOID.triples)


@pytest.mark.parametrize(
    "accept", ["application/rdf+xml", "application/ld+json", "application/n-triples"]
)
def test_service_description_content_negotiation(client: FlaskClient, accept: str) -> None:
    media_type, description = _description(client, accept)
    assert media_type == accept
    assert isomorphic(description, _description(client)[1])


def test_a_browser_following_a_link_to_the_endpoint_gets_the_query_page(
    client: FlaskClient,
) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    reply = client.get("/sparql", headers={"Accept": browser})
    assert reply.status_code == 303
    assert client.get(reply.headers["Location"], headers={"Accept": browser}).status_code == 200
    for accept in ("*/*", "text/turtle, text/html;q=0.5"):  # a client asking for RDF first
        assert _description(client, accept)[0] == "text/turtle"


def test_graph_store_multipart_part_must_be_rdf(client: FlaskClient) -> None:
    boundary = "xyz"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="a"; filename="a.png"\r\n'
        f"Content-Type: image/png\r\n\r\nxx\r\n--{boundary}--\r\n"
    )
    reply = client.post(
        f"/store?graph={GRAPH}/multipart",
        data=body,
        headers={**ADMIN, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert reply.status_code == 415
