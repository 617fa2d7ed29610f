"""How the cohort explorer reads its facts: every term the store can write, the fast lane, the
row cap.

The explorer asks the engine for its facts as SPARQL TSV, one row per kind of fact and value,
and reads that text itself: a table of terms checks the reader, and a real server shows that
texts with tabs, quotes, escapes and language tags are listed, counted and selected as they
are. The facts query runs in the fast lane, so a view is answered while the heavy lane is
full; and a store whose facts exceed ``max_rows`` gets an error that says so, never counts of
part of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fairdicom.explore.facts import binding

from tests.servers import running_server, wait_until
from tests.test_explore import ADMIN, BASE, built_store, server_settings

XSD = "http://www.w3.org/2001/XMLSchema#"
TIMEOUT = (10, 120)
WHO = {"Authorization": f"Bearer {ADMIN}"}
ODD_MAKER = 'Tab\there "quoted" back\\slash\nnew line, é'
"""A manufacturer's text with every character SPARQL TSV escapes."""
ODD_GRAPH = BASE + "graph/oddities/curated"
ODDITIES = f"""
@prefix fd: <https://w3id.org/fairdicom/ontology#> .
@prefix xsd: <{XSD}> .
<{BASE}id/series/odd-1> a fd:Series ; fd:study <{BASE}id/study/odd-1> ;
    fd:numberOfInstances 3 ; fd:modality <http://dicom.nema.org/resources/ontology/DCM/CT> ;
    fd:manufacturer "Tab\\there \\"quoted\\" back\\\\slash\\nnew line, \\u00e9" ;
    fd:manufacturerModelName "Modèle"@fr ; fd:sliceThickness 1.25 .
<{BASE}id/series/odd-2> a fd:Series ; fd:study <{BASE}id/study/odd-1> ;
    fd:numberOfInstances 4 ; fd:manufacturer "Plain" ;
    fd:manufacturerModelName "42"^^<http://example.org/code> .
<{BASE}id/study/odd-1> fd:patient <{BASE}id/patient/odd-1> ;
    fd:patientAgeInYears 47 ; fd:studyDate "2019-05-04"^^xsd:date .
"""
"""Two series of one study in a dataset of their own, with texts that need escaping."""
ENDLESS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
"""A query that runs until its timeout: it keeps the one heavy worker busy."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("<http://x.test/a>", {"type": "uri", "value": "http://x.test/a"}),
        ("<http://x.test/\\u00E9>", {"type": "uri", "value": "http://x.test/é"}),
        ("_:b0", {"type": "bnode", "value": "b0"}),
        ('"plain"', {"type": "literal", "value": "plain"}),
        ('"a\\tb\\nc \\"q\\" \\\\"', {"type": "literal", "value": 'a\tb\nc "q" \\'}),
        ('"caf\\u00E9"', {"type": "literal", "value": "café"}),
        ('"Modèle"@fr', {"type": "literal", "value": "Modèle", "xml:lang": "fr"}),
        (
            '"x"^^<http://x.test/t>',
            {"type": "literal", "value": "x", "datatype": "http://x.test/t"},
        ),
        (
            '"2019-05-04"^^<' + XSD + "date>",
            {"type": "literal", "value": "2019-05-04", "datatype": XSD + "date"},
        ),
        ("47", {"type": "literal", "value": "47", "datatype": XSD + "integer"}),
        ("-1.25", {"type": "literal", "value": "-1.25", "datatype": XSD + "decimal"}),
        ("1.5E3", {"type": "literal", "value": "1.5E3", "datatype": XSD + "double"}),
        ("true", {"type": "literal", "value": "true", "datatype": XSD + "boolean"}),
    ],
)
def test_each_term_of_sparql_tsv_reads_as_its_json_form(
    text: str, expected: dict[str, str] | None
) -> None:
    assert binding(text) == expected


@pytest.fixture(scope="module")
def odd_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the explorer's test store plus the oddities, with one heavy worker and no small
    cells hidden."""
    built = built_store(tmp_path_factory)
    work = tmp_path_factory.mktemp("explore-facts")
    settings = server_settings(built, work, min_cell_count="0", query_timeout="60")
    with running_server(work, 0, settings) as url:
        put = requests.put(
            url + "store",
            params={"graph": ODD_GRAPH},
            data=ODDITIES.encode(),
            headers={"Content-Type": "text/turtle", **WHO},
            timeout=TIMEOUT,
        )
        assert put.status_code == 201, put.text
        yield url


