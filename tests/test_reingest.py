"""Writing a series again replaces every triple derived from it.

Each case ingests a corpus one way, then again another way (edited mappings, other
de-identification options, a series that leaves quarantine), and compares the store with a
fresh store that only had the second ingest: the two must hold exactly the same quads.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections import defaultdict
from pathlib import Path

import pydicom
import pytest
from fairdicom.config import DeidOptions, Settings, load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.ingest.summary import IngestSummary
from fairdicom.resources import MAPPINGS

from tests.helpers import dataset_quads

FD = "https://w3id.org/fairdicom/ontology#"
FEMALE, MALE = "http://snomed.info/id/248152002", "http://snomed.info/id/248153007"


def _ingest(
    paths: list[Path],
    store: Path,
    mappings: Path,
    monkeypatch: pytest.MonkeyPatch,
    deid: DeidOptions | None = None,
) -> IngestSummary:
    settings: Settings = load_settings(store=str(store), batch_size=40, mappings=str(mappings))
    if deid is not None:
        settings = dataclasses.replace(settings, deid=deid)
    return ingest(paths, settings, "test")


def _mappings(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(MAPPINGS, folder)
    return folder


def _edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _objects(quads: set[str], predicate: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for quad in quads:
        subject, rest = quad.split(" ", 1)
        if rest.startswith(f"<{predicate}> "):
            found[subject].add(rest.split(" ", 2)[1])
    return found


def _swap_sexes(folder: Path) -> None:
    _edit(folder, "sex.sssom.tsv", "sct:248152002\tFemale", "sct:TMP\tFemale")
    _edit(folder, "sex.sssom.tsv", "sct:248153007\tMale", "sct:248152002\tMale")
    _edit(folder, "sex.sssom.tsv", "sct:TMP\tFemale", "sct:248153007\tFemale")


def test_mapping_change_then_reingest_equals_a_fresh_ingest(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = _mappings(tmp_path, "edited")
    _swap_sexes(edited)
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    _ingest([corpus], store, MAPPINGS, monkeypatch)
    before = dataset_quads(store)
    _ingest([corpus], store, edited, monkeypatch)
    _ingest([corpus], fresh, edited, monkeypatch)
    after = dataset_quads(store)
    assert after == dataset_quads(fresh)
    assert after != before
    sexes = _objects(after, FD + "sex")
    assert sexes and all(len(values) == 1 for values in sexes.values()), sexes
    old = _objects(before, FD + "sex")
    swapped = {f"<{FEMALE}>": f"<{MALE}>", f"<{MALE}>": f"<{FEMALE}>"}
    assert {p: {swapped[v] for v in vs} for p, vs in old.items()} == sexes


def test_partial_reingest_recomputes_the_patient_from_all_its_series(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-ingesting one series with edited mappings gives its patient exactly the new value,
    computed from every series of the patient (the others are not re-ingested)."""
    edited = _mappings(tmp_path, "edited")
    _swap_sexes(edited)
    store = tmp_path / "store"
    _ingest([corpus], store, MAPPINGS, monkeypatch)
    before = _objects(dataset_quads(store), FD + "sex")
    one_series = sorted(p for p in corpus.rglob("*.dcm"))[0].parent
    _ingest([one_series], store, edited, monkeypatch)
    after = _objects(dataset_quads(store), FD + "sex")
    changed = {p for p in after if after[p] != before[p]}
    assert len(changed) == 1, changed
    assert all(len(values) == 1 for values in after.values()), after


def _correct_series(folder: Path) -> None:
    """Change, in every file of one series, a value inside each top-level sequence item and the
    manufacturer (as when a site corrects its files and sends them again)."""
    series = next(p.parent for p in sorted(folder.rglob("*.dcm")) if _has_items(p))
    for path in sorted(series.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        for element in ds:
            if element.VR == "SQ" and len(element.value):
                item = element.value[0]
                text = next(e for e in item if e.VR in ("LO", "SH", "CS", "DS", "IS"))
                text.value = "corrected"
        ds.Manufacturer = "Another Vendor"
        ds.save_as(path)


def _has_items(path: Path) -> bool:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return any(
        e.VR == "SQ" and len(e.value) and any(i.VR in ("LO", "SH", "CS") for i in e.value[0])
        for e in ds
    )


def test_corrected_files_reingested_leave_no_stale_item_or_equipment(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrected = tmp_path / "corrected"
    shutil.copytree(corpus, corrected)
    _correct_series(corrected)
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    _ingest([corpus], store, MAPPINGS, monkeypatch)
    before = dataset_quads(store)
    _ingest([corrected], store, MAPPINGS, monkeypatch)
    _ingest([corrected], fresh, MAPPINGS, monkeypatch)
    expected = dataset_quads(fresh)
    old_nodes = {q.split(" ")[0] for q in before} - {q.split(" ")[0] for q in expected}
    assert any("/id/item/" in n for n in old_nodes), "the correction changed no sequence item"
    assert any("/id/equipment/" in n for n in old_nodes), "the correction changed no equipment"
    assert dataset_quads(store) == expected


def test_option_change_then_reingest_equals_a_fresh_ingest(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other date options change every date of the raw layer and the studies' curated dates."""
    first = DeidOptions(longitudinal="modified", retain_device_identity=False)
    second = DeidOptions(longitudinal="full", retain_device_identity=True)
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    _ingest([corpus], store, MAPPINGS, monkeypatch, first)
    before = dataset_quads(store)
    _ingest([corpus], store, MAPPINGS, monkeypatch, second)
    _ingest([corpus], fresh, MAPPINGS, monkeypatch, second)
    assert dataset_quads(store) == dataset_quads(fresh) != before


def test_a_series_that_leaves_quarantine_leaves_nothing_behind(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _mappings(tmp_path, "broken")
    _edit(broken, "modality.sssom.tsv", "modality:CT\t", "modality:XCT\t")  # CT series fail
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    summary = _ingest([corpus], store, broken, monkeypatch)
    assert summary.quarantined_series > 0
    assert any("/graph/test/quarantine>" in q for q in dataset_quads(store))
    summary = _ingest([corpus], store, MAPPINGS, monkeypatch)
    assert summary.quarantined_series == 0
    _ingest([corpus], fresh, MAPPINGS, monkeypatch)
    after = dataset_quads(store)
    assert not any("/graph/test/quarantine>" in q for q in after)
    assert after == dataset_quads(fresh)


def test_a_series_that_enters_quarantine_leaves_nothing_in_raw_or_curated(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _mappings(tmp_path, "broken")
    _edit(broken, "modality.sssom.tsv", "modality:CT\t", "modality:XCT\t")
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    _ingest([corpus], store, MAPPINGS, monkeypatch)
    _ingest([corpus], store, broken, monkeypatch)
    _ingest([corpus], fresh, broken, monkeypatch)
    assert dataset_quads(store) == dataset_quads(fresh)
