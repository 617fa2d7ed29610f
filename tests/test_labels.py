"""Labels: after `fairdicom ingest`, the vocabulary graph labels every concept, property and
class the store uses; the Linked Data pages, the query page (in a browser) and the mapping
page show them next to the IRIs."""

from __future__ import annotations

import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from tests.conftest import SECRET, run_cli
from tests.helpers import select_rows
from tests.servers import serving
from tests.test_query_page import chromium

BASE = "http://localhost:8000/"
VOCABULARY = f"<{BASE}graph/vocabulary>"
UNLABELLED = f"""
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?term WHERE {{
  GRAPH ?g {{ ?s ?p ?o }}
  FILTER(STRENDS(STR(?g), "/curated") || STRENDS(STR(?g), "/raw"))
  VALUES ?position {{ "p" "o" }}
  BIND(IF(?position = "p", ?p, ?o) AS ?term)
  FILTER(isIRI(?term) && !STRSTARTS(STR(?term), "{BASE}id/"))
  FILTER NOT EXISTS {{ GRAPH {VOCABULARY} {{ ?term rdfs:label ?label }} }}
}}"""
USED = f"""
SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE {{
  GRAPH ?g {{ ?s ?p ?o }} FILTER(STRENDS(STR(?g), "/curated") && isIRI(?o)
  && !STRSTARTS(STR(?o), "{BASE}id/")) }}"""
IN_USE = f"""
SELECT DISTINCT ?term WHERE {{
  GRAPH ?g {{ ?s ?p ?o }}
  FILTER(STRENDS(STR(?g), "/curated") || STRENDS(STR(?g), "/raw")
         || STRENDS(STR(?g), "/quarantine"))
  VALUES ?position {{ "p" "o" }}
  BIND(IF(?position = "p", ?p, ?o) AS ?term)
  FILTER(isIRI(?term) && !STRSTARTS(STR(?term), "{BASE}id/"))
}}"""
LABELLED = f"""
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?term ?label WHERE {{ GRAPH {VOCABULARY} {{ ?term rdfs:label ?label }} }}"""
CHEST_SERIES = """
PREFIX fd: <https://w3id.org/fairdicom/ontology#>
SELECT ?series WHERE { GRAPH ?g { ?series fd:bodyPart <http://snomed.info/id/816094009> } }
LIMIT 1"""


@pytest.fixture(scope="module")
def store(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store made by `fairdicom ingest`, as a user makes it."""
    work = tmp_path_factory.mktemp("labels")
    empty = work / "fairdicom.toml"
    empty.write_text("")
    env = {"FAIRDICOM_STORE": str(work / "store"), "FAIRDICOM_CONFIG": str(empty)}
    done = run_cli("ingest", str(corpus), "--dataset", "test", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return work / "store"


@pytest.fixture(scope="module")
def server(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("server")
    copy = shutil.copytree(store, work / "store")
    settings = {"store": str(copy), "secret": SECRET, "base_iri": BASE, "query_workers": "1"}
    with serving(work, 0, settings) as running:
        yield running.url


def _read(url: str) -> str:
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=120) as response:
        text: str = response.read().decode()
        return text


def test_every_concept_property_and_class_has_a_label(store: Path) -> None:
    assert int(select_rows(store, USED)[0]["n"].split('"')[1]) > 10
    assert select_rows(store, UNLABELLED) == []
    labels = (
        f"SELECT ?l WHERE {{ GRAPH {VOCABULARY} {{ <http://snomed.info/id/816094009> ?p ?l }} }}"
    )
    assert [row["l"] for row in select_rows(store, labels)] == ['"Chest"']


def test_linked_data_page_shows_labels(store: Path, server: str) -> None:
    (row,) = select_rows(store, CHEST_SERIES)
    page = _read(server + row["series"].strip("<>")[len(BASE) :])
    # The label is the link's text, the compact IRI beside it.
    assert re.search(r'>Chest</a>\s*<span class="curie">sct:816094009</span>', page), page
    assert re.search(r'>body part</a>\s*<span class="curie">fd:bodyPart</span>', page), page
    assert re.search(r'>Modality</a>\s*<span class="curie">dcmtag:Modality</span>', page)


def test_mapping_page_shows_the_table_with_labelled_examples(server: str) -> None:
    page = _read(server + "mappings")
    assert "Mapping version <code>" in page
    assert re.search(r"<td>body-part <span[^>]*>body-part.sssom.tsv</span></td>", page)
    assert re.search(r"sct:816094009 <span class=\"label\">\(Chest\)</span>", page), page
    assert "<td>ingest</td>" in page  # which run made the curated graph, with its version


@pytest.mark.slow
def test_query_page_shows_labels_in_a_browser(server: str, tmp_path: Path) -> None:
    query = (
        "PREFIX fd: <https://w3id.org/fairdicom/ontology#>\n"
        "SELECT ?series ?part WHERE { ?series fd:bodyPart ?part } LIMIT 20"
    )
    url = server + "query?" + urllib.parse.urlencode({"query": query, "run": "1"})
    dom = chromium(url, tmp_path / "profile")
    assert 'data-labels="done"' in dom, dom[-3000:]
    assert re.search(r'sct:816094009</a><span class="label"> \(Chest\)</span>', dom), dom[-3000:]
    # The store's own IRIs (base http://localhost:8000/, this server elsewhere) link to their
    # page on this server, shown as "series <key>" on one line, the full IRI in the title.
    series = re.findall(
        r'<a class="iri" href="(/id/series/[^"]+)" title="([^"]+)"[^>]*>([^<]+)<', dom
    )
    assert len(series) == 20, dom[-3000:]
    for href, title, text in series:
        assert title == BASE + href[1:] and text == "series " + href.rsplit("/", 1)[1]
    assert _read(server + series[0][0][1:]).count(series[0][1]) >= 1  # the link answers


def test_labels_follow_the_terms_a_reingest_leaves_in_use(corpus: Path, tmp_path: Path) -> None:
    """The vocabulary graph is found by index lookups, not by reading the store: after an
    ingest, and after a re-ingest that changes a coded concept labelled only by its Code
    Meaning, it labels exactly the terms the layers use (a scan of every quad says which)."""
    source = sorted(corpus.rglob("series*-CT/*.dcm"))[0]
    header = pydicom.dcmread(source)
    target = tmp_path / "files" / "one.dcm"
    target.parent.mkdir()
    empty = tmp_path / "fairdicom.toml"
    empty.write_text("")
    env = {"FAIRDICOM_STORE": str(tmp_path / "store"), "FAIRDICOM_CONFIG": str(empty)}
    labels: list[dict[str, str]] = []
    for code, meaning in (("7771000", "Region one"), ("7772000", "Region two")):
        region = Dataset()
        region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = code, "SCT", meaning
        header.AnatomicRegionSequence = [region]
        header.save_as(target)
        done = run_cli("ingest", str(target.parent), "--dataset", "test", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        used = {row["term"] for row in select_rows(tmp_path / "store", IN_USE)}
        labels = select_rows(tmp_path / "store", LABELLED)
        assert {row["term"] for row in labels} == used
        assert {"term": f"<http://snomed.info/id/{code}>", "label": f'"{meaning}"'} in labels
    assert "<http://snomed.info/id/7771000>" not in {row["term"] for row in labels}
    assert "<urn:oid:1.2.840.10008.5.1.4.1.1.2>" in {row["term"] for row in labels}
