"""Clean Descriptors removes identifying words, dates and identifier-like numbers from
descriptions, and only them: protocol and sequence names survive as they were."""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from fairdicom.dicom.deidentify import clean_text, identifying_words
from pydicom.dataset import Dataset

from tests.conftest import ROOT, SECRET, run_cli

SAMPLE = ROOT / "data" / "sample"
DCMTAG = "https://w3id.org/fairdicom/dicom#"

# The identifying values of one made-up patient, as the reader collects them.
PATIENT_VALUES = ["Ng^Bo", "PID-2197518", "Fjordvik University Hospital", "19580217"]
PATIENT_NAMES = ["Ng^Bo"]


@pytest.mark.parametrize(
    ("description", "cleaned"),
    [
        # Protocol and sequence names survive, separators and short digit runs included.
        ("ep2d_diff_tra_b50_800", "ep2d_diff_tra_b50_800"),
        ("t1_fl3d_tra_dynaVIEWS_spair_b800_1000", "t1_fl3d_tra_dynaVIEWS_spair_b800_1000"),
        ("t2_tirm_tra_dark-fluid_b1200_3.0", "t2_tirm_tra_dark-fluid_b1200_3.0"),
        # 5-digit runs are kept, 6 or more consecutive digits are removed.
        ("dwi_b0_50_12345_adc", "dwi_b0_50_12345_adc"),
        ("chest_2197518_axial", "chest_axial"),
        # Dates in every typed form, alone or around other words.
        ("DOB 17/02/1958", "DOB"),
        ("17.02.1958 CT THORAX", "CT THORAX"),
        ("head_17-02-1958", "head"),
        ("1958-02-17_t1_mprage", "t1_mprage"),
        ("scan_19580217_t2", "scan_t2"),
        ("DOB 17-Feb-1958 CT", "DOB CT"),
        # The patient's name parts whatever their length, in any case, with any separator.
        ("NG BO", ""),
        ("bo ng T1", "T1"),
        ("nG_Bo_t2_tse", "t2_tse"),
        ("CT HEAD (Bo) 17/02/1958", "CT HEAD"),
        # Other identifying values as before: whole values and their words of 3+ letters.
        ("PID_2197518_follow-up", "follow-up"),
        ("fjordvik_t1_se", "t1_se"),
    ],
)
def test_clean_descriptors_removes_only_the_identifying_part(
    description: str, cleaned: str
) -> None:
    identifying = identifying_words(PATIENT_VALUES, names=PATIENT_NAMES)
    assert clean_text(description, identifying) == cleaned


# ---- end to end: the bundled sample and a hand-made file through the CLI ------------------

IDENTIFYING_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "RequestingPhysician",
    "PhysiciansOfRecord",
    "AccessionNumber",
    "StudyID",
)
MADE_UP = {
    "PatientName": "Ng^Bo",
    "PatientID": "NGB-0042",
    "PatientBirthDate": "19580217",
    "SeriesDescription": "NG BO DOB 17/02/1958 t1_fl2d_cor_bh",
    "StudyDescription": "bo Ng 17.02.1958 MR LIVER",
}


def _tokens(text: str) -> set[str]:
    return {t.casefold() for t in re.split(r"[\W_]+", text) if t}


def _has_identifying_word(ds: Dataset, description: str) -> bool:
    """Tell whether a description holds any word (of any length) of the file's identity."""
    identity: set[str] = set()
    for keyword in IDENTIFYING_KEYWORDS:
        value = ds.get(keyword)
        values = value if isinstance(value, list | tuple) else [value]
        identity.update(t for v in values if v is not None for t in _tokens(str(v)))
    dated = re.search(r"\d{6}|\d{1,4}[./-]\d{1,2}[./-]\d{2,4}", description)
    return bool(dated or identity & _tokens(description))


def _made_up_file(folder: Path) -> Path:
    """Write a copy of a sample MR file as another patient whose identity is in descriptions."""
    source = next(SAMPLE.glob("patient0002/*/*-MR/*.dcm"))
    ds = pydicom.dcmread(source)
    for keyword, value in MADE_UP.items():
        setattr(ds, keyword, value)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        setattr(ds, keyword, getattr(ds, keyword) + ".77")
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    folder.mkdir()
    path = folder / "made-up.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True)
    return path


def _stored(export: str, keyword: str) -> Counter[str]:
    """Count the subjects that carry each value of an attribute in an N-Quads export."""
    pattern = re.compile(rf'^(<[^>]+>) <{re.escape(DCMTAG + keyword)}> "((?:[^"\\]|\\.)*)"')
    subjects: set[tuple[str, str]] = set()
    for line in export.splitlines():
        match = pattern.match(line)
        if match:
            subjects.add((match[1], json.loads(f'"{match[2]}"')))
    return Counter(text for _, text in subjects)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Ingest the bundled sample and the made-up file through the CLI; yield the export."""
    work = tmp_path_factory.mktemp("clean-descriptors")
    inputs = work / "inputs"
    shutil.copytree(SAMPLE, inputs / "sample")
    _made_up_file(inputs / "made-up")
    config = work / "empty.toml"
    config.write_text("")
    store = str(work / "store")
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("FAIRDICOM_")]:
            env.delenv(name)
        settings = {"FAIRDICOM_SECRET": SECRET, "FAIRDICOM_CONFIG": str(config)}
        ingested = run_cli("ingest", str(inputs), "--store", store, env=settings)
        assert ingested.returncode == 0, ingested.stdout + ingested.stderr
        export = run_cli("export", "--format", "nquads", "--store", store, env=settings)
        assert export.returncode == 0, export.stderr
    yield export.stdout


def test_sample_descriptions_without_identity_are_stored_unchanged(exported: str) -> None:
    read: dict[str, tuple[str, bool]] = {}
    for path in sorted(SAMPLE.rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        description = str(ds.get("SeriesDescription", "")).strip()
        if description:
            read[ds.SeriesInstanceUID] = (description, _has_identifying_word(ds, description))
    clean = Counter(d for d, identifying in read.values() if not identifying)
    dirty = {d for d, identifying in read.values() if identifying}
    assert "ep2d_diff_tra_b50_800" in clean  # the protocol name that used to disappear
    assert sum(clean.values()) >= 25 and dirty  # the sample has both kinds
    stored = _stored(exported, "SeriesDescription")
    # Every series with a clean description has it (a cleaned one may have become the same).
    assert all(stored[d] >= n for d, n in clean.items()), (clean, stored)
    assert sum(stored.values()) <= len(read) + 1  # and the made-up series
    assert not dirty & set(stored)


def test_dates_and_short_name_parts_leave_descriptions(exported: str) -> None:
    (series,) = [d for d in _stored(exported, "SeriesDescription") if "fl2d_cor" in d]
    (study,) = [d for d in _stored(exported, "StudyDescription") if "LIVER" in d]
    for stored in (series, study):
        assert not {"ng", "bo"} & _tokens(stored)
        assert not re.search(r"17|02|1958", stored)
    assert "DOB" in series and "t1_fl2d_cor_bh" in series
    assert "MR LIVER" in study
