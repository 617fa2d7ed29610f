"""Ingest end to end: counts, idempotent re-ingest, bad inputs, quarantine, zip and DICOMDIR."""

from __future__ import annotations

import shutil
import warnings
import zipfile
from pathlib import Path

import pydicom
import pytest
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.ingest.summary import IngestSummary
from fairdicom.store import EmbeddedStore
from pydicom.data import get_testdata_file

from tests.helpers import dataset_quads


def _ingest(paths: list[Path], store: Path) -> IngestSummary:
    return ingest(paths, load_settings(store=str(store)), "test")


def _ingest_reporting(
    paths: list[Path], store: Path
) -> tuple[IngestSummary, list[tuple[str, str]]]:
    """Ingest and return the summary with the (path, reason) problems reported on the way."""
    problems: list[tuple[str, str]] = []
    summary = ingest(
        paths,
        load_settings(store=str(store)),
        "test",
        problem=lambda path, reason: problems.append((path, reason)),
    )
    return summary, problems


def _files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*.dcm"))


def test_corpus_is_ingested_and_counted(corpus: Path, store_dir: Path) -> None:
    files = _files(corpus)
    summary = ingest([corpus], load_settings(store=str(store_dir)), "test")
    assert summary.files_seen == len(files)
    assert summary.ingested == len(files) and summary.rejected == 0
    assert summary.quarantined_series == 0 and summary.exit_code == 0
    uids = {
        (str(d.PatientID), d.StudyInstanceUID, d.SeriesInstanceUID)
        for d in (pydicom.dcmread(f, stop_before_pixels=True) for f in files)
    }
    assert summary.patients == len({u[0] for u in uids})
    assert summary.studies == len({u[1] for u in uids})
    assert summary.series == len({u[2] for u in uids})
    store = EmbeddedStore(str(store_dir), read_only=True)
    try:
        graphs = store.graphs()
        rows = store.select(
            "SELECT (COUNT(DISTINCT ?i) AS ?n) WHERE { GRAPH ?g { ?i a "
            "<https://w3id.org/fairdicom/ontology#Instance> } }"
        )
    finally:
        store.close()
    assert any(g.endswith("/graph/test/raw") for g in graphs)
    assert any(g.endswith("/graph/test/curated") for g in graphs)
    assert any(g.endswith("/graph/provenance") for g in graphs)
    assert int(rows[0]["n"].value) == len(files)


def test_reingest_gives_the_same_triples(corpus: Path, store_dir: Path) -> None:
    _ingest([corpus], store_dir)
    first = dataset_quads(store_dir)
    _ingest([corpus], store_dir)
    assert dataset_quads(store_dir) == first


def test_batches_split_inside_a_series_give_the_same_triples(corpus: Path, tmp_path: Path) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    ingest([corpus], load_settings(store=str(whole), batch_size=100_000), "test")
    # batch_size 1 and a cap of 8 force series to be written in several batches.
    ingest([corpus], load_settings(store=str(split), batch_size=1), "test")
    assert dataset_quads(split) == dataset_quads(whole)


