"""The synthetic corpus generator: determinism, structure, validity, PHI and realism."""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pydicom
import pytest
from fairdicom.dicom import synth_tables as tables
from fairdicom.dicom.synth import PHI_KEYWORDS, SynthSummary, write_corpus
from fairdicom.dicom.synth_series import age_on
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian

IMAGE_MODALITIES = {"CT", "MR", "PT", "CR", "DX", "MG", "US"}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth")
    return out, write_corpus(out, patients=8, seed=0)


@pytest.fixture(scope="module")
def datasets(written: tuple[Path, SynthSummary]) -> list[tuple[Path, Dataset]]:
    return [(path, pydicom.dcmread(path)) for path in written[1].files]


def _date(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_corpus(tmp_path / "a", patients=3, seed=21)
    second = write_corpus(tmp_path / "b", patients=3, seed=21)
    other = write_corpus(tmp_path / "c", patients=3, seed=22)
    relative = [p.relative_to(tmp_path / "a") for p in first.files]
    assert relative == [p.relative_to(tmp_path / "b") for p in second.files]
    for name in relative:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    ids = {pydicom.dcmread(p).PatientID for p in first.files}
    assert ids.isdisjoint({pydicom.dcmread(p).PatientID for p in other.files})


def test_summary_matches_files_and_uids(
    written: tuple[Path, SynthSummary], datasets: list[tuple[Path, Dataset]]
) -> None:
    out, summary = written
    on_disk = sorted(out.rglob("*.dcm"))
    assert sorted(summary.files) == on_disk
    assert summary.instances == len(on_disk) == len(datasets)
    assert summary.patients == 8 == len({ds.PatientID for _, ds in datasets})
    assert summary.studies == len({ds.StudyInstanceUID for _, ds in datasets})
    assert summary.series == len({ds.SeriesInstanceUID for _, ds in datasets})
    assert len({ds.SOPInstanceUID for _, ds in datasets}) == summary.instances
    assert summary.patients <= summary.studies <= 3 * summary.patients
    folders: dict[Path, set[str]] = defaultdict(set)
    for path, ds in datasets:
        folders[path.parent].add(ds.SeriesInstanceUID)
    assert all(len(uids) == 1 for uids in folders.values())
    assert len(folders) == summary.series


def test_every_modality_and_exactly_one_sr_and_seg(datasets: list[tuple[Path, Dataset]]) -> None:
    modalities = Counter(ds.Modality for _, ds in datasets)
    assert {"CT", "MR", "PT", "MG", "US", "SR", "SEG"} <= set(modalities)
    assert modalities["CR"] + modalities["DX"] > 0
    assert modalities["SR"] == 1 and modalities["SEG"] == 1
    names = {ds.Modality: UID(ds.SOPClassUID).name for _, ds in datasets}
    assert names["CT"] == "CT Image Storage" and names["MR"] == "MR Image Storage"
    assert names["PT"] == "Positron Emission Tomography Image Storage"
    assert names["SR"] == "Basic Text SR Storage" and names["SEG"] == "Segmentation Storage"
    assert names["US"] == "Ultrasound Image Storage"
    assert names["MG"].startswith("Digital Mammography X-Ray Image Storage")


def test_small_corpora_cover_every_modality(tmp_path: Path) -> None:
    summary = write_corpus(tmp_path, patients=3, seed=11, instances_per_series=(1, 1))
    modalities = {pydicom.dcmread(p).Modality for p in summary.files}
    assert {"CT", "MR", "PT", "MG", "US", "SR", "SEG"} <= modalities
    assert modalities & {"CR", "DX"}


def test_files_are_valid_small_part10_without_pixels(
    datasets: list[tuple[Path, Dataset]],
) -> None:
    for path, ds in datasets:
        raw = path.read_bytes()
        assert raw[:128] == bytes(128) and raw[128:132] == b"DICM"
        assert len(raw) < 8192
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
        assert "PixelData" not in ds
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            uid = UID(ds[keyword].value)
            assert uid.is_valid and uid.startswith("2.25.")


def test_bytes_equal_what_pydicom_save_as_writes(datasets: list[tuple[Path, Dataset]]) -> None:
    seen: set[str] = set()
    for path, ds in datasets:
        if ds.Modality in seen and ds.InstanceNumber != 2:
            continue
        seen.add(ds.Modality)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        assert buffer.getvalue() == path.read_bytes(), path


def test_phi_on_every_file_and_unique_per_patient(datasets: list[tuple[Path, Dataset]]) -> None:
    names: dict[str, set[str]] = defaultdict(set)
    for _, ds in datasets:
        for keyword in PHI_KEYWORDS:
            assert keyword in ds and ds[keyword].value not in (None, "", []), keyword
        assert re.fullmatch(r"PID-\d{7}", ds.PatientID)
        assert re.fullmatch(r"EMPI-\d{8}", ds.OtherPatientIDsSequence[0].PatientID)
        assert len(ds.PatientName.family_name) >= 6 and len(ds.PatientName.given_name) >= 6
        names[ds.PatientID].add(str(ds.PatientName))
    assert all(len(v) == 1 for v in names.values())
    family = [next(iter(v)).split("^")[0] for v in names.values()]
    assert len(set(family)) == len(family)


def test_names_and_ids_are_distinctive(datasets: list[tuple[Path, Dataset]]) -> None:
    """No fictitious name occurs in a value that is not identifying (no false positives)."""
    pools = tables.FAMILY_NAMES + tables.FAMILY_NAMES_UTF8
    people = pools + tables.GIVEN_F + tables.GIVEN_M + tables.GIVEN_F_UTF8 + tables.GIVEN_M_UTF8
    assert all(len(name) >= 6 for name in people)
    lowered = [n.lower() for n in people]
    assert not [(a, b) for a in lowered for b in lowered if a != b and a in b]
    free_text = {
        "PatientName",
        "SeriesDescription",
        "TextValue",
        "VerifyingObserverName",
        "ContentCreatorName",
        *PHI_KEYWORDS,
    }
    values: set[str] = set()
    for _, ds in datasets:
        for element in ds.iterall():
            if element.keyword not in free_text and element.VR not in ("SQ", "PN"):
                values.add(str(element.value).lower())
    for name in lowered:
        assert not [v for v in values if name in v], name


def test_some_descriptions_and_the_report_name_the_patient(
    datasets: list[tuple[Path, Dataset]],
) -> None:
    named = [
        ds
        for _, ds in datasets
        if ds.PatientName.family_name in str(ds.get("SeriesDescription", ""))
    ]
    assert named and len(named) < len(datasets) / 2
    report = next(ds for _, ds in datasets if ds.Modality == "SR")
    texts = [item.TextValue for item in report.ContentSequence]
    assert any(report.PatientName.family_name in text for text in texts)


def test_a_few_patients_are_utf8_with_names_outside_latin1(
    datasets: list[tuple[Path, Dataset]],
) -> None:
    charsets = {ds.PatientID: ds.SpecificCharacterSet for _, ds in datasets}
    assert 0 < list(charsets.values()).count("ISO_IR 192") < len(charsets) / 2
    for _, ds in datasets:
        if ds.SpecificCharacterSet == "ISO_IR 192":
            with pytest.raises(UnicodeEncodeError):
                ds.PatientName.family_name.encode("latin-1")


def test_ages_agree_with_birth_and_study_dates(datasets: list[tuple[Path, Dataset]]) -> None:
    for _, ds in datasets:
        assert re.fullmatch(r"\d{3}Y", ds.PatientAge)
        birth, study = _date(ds.PatientBirthDate), _date(ds.StudyDate)
        assert int(ds.PatientAge[:3]) == age_on(birth, study) >= 18
        assert ds.SeriesDate == ds.StudyDate == ds.ContentDate
        if ds.Modality == "MG":
            assert ds.PatientSex == "F" and ds.BodyPartExamined == "BREAST"


def test_age_on_counts_completed_years() -> None:
    assert age_on(date(1960, 3, 15), date(2020, 3, 14)) == 59
    assert age_on(date(1960, 3, 15), date(2020, 3, 15)) == 60
    assert age_on(date(1960, 2, 29), date(2021, 2, 28)) == 60


def test_instance_counts_default_and_override(
    datasets: list[tuple[Path, Dataset]], tmp_path: Path
) -> None:
    per_series = Counter((ds.SeriesInstanceUID, ds.Modality) for _, ds in datasets)
    for (_, modality), count in per_series.items():
        low, high = tables.DEFAULT_INSTANCES.get(modality, (1, 1))
        assert low <= count <= high, modality
    summary = write_corpus(tmp_path, patients=2, seed=4, instances_per_series=(2, 3))
    counts = Counter(pydicom.dcmread(p).SeriesInstanceUID for p in summary.files)
    assert sorted(set(counts.values())) in ([1, 2, 3], [1, 2], [1, 3])  # SR and SEG: 1
    with pytest.raises(ValueError):
        write_corpus(tmp_path, patients=2, instances_per_series=(3, 2))
    with pytest.raises(ValueError):
        write_corpus(tmp_path, patients=0)


def test_cross_sectional_geometry_varies_per_slice(datasets: list[tuple[Path, Dataset]]) -> None:
    series: dict[str, list[Dataset]] = defaultdict(list)
    for _, ds in datasets:
        if ds.Modality in ("CT", "MR", "PT"):
            series[ds.SeriesInstanceUID].append(ds)
    assert series
    for items in series.values():
        items.sort(key=lambda d: int(d.InstanceNumber))
        assert len({tuple(d.ImageOrientationPatient) for d in items}) == 1
        assert len({d.FrameOfReferenceUID for d in items}) == 1
        positions = [[float(v) for v in d.ImagePositionPatient] for d in items]
        assert len({tuple(p) for p in positions}) == len(items)
        if len(items) > 1:
            gap = sum((a - b) ** 2 for a, b in zip(positions[1], positions[0], strict=True)) ** 0.5
            expected = float(items[0].get("SpacingBetweenSlices", items[0].SliceThickness))
            assert gap == pytest.approx(abs(expected), abs=1e-3)
        rows = {(d.Rows, d.Columns) for d in items}
        assert rows in ({(512, 512)}, {(200, 200)}) or items[0].Modality == "MR"


def test_modality_specific_attributes(datasets: list[tuple[Path, Dataset]]) -> None:
    by_modality = {ds.Modality: ds for _, ds in datasets}
    ct, mr, pt = by_modality["CT"], by_modality["MR"], by_modality["PT"]
    assert ct.KVP and ct.ConvolutionKernel and int(ct.XRayTubeCurrent) > 0
    assert ct.RescaleType == "HU" and ct["SliceThickness"].VR == "DS"
    assert float(mr.MagneticFieldStrength) in (1.5, 3.0) and mr.SequenceName.startswith("*")
    assert float(mr.RepetitionTime) > float(mr.EchoTime) > 0
    drug = pt.RadiopharmaceuticalInformationSequence[0]
    assert drug.RadiopharmaceuticalCodeSequence[0].CodingSchemeDesignator == "SCT"
    assert drug.RadionuclideCodeSequence[0].CodeValue == "77004003"
    for _, ds in datasets:
        if ds.Modality != "SR":
            code = ds.AnatomicRegionSequence[0]
            assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == (
                tables.BODY_PARTS[ds.BodyPartExamined]
            )
        procedure = ds.ProcedureCodeSequence[0]
        assert procedure.CodingSchemeDesignator in ("RADLEX", "LN")
        assert (ds.Manufacturer, ds.ManufacturerModelName) in {
            (e.manufacturer, e.model) for group in tables.EQUIPMENT.values() for e in group
        }


def test_derived_objects_reference_real_instances(datasets: list[tuple[Path, Dataset]]) -> None:
    by_uid = {ds.SOPInstanceUID: ds for _, ds in datasets}
    seg = next(ds for _, ds in datasets if ds.Modality == "SEG")
    sr = next(ds for _, ds in datasets if ds.Modality == "SR")
    referenced = seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    assert referenced and int(seg.NumberOfFrames) == len(referenced)
    for item in referenced:
        source = by_uid[item.ReferencedSOPInstanceUID]
        assert source.SOPClassUID == item.ReferencedSOPClassUID
        assert source.StudyInstanceUID == seg.StudyInstanceUID
        assert (source.Rows, source.Columns) == (seg.Rows, seg.Columns)
    segment_type = seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0]
    assert segment_type.CodingSchemeDesignator == "SCT"
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    item = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert by_uid[item.ReferencedSOPInstanceUID].StudyInstanceUID == sr.StudyInstanceUID


def test_private_block_on_some_series(datasets: list[tuple[Path, Dataset]]) -> None:
    with_block = {
        ds.SeriesInstanceUID
        for _, ds in datasets
        if (0x0009, 0x0010) in ds and ds[0x0009, 0x0010].value == "ACME 1.1"
    }
    all_series = {ds.SeriesInstanceUID for _, ds in datasets}
    assert 0 < len(with_block) < len(all_series)
    ds = next(d for _, d in datasets if d.SeriesInstanceUID in with_block)
    assert ds.private_block(0x0009, "ACME 1.1")[0x02].VR == "DS"
