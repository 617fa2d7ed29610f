"""Safe pages: a Content-Security-Policy on every HTML page (no inline script), the other
security headers on every response, and result links only for web IRIs.

Through the Flask test client for every page of the app, then in headless Chromium against a
real server: a ``javascript:`` IRI in the results is shown as text, and the query page, a Linked
Data page and the catalogue run without one Content-Security-Policy violation in the console.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fairdicom.catalog.build import refresh_catalog
from fairdicom.config import load_settings
from fairdicom.resources import SAMPLE
from fairdicom.web import create_app
from fairdicom.web.protocol import SERVICE_KEY
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SECRET
from tests.helpers import ingest_isolated
from tests.servers import Server, serving
from tests.test_query_page import CHROMIUM, CHROMIUM_FLAGS, parse

BASE = "http://localhost:8000/"
"""The base the sample is ingested under, and the servers' base_iri."""
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
DANGEROUS = "javascript:alert(document.domain)"
CSP_MESSAGE = re.compile(r"Content Security Policy|Content-Security-Policy", re.I)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample, ingested, with its catalogue built."""
    location = tmp_path_factory.mktemp("security") / "store"
    ingest_isolated(SAMPLE, location, "sample", SECRET)
    refresh_catalog(load_settings(store=str(location), secret=SECRET, base_iri=BASE))
    return location


@pytest.fixture(scope="module")
def app(store: Path) -> Iterator[Flask]:
    settings = load_settings(store=str(store), secret=SECRET, base_iri=BASE, query_workers=1)
    web = create_app(settings, test_config={"TESTING": True})
    yield web
    web.extensions[SERVICE_KEY].close()


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def resource_path(client: FlaskClient) -> str:
    """Return the path of a Linked Data page of the sample (its first study)."""
    text = (
        "SELECT ?s WHERE { ?s a <https://w3id.org/fairdicom/ontology#Study> } ORDER BY ?s LIMIT 1"
    )
    reply = client.get(f"/sparql?query={quote(text)}&format=json")
    iri: str = reply.get_json()["results"]["bindings"][0]["s"]["value"]
    assert iri.startswith(BASE + "id/")
    return "/" + iri.removeprefix(BASE)


def html_paths(app: Flask, client: FlaskClient) -> list[str]:
    """Return a path for every page the app serves as HTML: each GET route without
    parameters, and one of each route with parameters (a resource, a dataset)."""
    paths = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not rule.arguments
    }
    paths |= {
        resource_path(client),
        "/id/nothing/here",  # the Linked Data page of an IRI the store does not know
        "/catalog/dataset/sample",
        "/query?example=modality-bodypart",
    }
    return sorted(paths)


def test_every_html_page_has_a_content_security_policy(app: Flask, client: FlaskClient) -> None:
    pages = 0
    for path in html_paths(app, client):
        reply = client.get(path, headers=BROWSER)
        assert reply.headers["X-Content-Type-Options"] == "nosniff", path
        assert reply.headers["Referrer-Policy"] == "same-origin", path
        if reply.mimetype != "text/html":
            continue
        pages += 1
        policy = reply.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
        page = reply.get_data(as_text=True)
        # No inline script: every <script> has a src or holds data (JSON, JSON-LD).
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert "src=" in tag or "application/" in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", page), path  # no inline event handlers
        assert "style=" not in page and "<style" not in page, path  # no inline styles
    assert pages >= 5  # the query page, a resource, an unknown IRI, the catalogue, a dataset


def test_json_answers_have_the_headers_but_no_policy(client: FlaskClient) -> None:
    reply = client.get("/sparql?query=ASK%20%7B%7D&format=json")
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in reply.headers


# --- in a browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("security-server")
    copy = shutil.copytree(store, work / "store")
    settings = {"store": str(copy), "secret": SECRET, "base_iri": BASE, "query_workers": "1"}
    with serving(work, 0, settings) as running:
        yield running


def test_a_running_server_sends_the_policy_with_every_html_page(
    app: Flask, client: FlaskClient, server: Server
) -> None:
    """The same pages, from a real `fairdicom serve` process on loopback (waitress in front)."""
    pages = 0
    for path in html_paths(app, client):
        request = urllib.request.Request(server.url + path.lstrip("/"), headers=BROWSER)
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                headers = reply.headers
        except urllib.error.HTTPError as error:  # a 404 page is a page too
            headers = error.headers
            error.close()
        assert headers["X-Content-Type-Options"] == "nosniff", path
        if headers.get_content_type() != "text/html":
            continue
        pages += 1
        policy = headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
    assert pages >= 5


def browse(url: str, profile: Path) -> tuple[str, str]:
    """Load a page in headless Chromium, let its scripts run; return its DOM and console."""
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed (Debian package chromium)")
    command = [
        str(CHROMIUM),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=20000",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    console = "\n".join(line for line in result.stderr.splitlines() if ":CONSOLE" in line)
    return result.stdout, console


@pytest.mark.slow
def test_a_javascript_iri_is_shown_as_text(server: Server, tmp_path: Path) -> None:
    text = f'SELECT ?x ?y WHERE {{ BIND(IRI("{DANGEROUS}") AS ?x) BIND(<{BASE}id/a> AS ?y) }}'
    dom, console = browse(f"{server.url}query?query={quote(text)}&run=1", tmp_path / "profile")
    page = parse(dom)
    assert page.by_id["results"].get("data-state") == "done", dom[-3000:]
    assert page.rows == 1
    hrefs = [attrs.get("href") or "" for attrs, _ in page.links]
    assert not any(href.lower().startswith("javascript:") for href in hrefs), hrefs
    assert "/id/a" in hrefs  # a web IRI is still a link (the store's own: to this server)
    assert re.search(rf'<span class="iri" title="{re.escape(DANGEROUS)}"[^>]*>', dom), dom[-3000:]
    assert not CSP_MESSAGE.search(console), console


@pytest.mark.slow
def test_pages_run_without_a_policy_violation(server: Server, tmp_path: Path) -> None:
    pages = [
        "query?example=modality-bodypart&run=1",
        "catalog",
        "catalog/dataset/sample",
        resource_of(server.url),
    ]
    for number, path in enumerate(pages):
        dom, console = browse(server.url + path, tmp_path / f"profile-{number}")
        assert "<html" in dom, (path, dom[:500])
        assert not CSP_MESSAGE.search(console), (path, console)
    query_dom, _ = browse(server.url + pages[0], tmp_path / "profile-again")
    assert parse(query_dom).by_id["results"].get("data-state") == "done"  # its script ran


def resource_of(url: str) -> str:
    """Return the path (without the leading slash) of a study's Linked Data page."""
    text = "SELECT ?s WHERE { ?s a <https://w3id.org/fairdicom/ontology#Study> } LIMIT 1"
    with urllib.request.urlopen(f"{url}sparql?query={quote(text)}&format=json") as reply:
        iri: str = json.load(reply)["results"]["bindings"][0]["s"]["value"]
    return iri.removeprefix(BASE)
