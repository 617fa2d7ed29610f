"""The cohort explorer against a real server: counts, selections, small cells, access.

One store built by the real CLI holds the bundled sample (PUBLIC), a 60-patient synthetic
corpus (RESTRICTED, with ``public_aggregates = true``) and a small synthetic corpus
(RESTRICTED, without it). Every count the explorer shows is compared with what the tests
compute themselves: SPARQL written here, run by the admin over ``/sparql``, and an oracle in
Python over one row per series (instances counted from the instances, not from the curated
``fd:numberOfInstances`` the explorer sums).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rdflib
import requests
from fairdicom.catalog.descriptions import load_descriptions
from fairdicom.dicom.synth import write_corpus
from fairdicom.errors import ConfigError
from fairdicom.resources import DESCRIPTIONS, SAMPLE

from tests.conftest import SECRET, run_cli
from tests.servers import running_server

BASE = "http://fairdicom.test/"
ADMIN = "explore-admin-token"
JSON = "application/sparql-results+json"
THRESHOLD = 5
LEVELS = {"sample": "PUBLIC", "synth60": "RESTRICTED", "closed": "RESTRICTED"}
AGGREGATES = {"synth60"}
TIMEOUT = 120
PREFIXES = {
    "fd:": "https://w3id.org/fairdicom/ontology#",
    "dcm:": "http://dicom.nema.org/resources/ontology/DCM/",
    "sct:": "http://snomed.info/id/",
}
SERIES_TABLE = """
PREFIX fd: <https://w3id.org/fairdicom/ontology#>
PREFIX dcmtag: <https://w3id.org/fairdicom/dicom#>
SELECT ?g ?series ?study ?patient ?modality ?bodyPart ?sex ?age ?date ?manufacturer ?model
       ?thickness ?contrast (COUNT(DISTINCT ?instance) AS ?instances)
WHERE {
  GRAPH ?g {
    ?series a fd:Series ; fd:study ?study . ?study fd:patient ?patient .
    OPTIONAL { ?series fd:modality ?modality }
    OPTIONAL { ?series fd:bodyPart ?bodyPart }
    OPTIONAL { ?patient fd:sex ?sex }
    OPTIONAL { ?study fd:patientAgeInYears ?age }
    OPTIONAL { ?study fd:studyDate ?date }
    OPTIONAL { ?series fd:manufacturer ?manufacturer }
    OPTIONAL { ?series fd:manufacturerModelName ?model }
    OPTIONAL { ?series fd:sliceThickness ?thickness }
  }
  FILTER(STRENDS(STR(?g), "/curated"))
  OPTIONAL { ?instance fd:inSeries ?series }
  BIND(EXISTS { ?series dcmtag:ContrastBolusAgent ?agent } AS ?contrast)
}
GROUP BY ?g ?series ?study ?patient ?modality ?bodyPart ?sex ?age ?date ?manufacturer ?model
         ?thickness ?contrast
"""
"""One row per series: the oracle's table (written independently of the explorer's queries)."""
MODALITY_OF_WOMEN = """
PREFIX fd: <https://w3id.org/fairdicom/ontology#>
PREFIX sct: <http://snomed.info/id/>
SELECT ?modality (COUNT(DISTINCT ?patient) AS ?patients) (COUNT(DISTINCT ?study) AS ?studies)
       (COUNT(DISTINCT ?series) AS ?series_) (COUNT(DISTINCT ?instance) AS ?instances)
WHERE {
  GRAPH ?g {
    ?series fd:modality ?modality ; fd:study ?study . ?study fd:patient ?patient .
    ?patient fd:sex sct:248152002 .
  }
  FILTER(STRENDS(STR(?g), "/curated"))
  OPTIONAL { ?instance fd:inSeries ?series }
}
GROUP BY ?modality
"""


@dataclass
class Site:
    """The server of these tests, and its store's rows as the admin reads them."""

    url: str
    work: Path
    table: list[dict[str, str]]


_BUILT: dict[str, Path] = {}
_LOCK = threading.Lock()


def _descriptions(path: Path) -> None:
    """Describe the three datasets (the sample's own description, copied for the others)."""
    text = DESCRIPTIONS.read_text(encoding="utf-8")
    head, sample = text[: text.index("[datasets.sample]")], text[text.index("[datasets.sample]") :]
    body = sample.replace("[datasets.sample]", "")
    tables = []
    for slug, level in LEVELS.items():
        table = body.replace('access_rights = "PUBLIC"', f'access_rights = "{level}"')
        if slug in AGGREGATES:
            table += "public_aggregates = true\n"
        tables.append(f"[datasets.{slug}]{table}")
    path.write_text(head + "\n".join(tables), encoding="utf-8")


