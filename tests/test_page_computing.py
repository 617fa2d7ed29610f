"""Pages whose figures are computed in the background (``/explore``, ``/mappings``,
``/mappings/coverage``) answer at once: 202 "computing" (``Retry-After``, reloading itself)
while the figures of this store generation are computed, then the figures; and again after a
write. ``page_wait = 0`` makes a page never wait for its figures, so the first view of each
generation is always "computing".
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.servers import running_server
from tests.test_explore import ADMIN, BASE, JSON, TIMEOUT, built_store, server_settings

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
DEADLINE = 300
"""Seconds a test waits at most for figures computed in the background."""
EXTRA = f"""
@prefix fd: <https://w3id.org/fairdicom/ontology#> .
<{BASE}id/series/extra-1> fd:study <{BASE}id/study/extra-1> ;
    fd:modality <http://dicom.nema.org/resources/ontology/DCM/CT> ;
    fd:numberOfInstances 3 .
<{BASE}id/study/extra-1> fd:patient <{BASE}id/patient/extra-1> .
"""


@dataclass(frozen=True)
class Site:
    url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = built_store(tmp_path_factory)
    work = tmp_path_factory.mktemp("computing-server")
    with running_server(work, 0, server_settings(built, work, page_wait="0")) as url:
        yield Site(url)


def _get(url: str, **params: str) -> requests.Response:
    return requests.get(url, params=params, headers=ADMIN_HEADERS, timeout=TIMEOUT)


def _ready(url: str, **params: str) -> requests.Response:
    """Read a page until it shows its figures (each read is an event: the server answers)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        response = _get(url, **params)
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def _series_count(site: Site) -> int:
    """Count the series of the curated graphs with SPARQL (the oracle of the explorer's total)."""
    query = (
        "PREFIX fd: <https://w3id.org/fairdicom/ontology#>\n"
        "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s fd:study ?study } "
        'FILTER(STRENDS(STR(?g), "/curated")) }'
    )
    response = requests.post(
        site.url + "sparql",
        data={"query": query},
        headers={"Accept": JSON, **ADMIN_HEADERS},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def _computing(response: requests.Response, what: str) -> None:
    assert response.status_code == 202, response.text[:500]
    assert int(response.headers["Retry-After"]) > 0
    assert "ETag" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    if response.headers["Content-Type"].startswith("text/html"):
        assert f"Computing {what}" in html.unescape(response.text)
        assert response.headers["Refresh"] == response.headers["Retry-After"]
    else:
        assert response.json()["state"] == "computing"


def _total(data: dict[str, Any]) -> int:
    series: int = data["total"]["series"]
    return series


def test_the_explorer_answers_computing_then_its_counts_and_again_after_a_write(
    site: Site,
) -> None:
    # The oracle first: an admin's SPARQL query is audited, and the audit log in the store's
    # folder changes the store's generation stamp (see the report of issue 13).
    before = _series_count(site)
    _computing(_get(site.url + "explore", format="json"), "explorer's counts")
    page = _get(site.url + "explore")
    _computing(page, "explorer's counts")
    assert '<meta http-equiv="refresh"' in page.text
    # A download waits for the same figures instead of answering "computing".
    cohort = _get(site.url + "explore/cohort.ttl")
    assert cohort.status_code == 200, cohort.text[:500]
    counted = _get(site.url + "explore", format="json")
    assert counted.status_code == 200, counted.text[:500]
    assert _total(counted.json()) == before
    page = _get(site.url + "explore")
    assert page.status_code == 200 and "Computing" not in page.text
    assert "ETag" in page.headers

    put = requests.put(
        site.url + "store",
        params={"graph": BASE + "graph/extra/curated"},
        data=EXTRA.encode(),
        headers={"Content-Type": "text/turtle", **ADMIN_HEADERS},
        timeout=TIMEOUT,
    )
    assert put.status_code in (201, 204), put.text
    assert _series_count(site) == before + 1
    _computing(_get(site.url + "explore", format="json"), "explorer's counts")
    after = _ready(site.url + "explore", format="json")
    assert after.status_code == 200, after.text[:500]
    assert _total(after.json()) == before + 1


def test_the_mappings_page_answers_computing_then_its_examples(site: Site) -> None:
    first = _get(site.url + "mappings")
    _computing(first, "mappings' example values")
    page = _ready(site.url + "mappings")
    assert page.status_code == 200, page.text[:500]
    assert "Mappings in force" in page.text and "Computing" not in page.text
    assert "Computed Tomography" in page.text  # an example value with its label


def test_the_coverage_page_answers_computing_then_its_figures(site: Site) -> None:
    _computing(_get(site.url + "mappings/coverage"), "mapping coverage")
    page = _ready(site.url + "mappings/coverage")
    assert page.status_code == 200, page.text[:500]
    assert "Computing" not in page.text and "synth60" in page.text


def test_a_failed_computation_is_reported_once_then_started_again(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The facts of a store larger than ``max_rows`` cannot be read: the page says so (503,
    what to do) instead of "computing" for ever, and a later view tries again."""
    built = built_store(tmp_path_factory)
    work = tmp_path_factory.mktemp("computing-fails")
    settings = server_settings(built, work, page_wait="0", max_rows="5")
    with running_server(work, 0, settings) as url:
        _computing(_get(url + "explore", format="json"), "explorer's counts")
        failed = _ready(url + "explore", format="json")
        assert failed.status_code == 503, failed.text[:500]
        assert "raise max_rows" in failed.text
        again = _ready(url + "explore", format="json")  # started again, and failed again
        assert again.status_code == 503 and "raise max_rows" in again.text
