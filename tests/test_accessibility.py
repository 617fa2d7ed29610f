"""Accessibility and responsiveness of the HTML pages, in headless Chromium on a real server.

axe-core (tests/vendor/axe-core, from npm, see its PROVENANCE.md) runs inside each page over
the Chrome DevTools Protocol (tests/cdp.py): no serious or critical violation on the query
page, the cohort explorer, a Linked Data page (a series) and a catalogue landing page.
Each page is also looked at 1280 and 400 CSS pixels wide: screenshots go to tests/artifacts/,
and at 400 px the page itself never scrolls sideways (wide tables scroll in their own box).
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cdp import Page, browser
from tests.conftest import ROOT, SECRET, run_cli
from tests.servers import serving

AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts" / "accessibility"
BLOCKING = ("serious", "critical")
WIDTHS = (1280, 400)
SERIES = """PREFIX fd: <https://w3id.org/fairdicom/ontology#>
SELECT ?series WHERE { GRAPH ?g { ?series fd:numberOfInstances ?n } } ORDER BY DESC(?n) LIMIT 1"""
READY = {
    "query": "document.getElementById('results').dataset.state === 'done'"
    " && document.getElementById('results-table').dataset.labels !== undefined",
}
"""Per page, what must hold before it is checked (the query page: its results and labels)."""

BROKEN_WORDS = """Array.from(document.querySelectorAll('th')).flatMap(function (th) {
  var broken = [], walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT), node, word;
  while ((node = walker.nextNode())) {
    var words = /\\S+/g;
    while ((word = words.exec(node.data))) {
      var range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      var tops = Array.from(range.getClientRects()).map(function (r) { return Math.round(r.top); });
      if (new Set(tops).size > 1) broken.push(word[0]);
    }
  }
  return broken;
})"""
"""The words of header cells that the page breaks over two lines (none may be)."""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the bundled sample (ingested with its catalogue) from a real server process."""
    from fairdicom.resources import SAMPLE

    work = tmp_path_factory.mktemp("accessibility")
    config = work / "empty.toml"
    config.write_text("")
    env = {"FAIRDICOM_STORE": str(work / "store"), "FAIRDICOM_CONFIG": str(config)}
    env |= {"FAIRDICOM_SECRET": SECRET, "FAIRDICOM_BASE_IRI": "http://localhost:8000/"}
    done = run_cli("ingest", str(SAMPLE), "--dataset", "sample", env=env)  # with its catalogue
    assert done.returncode == 0, done.stdout + done.stderr
    settings = {
        "store": str(work / "store"),
        "secret": SECRET,
        "base_iri": "http://localhost:8000/",
        "query_workers": "1",
    }
    with serving(work, 0, settings) as running:
        yield running.url


@pytest.fixture(scope="module")
def pages(server: str) -> dict[str, str]:
    """The pages to check: name -> URL."""
    url = server + "sparql?" + urllib.parse.urlencode({"query": SERIES})
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=120) as reply:
        (row,) = json.loads(reply.read())["results"]["bindings"]
    series = urllib.parse.urlsplit(row["series"]["value"]).path.lstrip("/")
    return {
        "query": server + "?example=modality-bodypart&run=1",
        "explore": server + "explore",
        "series": server + series,
        "landing": server + "catalog/dataset/sample",
    }


def _answers(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=120) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def _violations(page: Page) -> list[dict[str, object]]:
    """Run axe-core in the page; return its serious and critical violations."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(function (r) {"
        " return r.violations.map(function (v) { return {id: v.id, impact: v.impact,"
        " help: v.help, nodes: v.nodes.map(function (n) { return n.target.join(' '); })}; }); })",
        await_promise=True,
    )
    return [v for v in found if v["impact"] in BLOCKING]


@pytest.mark.parametrize("name", ["query", "explore", "series", "landing"])
def test_page_is_accessible_and_readable_at_1280_and_400_px(
    name: str, pages: dict[str, str], tmp_path: Path
) -> None:
    url = pages[name]
    status = _answers(url)
    if name == "explore" and status == 404:
        pytest.skip("/explore answers 404: the cohort explorer is not in this build yet")
    assert status == 200, f"{url} answers {status}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser(tmp_path / "profile") as page:
        for width in WIDTHS:
            page.resize(width)
            page.open(url)
            if name in READY:
                page.wait_for(READY[name])
            violations = _violations(page)
            assert violations == [], f"{name} at {width} px: {json.dumps(violations, indent=1)}"
            shot = ARTIFACTS / f"{name}-{width}.png"
            page.screenshot(shot)
            assert shot.read_bytes().startswith(b"\x89PNG")
            assert page.evaluate(BROKEN_WORDS) == [], f"{name}: words broken in headers at {width}"
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"


def test_keyboard_reaches_the_navigation_and_opens_the_raw_attributes(
    pages: dict[str, str], tmp_path: Path
) -> None:
    tab = ("Tab", "Tab", 9)
    with browser(tmp_path / "profile") as page:
        page.resize(400)
        page.open(pages["series"])
        focused = []
        for _ in range(6):
            page.press(*tab)
            focused.append(page.evaluate("document.activeElement.textContent.trim()"))
        assert focused == [
            "Skip to content",
            "fairdicom",
            "Query",
            "Explore",
            "Catalogue",
            "Mappings",
        ]
        page.open(pages["series"])
        page.press(*tab)
        page.press("Enter", "Enter", 13, "\r")  # the skip link takes the focus to the content
        assert page.evaluate("document.activeElement.id") == "main"
        assert page.evaluate("document.querySelector('details.raw').open") is False
        page.evaluate("document.querySelector('details.raw summary').focus()")
        page.press("Enter", "Enter", 13, "\r")
        page.wait_for("document.querySelector('details.raw').open === true", "Enter opens it")
        assert page.evaluate("document.querySelector('.raw-attributes').offsetHeight") > 0


def test_axe_copy_is_the_one_its_provenance_names() -> None:
    provenance = (AXE.parent / "PROVENANCE.md").read_text(encoding="utf-8")
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() in provenance
    assert "axe-core@4.14.1" in provenance and (AXE.parent / "LICENSE").is_file()