def _write(ds: pydicom.Dataset, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the defects are on purpose
        ds.save_as(path, enforce_file_format=False)
    return path


def _bad_inputs(corpus: Path, folder: Path) -> dict[str, Path]:
    folder.mkdir()
    good = _files(corpus)[0]
    data = good.read_bytes()
    made = {
        "truncated": folder / "truncated.dcm",
        "not_dicom": folder / "notes.txt",
        "empty": folder / "empty.dcm",
    }
    made["truncated"].write_bytes(data[: len(data) // 3])
    made["not_dicom"].write_text("this is a README, not an image\n")
    made["empty"].write_bytes(b"")
    ds = pydicom.dcmread(good)
    del ds.SOPInstanceUID
    made["no_sop_uid"] = _write(ds, folder / "no-uid.dcm")
    ds = pydicom.dcmread(good)
    ds.SOPInstanceUID = ds.SOPInstanceUID + ".9"
    ds.SeriesInstanceUID = ds.SeriesInstanceUID + ".9"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid date we want
        ds.ContentTime = "256199"  # a date that cannot be shifted is removed, not kept
    made["invalid_date"] = _write(ds, folder / "bad-date.dcm")
    ds = pydicom.dcmread(good)
    ds.SOPInstanceUID = ds.SOPInstanceUID + ".8"
    ds.SeriesInstanceUID = ds.SeriesInstanceUID + ".8"
    ds.SpecificCharacterSet = "ISO_IR 999"
    made["unknown_charset"] = _write(ds, folder / "charset.dcm")
    return made


def test_bad_inputs_are_reported_and_the_rest_goes_in(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "inputs"
    shutil.copytree(corpus, folder / "corpus")
    bad = _bad_inputs(corpus, folder / "bad")
    summary, problems = _ingest_reporting([folder], tmp_path / "store")
    good = len(_files(corpus))
    reported = {path: reason for path, reason in problems}
    assert summary.files_seen == good + len(bad)
    assert summary.skipped == 1  # notes.txt
    assert summary.rejected == 3  # truncated, empty, missing SOPInstanceUID
    assert summary.ingested == good + 2  # invalid date and unknown charset still go in
    assert summary.exit_code == 1
    assert "empty" in reported[str(bad["empty"])]
    assert "SOPInstanceUID" in reported[str(bad["no_sop_uid"])]
    assert str(bad["truncated"]) in reported
    assert "SpecificCharacterSet" in reported[str(bad["unknown_charset"])]
    text = "".join(dataset_quads(tmp_path / "store"))
    assert (
        "<https://w3id.org/fairdicom/ontology#invalidValueFor> "
        "<https://w3id.org/fairdicom/dicom#ContentTime>" in text
    )
    assert '"256199"' in text


def test_a_shacl_violation_is_quarantined(corpus: Path, tmp_path: Path) -> None:
    ds = pydicom.dcmread(_files(corpus)[0])
    ds.Modality = "ZZ"  # not a DICOM modality: the series has no fd:modality
    ds.SeriesInstanceUID = ds.SeriesInstanceUID + ".77"
    ds.SOPInstanceUID = ds.SOPInstanceUID + ".77"
    (tmp_path / "in").mkdir()
    _write(ds, tmp_path / "in" / "odd.dcm")
    summary, problems = _ingest_reporting([tmp_path / "in"], tmp_path / "store")
    assert summary.quarantined_series == 1 and summary.quarantined_instances == 1
    assert summary.ingested == 0 and summary.exit_code == 1
    assert "modality" in problems[0][1]
    quads = dataset_quads(tmp_path / "store")
    assert all("/graph/test/quarantine>" in q for q in quads if "#validationReport>" in q)
    assert any("#validationReport>" in q for q in quads)
    assert not any(
        "/graph/test/raw>" in q or "/graph/test/curated>" in q
        for q in quads
        if "/id/series/" in q.split(" ")[0]
    )


def test_zip_archives_and_dicomdir_are_read(corpus: Path, tmp_path: Path) -> None:
    archive = tmp_path / "corpus.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in _files(corpus):
            zf.write(path, path.relative_to(corpus).as_posix())
    from_zip = _ingest([archive], tmp_path / "zip")
    assert from_zip.ingested == len(_files(corpus))
    dicomdir = Path(str(get_testdata_file("DICOMDIR")))
    summary = _ingest([dicomdir], tmp_path / "dicomdir")
    assert summary.files_seen == 31 and summary.rejected == 0


def test_pydicom_test_files_are_all_accounted_for(tmp_path: Path) -> None:
    folder = Path(str(get_testdata_file("CT_small.dcm"))).parent
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    s = _ingest([folder], tmp_path / "store")
    assert s.files_seen == len(files)
    assert s.ingested + s.skipped + s.rejected + s.quarantined_instances == len(files)
    assert s.ingested > 100


@pytest.mark.parametrize("missing", ["SeriesInstanceUID", "StudyInstanceUID"])
def test_missing_hierarchy_uids_are_rejected(corpus: Path, tmp_path: Path, missing: str) -> None:
    ds = pydicom.dcmread(_files(corpus)[0])
    delattr(ds, missing)
    (tmp_path / "in").mkdir()
    _write(ds, tmp_path / "in" / "x.dcm")
    summary, problems = _ingest_reporting([tmp_path / "in"], tmp_path / "s")
    assert summary.rejected == 1 and missing in problems[0][1]


def test_private_attributes_only_when_declared_safe(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator = "https://w3id.org/fairdicom/dicom/private/ACME%201.1#0009xx"
    _ingest([corpus], tmp_path / "default")
    assert not any(creator in q for q in dataset_quads(tmp_path / "default"))
    monkeypatch.setenv("FAIRDICOM_DEID_KEEP_PRIVATE", "ACME 1.1:0009xx02")
    _ingest([corpus], tmp_path / "kept")
    kept = [q for q in dataset_quads(tmp_path / "kept") if creator in q]
    assert kept and all(f"<{creator}02>" in q for q in kept)  # 0009xx01 is not declared safe
    assert all('"1.25"^^<http://www.w3.org/2001/XMLSchema#decimal>' in q for q in kept)