def _view(url: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    answer = requests.get(
        url + "explore", params=[*params, ("format", "json")], headers=WHO, timeout=TIMEOUT
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _cohort(url: str, params: list[tuple[str, str]]) -> set[str]:
    answer = requests.get(url + "explore/cohort.json", params=params, headers=WHO, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return {row["series"] for row in answer.json()["series"]}


def test_texts_are_listed_counted_and_selected_as_the_store_holds_them(odd_site: str) -> None:
    mine = [("dataset", "oddities")]
    view = _view(odd_site, mine)
    assert view["total"] == {"patients": 1, "studies": 1, "series": 2, "instances": 7}
    makers = {v["value"]: v["series"] for v in view["facets"]["manufacturer"]}
    models = {v["value"]: v["series"] for v in view["facets"]["model"]}
    assert makers == {ODD_MAKER: 1, "Plain": 1}
    assert models == {"Modèle": 1, "42": 1}
    assert {v["value"]: v["series"] for v in view["facets"]["age"]} == {"40-60": 2}
    assert {v["value"]: v["series"] for v in view["facets"]["year"]} == {"2019": 2}
    assert {v["value"]: v["series"] for v in view["facets"]["thickness"]} == {"1-2.5": 1}
    # Each value goes back to the store as the term it is (a language, a datatype, escapes):
    # the cohort's query finds exactly the series the counts said.
    first, second = f"{BASE}id/series/odd-1", f"{BASE}id/series/odd-2"
    assert _cohort(odd_site, [*mine, ("manufacturer", ODD_MAKER)]) == {first}
    assert _cohort(odd_site, [*mine, ("model", "Modèle")]) == {first}
    assert _cohort(odd_site, [*mine, ("model", "42")]) == {second}
    assert _view(odd_site, [("manufacturer", ODD_MAKER)])["total"]["series"] == 1


def _lane(url: str, name: str) -> dict[str, int]:
    status = requests.get(url + "status", headers={"Accept": "application/json"}, timeout=TIMEOUT)
    assert status.status_code == 200, status.text
    found: dict[str, int] = next(e for e in status.json()["lanes"] if e["name"] == name)
    return found


def test_a_view_is_answered_while_the_heavy_lane_is_full(odd_site: str) -> None:
    outcome: dict[str, Any] = {}

    def endless() -> None:
        try:
            outcome["status"] = requests.post(
                odd_site + "sparql", data={"query": ENDLESS}, headers=WHO, timeout=TIMEOUT
            ).status_code
        except requests.RequestException as exc:  # the server stopped first
            outcome["error"] = exc

    runner = threading.Thread(target=endless, daemon=True)
    runner.start()
    wait_until(lambda: _lane(odd_site, "query")["busy"] == 1, "the endless query runs")
    # A write changes the store's generation: no cache answers the view below.
    bump = requests.put(
        odd_site + "store",
        params={"graph": "urn:fairdicom-test:bump"},
        data=b'<urn:s> <urn:p> "heavy lane full" .\n',
        headers={"Content-Type": "application/n-triples", **WHO},
        timeout=TIMEOUT,
    )
    assert bump.status_code in (201, 204), bump.text
    answered = _lane(odd_site, "fast")["answered"]
    view = _view(odd_site, [("modality", "dcm:CT")])
    assert view["total"]["series"] > 0
    assert runner.is_alive() and _lane(odd_site, "query")["busy"] == 1  # still running
    assert _lane(odd_site, "fast")["answered"] > answered  # the facts came from the fast lane
    assert "status" not in outcome


def test_facts_beyond_max_rows_are_an_error_not_a_part(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    built = built_store(tmp_path_factory)
    work = tmp_path_factory.mktemp("explore-max-rows")
    with running_server(work, 0, server_settings(built, work, max_rows="20")) as url:
        answer = requests.get(
            url + "explore", params={"format": "json"}, headers=WHO, timeout=TIMEOUT
        )
        assert answer.status_code == 503, answer.text
        assert "max_rows" in answer.json()["error"]["detail"]
