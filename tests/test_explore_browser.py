"""The cohort explorer in headless Chromium: a real click on a facet, counts that follow, charts.

Chromium is driven over the DevTools protocol (tests/cdp.py), with real mouse events at the
checkbox's place on the page; each step waits for the page's load event or for an element,
never for a time. The server and store are those of tests/test_explore.py (the sample and a
60-patient corpus), here with access control off.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cdp import DEADLINE, Page
from tests.cdp import browser as chromium
from tests.servers import running_server
from tests.test_explore import THRESHOLD, built_store, server_settings
from tests.test_query_page import ARTIFACTS

SCREENSHOT = ARTIFACTS / "explore.png"
NARROW_SCREENSHOT = ARTIFACTS / "explore-400px.png"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    built = built_store(tmp_path_factory)
    work = tmp_path_factory.mktemp("explore-browser")
    settings = server_settings(built, work, access_control="false")
    with running_server(work, 0, settings) as url:
        yield url


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Page]:
    with chromium(tmp_path / "profile") as page:
        page.resize(1280, 1600)
        yield page


def _totals(browser: Page) -> dict[str, str]:
    found: dict[str, str] = browser.evaluate(
        "Object.fromEntries(['patients', 'studies', 'series', 'instances'].map("
        "n => [n, document.getElementById('total-' + n).textContent.trim()]))"
    )
    return found


def _json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=DEADLINE) as answer:
        data: dict[str, Any] = json.load(answer)
    return data


def _shown(value: int | str) -> str:
    return value if isinstance(value, str) else f"{value:,}"


@pytest.mark.slow
def test_clicking_a_facet_changes_the_counts(server: str, browser: Page) -> None:
    browser.open(server + "explore")
    before = _totals(browser)
    everything = _json(server + "explore?format=json")
    assert before == {k: _shown(v) for k, v in everything["total"].items()}
    ct = next(i for i, v in enumerate(everything["facets"]["modality"]) if v["value"] == "dcm:CT")
    assert ct >= 0
    checkbox = browser.evaluate(
        "document.querySelector('#facet-modality input[value=\"dcm:CT\"]').id"
    )
    browser.mouse_click(f"#{checkbox}")
    location = urllib.parse.urlsplit(browser.evaluate("location.href"))
    assert urllib.parse.parse_qsl(location.query) == [("modality", "dcm:CT")]
    after = _totals(browser)
    expected = next(v for v in everything["facets"]["modality"] if v["value"] == "dcm:CT")
    assert after == {k: _shown(expected[k]) for k in after}
    assert after != before
    assert browser.evaluate(
        "document.querySelector('#facet-modality input[value=\"dcm:CT\"]').checked"
    )
    # The charts are drawn, with bars, and readable by name.
    charts = browser.evaluate(
        "[...document.querySelectorAll('svg.chart')].map(s => [s.id,"
        " s.querySelectorAll('g.bar rect').length, s.getBBox().width,"
        " s.querySelector('title').textContent])"
    )
    assert len(charts) >= 3
    assert all(bars > 0 and width > 0 and title for _, bars, width, title in charts), charts
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    browser.screenshot(SCREENSHOT)
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")
    # Back: the address and the counts of the first view again.
    browser.back()
    assert _totals(browser) == before


@pytest.mark.slow
def test_small_cells_in_the_browser(server: str, browser: Page) -> None:
    browser.open(server + "explore?dataset=sample")
    texts = browser.evaluate(
        "[...document.querySelectorAll('.value-counts span, svg.chart .bar-value')]"
        ".map(e => e.textContent.trim())"
    )
    assert f"<{THRESHOLD}" in texts
    assert not {str(n) for n in range(1, THRESHOLD)} & set(texts)


@pytest.mark.slow
def test_the_page_reads_at_400_pixels(server: str, tmp_path: Path) -> None:
    with chromium(tmp_path / "narrow") as narrow:
        narrow.resize(400, 1200)
        narrow.open(server + "explore?modality=dcm:MR")
        overflow = narrow.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1
        NARROW_SCREENSHOT.unlink(missing_ok=True)
        narrow.screenshot(NARROW_SCREENSHOT)
        assert NARROW_SCREENSHOT.read_bytes().startswith(b"\x89PNG")


KEY = "explore-researcher-key"


@pytest.fixture(scope="module")
def signed_in_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    built = built_store(tmp_path_factory)
    work = tmp_path_factory.mktemp("explore-browser-access")
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    settings = server_settings(
        built, work, api_keys=f"researcher:{digest}", access_grants="key:researcher=closed"
    )
    with running_server(work, 0, settings) as url:
        yield url


def _datasets(browser: Page) -> list[str]:
    found: list[str] = browser.evaluate(
        "[...document.querySelectorAll('#facet-dataset input')].map(e => e.value)"
    )
    return found


@pytest.mark.slow
def test_a_signed_in_reader_sees_what_the_token_opens(
    signed_in_server: str, browser: Page
) -> None:
    browser.open(signed_in_server + "explore")
    assert _datasets(browser) == ["sample", "synth60"]  # closed: no public aggregates
    browser.open(signed_in_server + f"explore#access_token={KEY}")
    browser.until("#explorer[data-signed-in]")
    assert _datasets(browser) == ["closed", "sample", "synth60"]
    assert KEY not in browser.evaluate("location.href")  # the fragment is gone
    checkbox = browser.evaluate("document.querySelector('#facet-dataset input[value=closed]').id")
    browser.evaluate(f"document.getElementById('{checkbox}').click()")
    browser.until('#explorer[data-view*="dataset=closed"]')
    assert "dataset=closed" in browser.evaluate("location.href")
    assert browser.evaluate("document.getElementById('total-patients').textContent") == "<5"