def built_store(factory: pytest.TempPathFactory) -> Path:
    """Return a folder with the store (``store``) and descriptions (``datasets.toml``), built
    once per test session and copied by each server."""
    with _LOCK:
        if "work" not in _BUILT:
            work = factory.mktemp("explore-build")
            _descriptions(work / "datasets.toml")
            config = work / "empty.toml"
            config.write_text("")
            env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
            env.update(
                FAIRDICOM_SECRET=SECRET,
                FAIRDICOM_STORE=str(work / "store"),
                FAIRDICOM_CONFIG=str(config),
                FAIRDICOM_BASE_IRI=BASE,
                FAIRDICOM_DESCRIPTIONS=str(work / "datasets.toml"),
            )
            write_corpus(work / "synth60", patients=60, seed=60)
            write_corpus(work / "closed", patients=3, seed=7)
            for folder, slug in ((SAMPLE, "sample"), (work / "synth60", "synth60")):
                result = run_cli("ingest", str(folder), "--dataset", slug, env=env)
                assert result.returncode == 0, result.stdout + result.stderr
            result = run_cli("ingest", str(work / "closed"), "--dataset", "closed", env=env)
            assert result.returncode == 0, result.stdout + result.stderr
            _BUILT["work"] = work
        return _BUILT["work"]


