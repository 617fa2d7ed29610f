"""Every link a running server gives points at that server: ``fairdicom demo`` on a port it is
given (0: any free port, not the default 8000) derives ``base_iri`` from it, and every IRI and
link of the catalogue, its Hydra pages, the downloads, VoID, OAI-PMH, the FAIR Data Point and the
query page's results answers 200. ``serve`` does the same and says so at start-up, and the
Graph Store names a new graph's ``Location`` with ``base_iri``, not the request's host."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
import rdflib
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.resources import SAMPLE

from tests.servers import free_port, serving, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "app" / "fairdicom" / "web" / "examples"
SERVING = re.compile(r"^fairdicom serving .*: SPARQL (http://\S+/)sparql")
BASE_LINE = re.compile(r"^base_iri not set: IRIs and links use (http://\S+/),")
MOST_REQUESTS = 600
RDF_FIRST = "text/turtle, */*;q=0.1"
"""What the crawl asks for: Turtle (to find more links in it), else whatever the link is."""
"""A bound on the crawl (the demo's catalogue and example results need a few hundred)."""


@dataclass
class Demo:
    """A running ``fairdicom demo``: where it listens, its base IRI and its output so far."""

    url: str = ""
    base: str = ""
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)


@contextmanager
def demo(work: Path) -> Iterator[Demo]:
    """Run ``fairdicom demo --port 0`` in its own store until the block ends."""
    config = work / "fairdicom.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    env |= {"FAIRDICOM_STORE": str(work / "store"), "FAIRDICOM_SECRET": "demo-links"}
    env |= {"FAIRDICOM_CONFIG": str(config), "FAIRDICOM_QUERY_WORKERS": "1"}
    env |= {"PYTHONPATH": str(ROOT / "app")}
    process = subprocess.Popen(
        [sys.executable, "-m", "fairdicom.cli", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=work,
        start_new_session=True,
    )
    running = Demo()

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            running.lines.append(line)
            if found := SERVING.match(line):
                running.url = found.group(1)
            if found := BASE_LINE.match(line):
                running.base = found.group(1)
            if line.startswith("stop with Ctrl-C"):
                running.ready.set()
        running.ready.set()  # ended without serving

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not running.ready.wait(300) or not running.url:
            pytest.fail("fairdicom demo did not serve:\n" + "\n".join(running.lines))
        yield running
    finally:
        stop(process)
        reader.join(30)
        if process.stdout is not None:
            process.stdout.close()


class Links(HTMLParser):
    """Collect the ``href`` of every link of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if name == "href" and value]


@dataclass
class Crawl:
    """What a crawl of one server found: every URL under its base and its answer."""

    base: str
    status: dict[str, int] = field(default_factory=dict)
    todo: list[tuple[str, str]] = field(default_factory=list)

    def add(self, url: str, accept: str = RDF_FIRST) -> None:
        url = urllib.parse.urldefrag(url).url
        if url.startswith(self.base + "graph/"):  # a graph's name: read by the Graph Store
            url = f"{self.base}store?{urllib.parse.urlencode({'graph': url})}"
        if url.startswith(self.base) and url not in self.status:
            self.status[url] = 0
            self.todo.append((url, accept))

    def run(self) -> None:
        while self.todo:
            assert len(self.status) <= MOST_REQUESTS, "the crawl does not end"
            url, accept = self.todo.pop()
            request = urllib.request.Request(url, headers={"Accept": accept})
            try:
                with urllib.request.urlopen(request, timeout=60) as reply:
                    self.status[url] = reply.status
                    kind, body = reply.headers.get_content_type(), reply.read()
            except urllib.error.HTTPError as error:
                self.status[url] = error.code
                error.close()  # its response holds the connection
                continue
            if kind == "text/turtle":
                for term in rdflib.Graph().parse(data=body, format="turtle").all_nodes():
                    if isinstance(term, rdflib.URIRef):
                        self.add(str(term))
            elif kind == "text/html":
                page = Links()
                page.feed(body.decode("utf-8"))
                for href in page.hrefs:
                    self.add(urllib.parse.urljoin(url, href), "text/html")


def example_result_iris(base: str) -> list[str]:
    """Run every example query of the query page; return the IRIs its results link to."""
    found: list[str] = []
    for path in sorted(EXAMPLES.glob("*.rq")):
        query = urllib.parse.urlencode({"query": path.read_text(encoding="utf-8")})
        request = urllib.request.Request(
            f"{base}sparql?{query}", headers={"Accept": "application/sparql-results+json"}
        )
        with urllib.request.urlopen(request, timeout=120) as reply:
            rows = json.load(reply)["results"]["bindings"]
        iris = {v["value"] for row in rows for v in row.values() if v["type"] == "uri"}
        found += sorted(iri for iri in iris if iri.startswith(base))[:20]
    return found


def oai_identifiers(base: str) -> list[str]:
    """Return the URLs the OAI-PMH records give as identifiers (oai_dc and DataCite)."""
    found = []
    for prefix, tag in (
        ("oai_dc", "{http://purl.org/dc/elements/1.1/}identifier"),
        ("oai_datacite", "{http://datacite.org/schema/kernel-4}identifier"),
    ):
        with urllib.request.urlopen(f"{base}oai?verb=ListRecords&metadataPrefix={prefix}") as r:
            found += [e.text or "" for e in ET.fromstring(r.read()).iter(tag)]
    return found


def test_a_demo_on_another_port_links_only_to_itself(tmp_path: Path) -> None:
    with demo(tmp_path) as running:
        port = urllib.parse.urlsplit(running.url).port
        assert port and port != 8000
        assert running.base == f"http://localhost:{port}/", running.lines
        crawl = Crawl(running.base)
        for start in ("catalog", "catalog?pageSize=1", ".well-known/void", "fdp"):
            crawl.add(running.base + start)
        for start in ("", "catalog", "catalog/dataset/sample"):
            crawl.add(running.base + start, "text/html")
        for url in oai_identifiers(running.base) + example_result_iris(running.base):
            assert url.startswith(running.base), url
            crawl.add(url)
        crawl.run()
        void_request = urllib.request.Request(
            running.base + ".well-known/void", headers={"Accept": "text/turtle"}
        )
        with urllib.request.urlopen(void_request, timeout=60) as reply:
            void_text = reply.read().decode("utf-8")
    broken = {url: code for url, code in crawl.status.items() if code != 200}
    assert not broken, broken
    visited = set(crawl.status)
    assert f"{running.base}catalog/dataset/sample/dump.nq.gz" in visited  # the download
    void = rdflib.Graph().parse(data=void_text, format="turtle")
    dumps = {str(d) for d in void.objects(None, rdflib.URIRef("http://rdfs.org/ns/void#dataDump"))}
    assert dumps == {f"{running.base}catalog/dataset/sample/dump.nq.gz"}
    assert f"{running.base}catalog?page=1&pageSize=100" in visited  # a Hydra link
    assert any("/id/series/" in url for url in visited)  # query results
    assert len(visited) > 50


def test_serve_derives_its_base_from_its_port_and_says_when_the_data_is_elsewhere(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    ingest([SAMPLE], load_settings(store=str(store), secret="s", workers=1), "sample")
    with serving(tmp_path, 0, {"store": str(store), "secret": "s", "query_workers": "1"}) as server:
        port = urllib.parse.urlsplit(server.url).port
        wait_until(lambda: "stop with Ctrl-C" in server.log.read_text(), "it has started")
        log = server.log.read_text()
    assert f"base_iri not set: IRIs and links use http://localhost:{port}/" in log
    assert "the store's data was ingested under http://localhost:8000/" in log


def test_graph_store_location_is_named_with_base_iri(tmp_path: Path) -> None:
    base = "http://imaging.example.org/"  # not the host:port the client talks to
    settings = {"store": str(tmp_path / "store"), "base_iri": base, "admin_token": "t0k"}
    port = free_port()
    with serving(tmp_path, port, settings | {"query_workers": "1"}) as server:
        auth = {"Authorization": "Bearer t0k", "Content-Type": "text/turtle"}
        body = b"<http://example.org/s> <http://example.org/p> <http://example.org/o> ."
        post = urllib.request.Request(server.url + "store", data=body, headers=auth)
        with urllib.request.urlopen(post, timeout=60) as reply:
            assert reply.status == 201
            location = reply.headers["Location"]
        assert location.startswith(base + "store/")
        query = urllib.parse.urlencode({"graph": location})
        turtle = {"Accept": "text/turtle"}
        get = urllib.request.Request(f"{server.url}store?{query}", headers=turtle)
        with urllib.request.urlopen(get, timeout=60) as reply:
            graph = rdflib.Graph().parse(data=reply.read(), format="turtle")
        assert len(graph) == 1
