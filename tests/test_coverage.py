"""Coverage (`fairdicom mapping coverage` and `/mappings/coverage`) agrees with a hand count of
the DICOM files made with pydicom: attributes per series and instance, values of Body Part
Examined without a concept, series left without a curated body part."""

from __future__ import annotations

import urllib.request
from collections import defaultdict
from pathlib import Path

import pydicom
import pytest
from fairdicom.config import load_settings
from fairdicom.curation.coverage import DatasetCoverage, coverage
from fairdicom.ingest.pipeline import ingest
from fairdicom.rdf.sssom import read_table
from fairdicom.resources import MAPPINGS

from tests.conftest import SECRET, run_cli
from tests.servers import serving


def _read(url: str) -> str:
    with urllib.request.urlopen(url, timeout=120) as response:
        text: str = response.read().decode()
        return text


COUNTED = ("Modality", "BodyPartExamined", "SliceThickness", "Manufacturer", "PixelSpacing")


def hand_count(corpus: Path) -> tuple[dict[str, set[str]], dict[str, int], dict[str, set[str]]]:
    """Return, from the files: keyword -> series that have it, keyword -> instances that have
    it, Body Part Examined value -> its series."""
    series: dict[str, set[str]] = defaultdict(set)
    instances: dict[str, int] = defaultdict(int)
    parts: dict[str, set[str]] = defaultdict(set)
    for path in sorted(corpus.rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in COUNTED:
            value = ds.get(keyword)
            if value not in (None, ""):
                series[keyword].add(ds.SeriesInstanceUID)
                instances[keyword] += 1
        if ds.get("BodyPartExamined"):
            parts[ds.BodyPartExamined].add(ds.SeriesInstanceUID)
    return series, instances, parts


@pytest.fixture()
def covered(corpus: Path, tmp_path: Path) -> tuple[Path, DatasetCoverage]:
    store = tmp_path / "store"
    ingest([corpus], load_settings(store=str(store)), "test")
    (found,) = coverage(load_settings(store=str(store)))
    return store, found


def test_coverage_matches_a_hand_count(corpus: Path, covered: tuple[Path, DatasetCoverage]) -> None:
    store, found = covered
    series, instances, parts = hand_count(corpus)
    counts = {a.keyword: a for a in found.attributes}
    for keyword in COUNTED:
        assert counts[keyword].series == len(series[keyword]), keyword
        assert counts[keyword].instances == instances[keyword], keyword
    assert counts["Modality"].mapped_by == ("modality",)
    assert counts["PixelSpacing"].mapped_by == ("rules/pixel-spacing",)
    table = read_table(MAPPINGS / "body-part.sssom.tsv")
    mapped = {row["subject_id"].split(":", 1)[1] for _, row in table.rows}
    unmapped = {value: len(s) for value, s in parts.items() if value not in mapped}
    assert unmapped, "the corpus has no body part without a concept"
    got = {v.value: v.series for v in found.unmapped_values if v.keyword == "BodyPartExamined"}
    assert got == unmapped
    all_series = {uid for found_series in parts.values() for uid in found_series}
    without_part = len(series["Modality"]) - len(all_series) + sum(unmapped.values())
    assert found.without["https://w3id.org/fairdicom/ontology#bodyPart"] == without_part
    done = run_cli("mapping", "coverage", env={"FAIRDICOM_STORE": str(store)})
    assert done.returncode == 0, done.stderr
    for value, count in unmapped.items():
        assert f"    BodyPartExamined = {value!r}: {count} series" in done.stdout
    assert f"{without_part} node(s) have no bodyPart in the curated layer" in done.stdout
    assert f"    SliceThickness: {len(series['SliceThickness'])} series" in done.stdout


def test_coverage_page(covered: tuple[Path, DatasetCoverage], tmp_path: Path) -> None:
    store, found = covered
    settings = {"store": str(store), "secret": SECRET, "base_iri": "http://localhost:8000/"}
    with serving(tmp_path, 0, settings) as server:
        page = _read(server.url + "mappings/coverage")
    (hand,) = [v for v in found.unmapped_values if v.keyword == "BodyPartExamined"][:1]
    row = f"<td>BodyPartExamined</td><td>{hand.value}</td><td>{hand.series}</td>"
    assert row in page
    assert "<td>SliceThickness</td>" in page