def server_settings(built: Path, work: Path, **more: str) -> dict[str, str]:
    """Return the settings of a server over a copy of the built store."""
    store = shutil.copytree(built / "store", work / "store")
    return {
        "store": str(store),
        "secret": SECRET,
        "base_iri": BASE,
        "descriptions": str(built / "datasets.toml"),
        "admin_token": ADMIN,
        "access_control": "true",
        "min_cell_count": str(THRESHOLD),
        "query_workers": "1",
        "fast_lane_workers": "1",
        **more,
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = built_store(tmp_path_factory)
    work = tmp_path_factory.mktemp("explore-server")
    with running_server(work, 0, server_settings(built, work)) as url:
        table = [_plain(row) for row in _select(url, SERIES_TABLE, _admin())]
        assert len({row["patient"] for row in table}) >= 60
        yield Site(url, work, table)


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


def _select(url: str, query: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = requests.post(
        url + "sparql", data={"query": query}, headers={"Accept": JSON, **headers}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["results"]["bindings"]
    return rows


def _plain(row: dict[str, Any]) -> dict[str, str]:
    return {k: v["value"] for k, v in row.items()}


def _compact(iri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace):
            return prefix + iri[len(namespace) :]
    return iri


def _explore(site: Site, params: list[tuple[str, str]], who: dict[str, str]) -> dict[str, Any]:
    response = requests.get(
        site.url + "explore", params=[*params, ("format", "json")], headers=who, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


# The oracle -------------------------------------------------------------------------------

AGE_BANDS = {"0-18": (0, 18), "18-40": (18, 40), "40-60": (40, 60), "60-80": (60, 80)}


def _facet_value(row: dict[str, str], key: str) -> str | None:
    """Return a series row's value of one facet, as the explorer's URLs write it."""
    if key == "dataset":
        found = re.search(r"/graph/([^/]+)/curated$", row["g"])
        return found.group(1) if found else None
    if key == "age":
        if "age" not in row:
            return None
        age = int(row["age"])
        return next((band for band, (lo, hi) in AGE_BANDS.items() if lo <= age < hi), "80+")
    if key == "year":
        return row["date"][:4] if "date" in row else None
    if key == "thickness":
        if "thickness" not in row:
            return None
        value = float(row["thickness"])
        return "0-1" if value < 1 else "1-2.5" if value < 2.5 else "2.5-5" if value < 5 else "5+"
    if key == "contrast":
        return "given" if row["contrast"] == "true" else "none recorded"
    name = {"body_part": "bodyPart"}.get(key, key)
    return _compact(row[name]) if name in row else None


def _oracle(
    table: list[dict[str, str]], selection: list[tuple[str, str]], key: str | None
) -> dict[str | None, tuple[int, int, int, int]]:
    """Return counts per value of facet ``key`` (None: the total) under the selection, the
    facet's own selection left out."""
    chosen: dict[str, set[str]] = {}
    for name, value in selection:
        chosen.setdefault(name, set()).add(value)
    groups: dict[str | None, list[dict[str, str]]] = {}
    for row in table:
        if all(_facet_value(row, k) in v for k, v in chosen.items() if k != key):
            value = _facet_value(row, key) if key else None
            if key is None or value is not None:
                groups.setdefault(value, []).append(row)
    return {
        value: (
            len({r["patient"] for r in rows}),
            len({r["study"] for r in rows}),
            len({r["series"] for r in rows}),
            sum(int(r["instances"]) for r in rows),
        )
        for value, rows in groups.items()
    }


def _shown(count: int) -> int | str:
    """Return a count as the explorer must publish it."""
    return f"<{THRESHOLD}" if 0 < count < THRESHOLD else count


def _published(counts: tuple[int, int, int, int]) -> dict[str, int | str]:
    names = ("patients", "studies", "series", "instances")
    return {name: _shown(n) for name, n in zip(names, counts, strict=True)}


def _facet_counts(data: dict[str, Any], key: str) -> dict[str, dict[str, int | str]]:
    return {
        v["value"]: {k: v[k] for k in ("patients", "studies", "series", "instances")}
        for v in data["facets"][key]
    }


FACET_KEYS = (
    "dataset",
    "modality",
    "body_part",
    "sex",
    "age",
    "year",
    "manufacturer",
    "model",
    "thickness",
    "contrast",
)
SELECTIONS = [
    [],
    [("modality", "dcm:CT")],
    [("sex", "sct:248152002"), ("age", "40-60"), ("age", "60-80")],
    [("dataset", "synth60"), ("modality", "dcm:MR"), ("modality", "dcm:CT")],
]


# Tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("selection", SELECTIONS, ids=["all", "ct", "women-40-79", "mr-ct"])
def test_every_count_equals_the_oracle(site: Site, selection: list[tuple[str, str]]) -> None:
    data = _explore(site, selection, _admin())
    assert data["total"] == _published(_oracle(site.table, selection, None)[None])
    for key in FACET_KEYS:
        expected = {v: _published(c) for v, c in _oracle(site.table, selection, key).items()}
        assert _facet_counts(data, key) == expected, key


def test_counts_equal_a_sparql_group_by(site: Site) -> None:
    rows = _select(site.url, MODALITY_OF_WOMEN, _admin())
    names = ("patients", "studies", "series_", "instances")
    expected = {}
    for row in rows:
        patients, studies, series, instances = (int(row[n]["value"]) for n in names)
        expected[_compact(row["modality"]["value"])] = _published(
            (patients, studies, series, instances)
        )
    data = _explore(site, [("sex", "sct:248152002")], _admin())
    assert _facet_counts(data, "modality") == expected
    assert any(isinstance(c["patients"], int) for c in expected.values())


def test_a_selection_narrows_the_other_facets_not_its_own(site: Site) -> None:
    everything = _explore(site, [], _admin())
    ct = _explore(site, [("modality", "dcm:CT")], _admin())
    assert _facet_counts(ct, "modality") == _facet_counts(everything, "modality")
    assert ct["total"] == _facet_counts(everything, "modality")["dcm:CT"]
    assert ct["total"] != everything["total"]
    assert _facet_counts(ct, "body_part") != _facet_counts(everything, "body_part")


def test_the_address_reproduces_the_view(site: Site) -> None:
    selection = [("modality", "dcm:CT"), ("sex", "sct:248153007"), ("age_min", "40")]
    url = site.url + "explore?" + urllib.parse.urlencode(selection)
    first = requests.get(url, headers=_admin(), timeout=TIMEOUT)
    again = requests.get(url, headers=_admin(), timeout=TIMEOUT)
    assert first.status_code == again.status_code == 200
    assert first.text == again.text
    page = first.text
    assert re.search(r'name="modality" value="dcm:CT"[^>]*\schecked', page)
    assert re.search(r'name="sex" value="sct:248153007"[^>]*\schecked', page)
    assert not re.search(r'name="modality" value="dcm:MR"[^>]*\schecked', page)
    assert re.search(r'id="age_min"[^>]*value="40"', page)
    rows = [r for r in site.table if "age" in r and int(r["age"]) >= 40]
    total = _oracle(rows, selection[:2], None)[None]
    assert f'id="total-series">{_shown(total[2])}<' in page.replace(",", "")
    # Labels, never raw IRIs, name the values.
    assert ">Computed Tomography<" in page and ">Male<" in page


def test_show_the_sparql_opens_the_query_page(site: Site) -> None:
    page = requests.get(site.url + "explore?modality=dcm:MR", headers=_admin(), timeout=TIMEOUT)
    link = re.search(r'<a href="([^"]+)" id="open-query"', page.text)
    assert link is not None
    target = urllib.parse.urlsplit(html.unescape(link.group(1)))
    assert target.path == "/query"
    query = urllib.parse.parse_qs(target.query)["query"][0]
    answer = _select(site.url, query, _admin())
    total = next(r for r in answer if r["facet"]["value"] == "total")
    assert (
        int(total["seriesCount"]["value"])
        == _oracle(site.table, [("modality", "dcm:MR")], None)[None][2]
    )
    editor = requests.get(site.url + target.path + "?" + target.query, timeout=TIMEOUT)
    assert editor.status_code == 200 and "fd:modality" in editor.text


def test_small_cells_show_as_below_the_threshold(site: Site) -> None:
    selection = [("dataset", "sample")]
    page = requests.get(site.url + "explore", params=selection, headers=_admin(), timeout=60)
    assert f"&lt;{THRESHOLD}" in page.text
    svg = re.findall(r"<svg class=\"chart\".*?</svg>", page.text, re.S)
    assert len(svg) >= 3 and any("suppressed" in s for s in svg)
    for small in range(1, THRESHOLD):  # no bar label or title shows the hidden number
        assert not re.search(rf">{small}<|: {small} (patients|series|studies)<", "".join(svg))
    data = _explore(site, selection, _admin())
    _assert_no_small_number(data)
    small = [*selection, ("modality", "dcm:CT")]
    assert 0 < _oracle(site.table, small, None)[None][0] < THRESHOLD
    description = requests.get(
        site.url + "explore/cohort.ttl", params=small, headers=_admin(), timeout=60
    )
    assert description.status_code == 200
    graph = rdflib.Graph().parse(data=description.text, format="turtle")
    counts = [str(o) for p, o in graph.predicate_objects() if "numberOf" in str(p)]
    assert len(counts) == 4
    assert all(c == f"<{THRESHOLD}" or int(c) >= THRESHOLD for c in counts), counts
    assert f"<{THRESHOLD}" in counts  # its patients


def _assert_no_small_number(data: object) -> None:
    """Assert no count in a JSON document lies between 1 and the threshold."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("patients", "studies", "series", "instances"):
                assert value == f"<{THRESHOLD}" or value == 0 or value >= THRESHOLD, data
            else:
                _assert_no_small_number(value)
    elif isinstance(data, list):
        for item in data:
            _assert_no_small_number(item)


def test_a_small_cohort_is_not_downloaded(site: Site) -> None:
    small = [("dataset", "sample"), ("modality", "dcm:CT")]
    assert 0 < _oracle(site.table, small, None)[None][0] < THRESHOLD
    for ext in ("csv", "tsv", "json"):
        refused = requests.get(
            site.url + f"explore/cohort.{ext}", params=small, headers=_admin(), timeout=60
        )
        assert refused.status_code == 403, refused.text
        assert "min_cell_count" in refused.json()["error"]["detail"]


def test_a_cohort_downloads_as_series_rows(site: Site) -> None:
    selection = [("dataset", "synth60"), ("modality", "dcm:CT")]
    expected = {
        r["series"]
        for r in site.table
        if r["g"].endswith("/synth60/curated") and r.get("modality", "").endswith("/CT")
    }
    csv = requests.get(
        site.url + "explore/cohort.csv", params=selection, headers=_admin(), timeout=60
    )
    assert csv.status_code == 200, csv.text
    lines = csv.text.splitlines()
    assert lines[0].startswith("series,study,patient,dataset,modality")
    assert {line.split(",")[0] for line in lines[1:]} == expected
    rows = requests.get(
        site.url + "explore/cohort.json", params=selection, headers=_admin(), timeout=60
    ).json()["series"]
    assert {r["series"] for r in rows} == expected
    assert {r["modality_label"] for r in rows} == {"Computed Tomography"}
    assert all(
        r["instances"].isdigit() and r["patient"].startswith(BASE + "id/patient/") for r in rows
    )


def test_public_aggregates_open_counts_not_records(site: Site) -> None:
    anonymous = _explore(site, [], {})
    datasets = _facet_counts(anonymous, "dataset")
    assert set(datasets) == {"sample", "synth60"}  # not "closed": no public aggregates
    synth = _oracle(site.table, [("dataset", "synth60")], None)[None]
    assert datasets["synth60"] == _published(synth)
    open_table = [r for r in site.table if not r["g"].endswith("/closed/curated")]
    assert anonymous["total"] == _published(_oracle(open_table, [], None)[None])
    # ... but no record: not over SPARQL, not at /id/, not in the cohort download
    some_series = next(r["series"] for r in site.table if r["g"].endswith("/synth60/curated"))
    assert _select(site.url, f"SELECT * WHERE {{ <{some_series}> ?p ?o }}", {}) == []
    page = requests.get(
        site.url + some_series[len(BASE) :], headers={"Accept": "text/turtle"}, timeout=60
    )
    assert page.status_code == 404
    csv = requests.get(site.url + "explore/cohort.csv", params=[("dataset", "synth60")], timeout=60)
    assert csv.status_code == 200 and csv.text.splitlines() == [csv.text.splitlines()[0]]
    everything = requests.get(site.url + "explore/cohort.csv", timeout=60)
    assert some_series not in everything.text
    assert "/id/series/" in everything.text  # the sample's own series are public records


def test_a_closed_dataset_shows_nothing_to_anonymous(site: Site) -> None:
    refused = requests.get(
        site.url + "explore", params={"dataset": "closed", "format": "json"}, timeout=60
    )
    assert refused.status_code == 400
    admin = _facet_counts(_explore(site, [], _admin()), "dataset")
    assert "closed" in admin
    page = requests.get(site.url + "explore", timeout=60).text
    assert "closed" not in re.sub(r"<pre.*?</pre>", "", page, flags=re.S)


@pytest.mark.parametrize(
    "params",
    [
        {"modality": "dcm:CT> } } SELECT * WHERE { ?s ?p ?o"},
        {"manufacturer": 'x" . ?s ?p ?o . FILTER("'},
        {"age_min": "40; DROP ALL"},
        {"age": "40-99"},
        {"colour": "blue"},
    ],
)
def test_what_is_not_a_known_value_is_refused(site: Site, params: dict[str, str]) -> None:
    response = requests.get(site.url + "explore", params=params, timeout=60)
    assert response.status_code == 400
    assert response.json()["error"]["detail"]


def test_the_admin_saves_a_cohort_description(site: Site) -> None:
    selection = {"modality": "dcm:CT", "dataset": "synth60"}
    anonymous = requests.post(site.url + "explore/cohort", params=selection, timeout=60)
    assert anonymous.status_code in (401, 403)
    saved = requests.post(
        site.url + "explore/cohort", params=selection, headers=_admin(), timeout=60
    )
    assert saved.status_code == 201, saved.text
    cohort = saved.json()["cohort"]
    assert cohort.startswith(BASE + "id/cohort/") and saved.headers["Location"] == cohort
    described = requests.get(
        site.url + cohort[len(BASE) :], headers={"Accept": "text/turtle"}, timeout=60
    )
    assert described.status_code == 200, described.text
    graph = rdflib.Graph().parse(data=described.text, format="turtle")
    node = rdflib.URIRef(cohort)
    assert (node, rdflib.RDF.type, rdflib.DCAT.Dataset) in graph
    assert "Computed Tomography" in str(graph.value(node, rdflib.DCTERMS.title))
    graph = saved.json()["graph"]
    rows = _select(
        site.url, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", {}
    )
    assert int(rows[0]["n"]["value"]) > 5


def test_public_aggregates_must_be_true_or_false(tmp_path: Path) -> None:
    path = tmp_path / "datasets.toml"
    _descriptions(path)
    text = path.read_text().replace("public_aggregates = true", 'public_aggregates = "yes"')
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"datasets\.synth60\.public_aggregates: 'yes' is not"):
        load_descriptions(path)
    _descriptions(path)
    described = load_descriptions(path).datasets
    assert [slug for slug, d in described.items() if d.public_aggregates] == ["synth60"]


def test_a_cohort_description_names_the_address_that_serves_it(site: Site) -> None:
    download = requests.get(
        site.url + "explore/cohort.jsonld", params={"modality": "dcm:MR"}, timeout=60
    )
    assert download.status_code == 200
    graph = rdflib.Graph().parse(data=download.text, format="json-ld")
    (node,) = set(graph.subjects(rdflib.RDF.type, rdflib.DCAT.Dataset))
    assert str(node) == BASE + "explore/cohort?modality=dcm%3AMR"
    served = requests.get(
        site.url + str(node)[len(BASE) :], headers={"Accept": "text/turtle"}, timeout=60
    )
    assert served.status_code == 200 and served.headers["Content-Type"].startswith("text/turtle")
    again = rdflib.Graph().parse(data=served.text, format="turtle")
    assert (node, rdflib.RDF.type, rdflib.DCAT.Dataset) in again
