"""The query page: through the Flask test client, then in headless Chromium on a real server.

The page needs ``/sparql``: the app factory's (``fairdicom.web.create_app``).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from fairdicom.config import load_settings
from fairdicom.namespaces import PREFIXES
from fairdicom.resources import SAMPLE
from fairdicom.web import create_app
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ROOT, SECRET
from tests.helpers import ingest_isolated
from tests.servers import free_port, running_server

EXAMPLES = ROOT / "app" / "fairdicom" / "web" / "examples"
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOT = ARTIFACTS / "query-page.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def example_titles() -> list[str]:
    """Return the title of each example query file, read here without the page's code."""
    titles = []
    for path in sorted(EXAMPLES.glob("*.rq")):
        match = re.search(r"^# title: (.+)$", path.read_text(encoding="utf-8"), re.M)
        assert match, path
        titles.append(match.group(1))
    return titles


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the bundled sample ingested (dataset ``sample``)."""
    store = tmp_path_factory.mktemp("query-page") / "store"
    ingest_isolated(SAMPLE, store, "sample", SECRET)
    return store


@pytest.fixture()
def app(sample_store: Path) -> Iterator[Flask]:
    """The app factory's app, over the sample store."""
    settings = load_settings(store=str(sample_store), query_workers=1)
    flask_app = create_app(settings=settings, test_config={"TESTING": True})
    try:
        yield flask_app
    finally:
        for extension in flask_app.extensions.values():
            close = getattr(extension, "close", None)
            if callable(close):
                close()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class PageParser(HTMLParser):
    """Collect what the tests look at in a page: tag attributes by id, links, resources."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.links: list[tuple[dict[str, str | None], str]] = []
        self.resources: list[str] = []
        self.rows = 0
        self._text: list[str] | None = None
        self._attrs: dict[str, str | None] = {}
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.by_id[str(found["id"])] = found
        if tag in ("script", "img") and found.get("src"):
            self.resources.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.resources.append(str(found["href"]))
        if tag == "a":
            self._text, self._attrs = [], found
        self._in_body = self._in_body or tag == "tbody"
        self.rows += tag == "tr" and self._in_body

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._text is not None:
            self.links.append((self._attrs, "".join(self._text)))
            self._text = None
        if tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def editor_text(page: str) -> str:
    """Return the text of the page's editor (its textarea)."""
    match = re.search(r'<textarea id="query"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "no editor"
    return html.unescape(match.group(1))


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


@pytest.mark.parametrize("path", ["/", "/query"])
def test_page_lists_every_example(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for title in example_titles():
        assert html.escape(title) in page, title
    parser = parse(page)
    examples = [a for a, _ in parser.links if a.get("data-example")]
    assert len(examples) == len(example_titles())
    assert parser.by_id["query"].get("aria-describedby") == "editor-help"
    assert 'for="query"' in page  # the editor has a label


def test_page_preloads_the_project_prefixes(client: FlaskClient) -> None:
    text = editor_text(client.get("/query").get_data(as_text=True))
    for name, iri in PREFIXES.items():
        assert f"PREFIX {name}: <{iri}>\n" in text


def test_example_parameter_fills_the_editor(client: FlaskClient) -> None:
    text = (EXAMPLES / "studies-per-year.rq").read_text(encoding="utf-8")
    page = client.get("/query?example=studies-per-year&run=1").get_data(as_text=True)
    assert editor_text(page) == text
    tags = parse(page).by_id
    assert tags["query-page"]["data-run"] == "true"
    assert tags["query-page"]["data-example"] == "studies-per-year"


def test_query_parameter_fills_the_editor(client: FlaskClient) -> None:
    page = client.get("/query?query=" + quote("ASK { ?s ?p ?o }")).get_data(as_text=True)
    assert editor_text(page) == "ASK { ?s ?p ?o }"
    assert parse(page).by_id["query-page"]["data-run"] == "false"


def test_unknown_example_is_not_found(client: FlaskClient) -> None:
    assert client.get("/query?example=no-such-example").status_code == 404


@pytest.mark.parametrize(
    "name,mimetype", [("query.js", "text/javascript"), ("query.css", "text/css")]
)
def test_static_files_are_served(client: FlaskClient, name: str, mimetype: str) -> None:
    page = client.get("/query").get_data(as_text=True)
    (url,) = [src for src in parse(page).resources if src.endswith(name)]
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    response.close()


def test_page_needs_nothing_from_other_hosts(client: FlaskClient) -> None:
    page = client.get("/query").get_data(as_text=True)
    assert all(urlsplit(url).netloc == "" for url in parse(page).resources)
    static = ROOT / "app" / "fairdicom" / "web" / "static"
    css = (static / "query.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css
    script = (static / "query.js").read_text(encoding="utf-8")
    assert "import(" not in script and "src=" not in script


@pytest.mark.parametrize(
    "fmt,mimetype",
    [
        ("csv", "text/csv"),
        ("tsv", "text/tab-separated-values"),
        ("json", "application/sparql-results+json"),
        ("xml", "application/sparql-results+xml"),
    ],
)
def test_download_links_give_the_results(client: FlaskClient, fmt: str, mimetype: str) -> None:
    page = client.get("/query?example=modality-bodypart").get_data(as_text=True)
    (href,) = [a["href"] for a, _ in parse(page).links if a.get("data-format") == fmt]
    assert href and urlsplit(href).path == "/sparql"
    assert parse_qs(urlsplit(href).query)["format"] == [fmt]
    response = client.get(href)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == mimetype
    assert "CT" in response.get_data(as_text=True)
    response.close()


def test_results_json_has_the_shape_the_page_reads(client: FlaskClient) -> None:
    query = (EXAMPLES / "patients-age-sex.rq").read_text(encoding="utf-8")
    response = client.post("/sparql?format=json", data={"query": query})
    data = json.loads(response.get_data(as_text=True))
    assert {"vars"} <= set(data["head"]) and data["results"]["bindings"]
    error = client.post("/sparql?format=json", data={"query": "SELECT WHERE"})
    assert error.status_code == 400
    assert set(json.loads(error.get_data(as_text=True))["error"]) == {"status", "title", "detail"}


# --- in a browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the sample store from a real server process on loopback; yield its base URL."""
    work = tmp_path_factory.mktemp("server")
    store = shutil.copytree(sample_store, work / "store")  # the server's own copy
    settings = {"store": str(store), "secret": SECRET, "query_workers": "1"}
    settings["base_iri"] = "http://localhost:8000/"  # the sample's IRIs, served elsewhere
    with running_server(work, free_port(), settings) as base:
        yield base.rstrip("/")


def chromium(url: str, profile: Path, *extra: str) -> str:
    """Load ``url`` in headless Chromium, let its scripts run, return the DOM it ends with."""
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed (Debian package chromium)")
    command = [
        str(CHROMIUM),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--virtual-time-budget=20000",
        *extra,
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_example_runs_in_a_browser(server: str, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    dom = chromium(
        f"{server}/query?example=modality-bodypart&run=1",
        tmp_path / "profile",
        "--window-size=1280,1400",
        f"--screenshot={SCREENSHOT}",
    )
    page = parse(dom)
    assert page.by_id["results"].get("data-state") == "done", dom[-3000:]
    rows = int(page.by_id["results-table"]["data-rows"] or 0)
    assert rows > 0 and page.rows == rows
    assert re.search(rf'id="status"[^>]*>{rows} rows in \d', dom)
    assert ({"href": "http://dicom.nema.org/resources/ontology/DCM/CT"}, "dcm:CT") in [
        ({"href": a.get("href")}, text) for a, text in page.links
    ]
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_query_error_is_shown_in_a_browser(server: str, tmp_path: Path) -> None:
    dom = chromium(f"{server}/query?query=SELECT%20WHERE&run=1", tmp_path / "profile")
    page = parse(dom)
    assert page.by_id["results"].get("data-state") == "error", dom[-3000:]
    assert "hidden" not in page.by_id["error"]
    match = re.search(r'id="error"[^>]*><strong>([^<]*)</strong>', dom)
    assert match and "(400)" in match.group(1), dom[-3000:]


@pytest.mark.slow
def test_iris_in_results_stay_on_one_line(server: str, tmp_path: Path) -> None:
    from tests.cdp import browser

    query = (
        "PREFIX fd: <https://w3id.org/fairdicom/ontology#>\n"
        "SELECT ?instance ?series ?study WHERE { ?instance fd:inSeries ?series ."
        " ?series fd:study ?study } LIMIT 30"
    )
    with browser(tmp_path / "profile") as page:
        page.resize(400)
        page.open(f"{server}/query?" + urlencode({"query": query, "run": "1"}))
        page.wait_for("document.getElementById('results').dataset.state === 'done'")
        cells = page.evaluate(
            "Array.from(document.querySelectorAll('#results-table tbody .iri')).map(function (e)"
            " { return {lines: e.getClientRects().length, cut: e.scrollWidth > e.clientWidth,"
            " height: e.getBoundingClientRect().height, href: e.getAttribute('href'),"
            " title: e.title, text: e.textContent}; })"
        )
        line = page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('.iri')).lineHeight) || 20"
        )
    assert len(cells) == 90
    for cell in cells:
        assert cell["lines"] == 1 and cell["height"] <= 1.5 * line, cell  # one line each
        assert cell["href"].startswith("/id/") and cell["title"].endswith(cell["href"]), cell
    assert any(cell["cut"] for cell in cells)  # long keys end in an ellipsis, whole in the title
