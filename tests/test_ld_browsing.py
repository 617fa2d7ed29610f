"""Browsing the Linked Data pages and the catalogue landing page on a real server.

One synthetic patient with three studies: two in the PUBLIC dataset ``sample`` and one in the
undescribed (NON_PUBLIC) dataset ``closed``, every series 110 instances. Access control is on:
anonymous readers see the PUBLIC dataset only, the admin everything. Each page is compared with
what an independent SPARQL query of the same server (same caller) answers.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fairdicom.dicom.synth import write_corpus

from tests.conftest import SECRET, run_cli
from tests.servers import serving

ADMIN = "ld-browsing-admin"
INSTANCES = 110
PAGE = 50
FD = "PREFIX fd: <https://w3id.org/fairdicom/ontology#>\n"
CHILDREN = FD + "SELECT DISTINCT ?child WHERE {{ GRAPH ?g {{ ?child fd:{link} <{parent}> }} }}"


@dataclass(frozen=True)
class Site:
    """The server's base URL and its data IRIs' base."""

    url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("ld-browsing")
    corpus = work / "corpus"
    write_corpus(corpus, patients=1, seed=1, instances_per_series=(INSTANCES, INSTANCES))
    studies = sorted((corpus / "patient0001").iterdir())
    assert len(studies) == 3
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    config = work / "empty.toml"
    config.write_text("")
    env.update(
        FAIRDICOM_SECRET=SECRET,
        FAIRDICOM_STORE=str(work / "store"),
        FAIRDICOM_CONFIG=str(config),
        FAIRDICOM_BASE_IRI="http://localhost:8000/",
    )
    for slug, folders in (("sample", studies[:2]), ("closed", studies[2:])):
        done = run_cli("ingest", *map(str, folders), "--dataset", slug, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    settings = {
        "store": str(work / "store"),
        "secret": SECRET,
        "base_iri": "http://localhost:8000/",
        "admin_token": ADMIN,
        "access_control": "true",
        "query_workers": "1",
    }
    (work / "server").mkdir()
    with serving(work / "server", 0, settings) as server:
        yield Site(server.url)


def _get(url: str, token: str = "", accept: str = "text/html") -> str:
    headers = {"Accept": accept, **({"Authorization": f"Bearer {token}"} if token else {})}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as r:
        text: str = r.read().decode()
        return text


def _status(url: str, token: str = "") -> int:
    """Return the HTTP status of a GET (the error's response closed)."""
    try:
        _get(url, token)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
    return 200


def _select(site: Site, query: str, token: str = "") -> list[dict[str, str]]:
    url = site.url + "sparql?" + urllib.parse.urlencode({"query": query})
    data = json.loads(_get(url, token, "application/sparql-results+json"))
    return [{k: v["value"] for k, v in row.items()} for row in data["results"]["bindings"]]


def _page(site: Site, iri: str, token: str = "", query: str = "") -> str:
    path = urllib.parse.urlsplit(iri).path.lstrip("/")
    return _get(site.url + path + query, token)


def _one(site: Site, cls: str, token: str = "") -> str:
    rows = _select(site, FD + f"SELECT ?s WHERE {{ GRAPH ?g {{ ?s a fd:{cls} }} }} LIMIT 1", token)
    return rows[0]["s"]


def _section(page: str, name: str) -> str:
    match = re.search(rf'<section aria-labelledby="{name}-heading".*?</section>', page, re.S)
    assert match, f"no {name} section"
    return match.group(0)


def _listed(page: str) -> list[str]:
    """Return the /id/ paths of the rows of a page's list of resources below it."""
    return re.findall(r'<td><a class="key" href="(/id/[^"]+)"', _section(page, "children"))


def _path(iri: str) -> str:
    return urllib.parse.urlsplit(iri).path


def test_patient_page_lists_its_studies_the_caller_may_read(site: Site) -> None:
    patient = _one(site, "Patient")
    for token in ("", ADMIN):
        expected = {
            _path(r["child"])
            for r in _select(site, CHILDREN.format(link="patient", parent=patient), token)
        }
        page = _page(site, patient, token)
        assert set(_listed(page)) == expected
        assert f'Studies <span class="count">({len(expected)})</span>' in page
    public = _select(site, CHILDREN.format(link="patient", parent=patient))
    everything = _select(site, CHILDREN.format(link="patient", parent=patient), ADMIN)
    assert len(public) == 2 and len(everything) == 3  # one study is in the closed dataset
    (hidden,) = {r["child"] for r in everything} - {r["child"] for r in public}
    anonymous = _page(site, patient)
    assert _path(hidden) not in anonymous and hidden.rsplit("/", 1)[1] not in anonymous
    assert _status(site.url + _path(hidden).lstrip("/")) == 404  # and its page is not found


def test_study_page_lists_its_series_with_their_instances(site: Site) -> None:
    study = _one(site, "Study")
    expected = {
        _path(r["child"]) for r in _select(site, CHILDREN.format(link="study", parent=study))
    }
    page = _page(site, study)
    assert set(_listed(page)) == expected and expected
    rows = re.findall(r"<tr><td><a class=\"key\".*?</tr>", _section(page, "children"))
    assert all(row.endswith(f"<td>{INSTANCES}</td></tr>") for row in rows), rows


def test_series_page_pages_its_instances(site: Site) -> None:
    series = _one(site, "Series")
    expected = {
        _path(r["child"]) for r in _select(site, CHILDREN.format(link="inSeries", parent=series))
    }
    assert len(expected) == INSTANCES
    pages = [_page(site, series, query=f"?page={n}") for n in (1, 2, 3)]
    listed = [_listed(page) for page in pages]
    assert [len(rows) for rows in listed] == [PAGE, PAGE, INSTANCES - 2 * PAGE]
    assert {path for rows in listed for path in rows} == expected
    assert _listed(_page(site, series)) == listed[0]
    assert 'rel="next" href="?page=2#children"' in pages[0] and 'rel="prev"' not in pages[0]
    assert 'rel="prev" href="?page=2#children"' in pages[2] and 'rel="next"' not in pages[2]
    assert "page 2 of 3" in pages[1]
    numbers = [int(n) for page in pages for n in re.findall(r"</a></td><td>(\d+)</td></tr>", page)]
    assert numbers == sorted(numbers)  # in instance-number order, across the pages
    for wrong in ("4", "0", "x"):
        assert _status(site.url + _path(series).lstrip("/") + f"?page={wrong}") == 400


def test_breadcrumbs_walk_up_to_the_dataset(site: Site) -> None:
    instance = _one(site, "Instance")
    (row,) = _select(
        site,
        FD + f"SELECT ?series ?study ?patient WHERE {{ <{instance}> fd:inSeries ?series"
        " . GRAPH ?g { ?series fd:study ?study . ?study fd:patient ?patient } }",
    )
    page = _page(site, instance)
    crumbs = re.search(r'<nav class="breadcrumbs" aria-label="Breadcrumb">(.*?)</nav>', page, re.S)
    assert crumbs
    links = re.findall(r'<a href="([^"]+)"><span class="crumb-kind">(\w+)</span>', crumbs.group(1))
    assert links == [
        ("/catalog/dataset/sample", "dataset"),
        (_path(row["patient"]), "patient"),
        (_path(row["study"]), "study"),
        (_path(row["series"]), "series"),
    ]
    assert re.search(r'<span aria-current="page"><span class="crumb-kind">instance</span>', page)


def test_curated_properties_first_raw_attributes_collapsed_with_tags(site: Site) -> None:
    (row,) = _select(
        site, FD + "SELECT ?s WHERE { GRAPH ?g { ?s fd:sliceThickness ?t } } ORDER BY ?s LIMIT 1"
    )
    page = _page(site, row["s"])
    properties, raw = page.index('id="properties-heading"'), page.index('id="raw-heading"')
    assert properties < raw
    curated = _section(page, "properties")
    assert re.search(r">modality</a> <span class=\"curie\">fd:modality</span>", curated)
    assert re.search(r'>slice thickness</a>.*?<span class="unit">mm</span>', curated, re.S)
    assert "dcmtag:" not in curated  # every DICOM attribute is in the raw section
    details = re.search(r"<details[^>]*>.*?</details>", _section(page, "raw"), re.S)
    assert details and " open" not in details.group(0).split(">", 1)[0]  # collapsed
    assert re.search(
        r'<code>\(0008,0060\)</code></td><th scope="row"><a [^>]*>Modality</a>'
        r' <span class="curie">dcmtag:Modality</span>',
        details.group(0),
    )
    tags = re.findall(r'<td class="tag"><code>\((\w{4},\w{4})\)</code>', details.group(0))
    assert len(tags) > 20 and tags == sorted(tags)


def test_every_page_has_the_site_navigation(site: Site) -> None:
    pages = {
        "": "Query",
        "query": "Query",
        "catalog": "Catalogue",
        "catalog/dataset/sample": "Catalogue",
        "mappings": "Mappings",
        _path(_one(site, "Series")).lstrip("/"): None,
    }
    for path, current in pages.items():
        page = _get(site.url + path)
        nav = re.search(r'<nav class="site-nav" aria-label="Site">(.*?)</nav>', page, re.S)
        assert nav, path
        links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>(\w+)</a>', nav.group(1))
        assert [(href, text) for href, _, text in links] == [
            ("/query", "Query"),
            ("/explore", "Explore"),
            ("/catalog", "Catalogue"),
            ("/mappings", "Mappings"),
        ], path
        assert [text for _, mark, text in links if mark] == ([current] if current else []), path


BREAKDOWN = (
    FD
    + """SELECT ?concept (COUNT(DISTINCT ?patient) AS ?patients)
  (COUNT(DISTINCT ?study) AS ?studies) (COUNT(DISTINCT ?series) AS ?seriesCount)
  (COUNT(DISTINCT ?instance) AS ?instances)
WHERE { GRAPH <http://localhost:8000/graph/sample/curated> {
  ?series fd:%s ?concept ; fd:study ?study . ?study fd:patient ?patient . }
  ?instance fd:inSeries ?series }
GROUP BY ?concept"""
)


def test_landing_page_counts_equal_sparql(site: Site) -> None:
    page = _get(site.url + "catalog/dataset/sample")
    for kind, prop in (("modality", "modality"), ("body part", "bodyPart")):
        table = re.search(rf'<table class="breakdown" data-kind="{kind}">.*?</table>', page, re.S)
        assert table, kind
        shown = {
            concept: tuple(map(int, figures))
            for concept, *figures in re.findall(
                r'<tr data-concept="([^"]+)"><th scope="row">[^<]+</th>'
                r"<td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>",
                table.group(0),
            )
        }
        expected = {
            row["concept"]: tuple(
                int(row[n]) for n in ("patients", "studies", "seriesCount", "instances")
            )
            for row in _select(site, BREAKDOWN % prop)
        }
        assert shown == expected and expected, kind
    ages = _select(
        site,
        FD + "SELECT (MIN(?a) AS ?min) (MAX(?a) AS ?max) (MIN(?d) AS ?first) (MAX(?d) AS ?last)"
        " WHERE { GRAPH <http://localhost:8000/graph/sample/curated> {"
        " ?s fd:patientAgeInYears ?a ; fd:studyDate ?d } }",
    )[0]
    assert f'<td id="age-range">{ages["min"]} to {ages["max"]} years</td>' in page
    assert f'<td id="temporal">{ages["first"]} to {ages["last"]}</td>' in page
    assert '<a id="explore-link" href="/explore?dataset=sample">' in page


def test_landing_page_of_a_closed_dataset_shows_no_breakdown_to_strangers(site: Site) -> None:
    anonymous = _get(site.url + "catalog/dataset/closed")
    assert 'class="breakdown"' not in anonymous and 'id="breakdown-closed"' in anonymous
    admin = _get(site.url + "catalog/dataset/closed", ADMIN)
    assert 'class="breakdown"' in admin
