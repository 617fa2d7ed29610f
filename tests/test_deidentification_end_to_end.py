"""No name, ID, birth date, address, institution, physician, accession number or original UID
of the synthetic corpus reaches the store, an export or the command's output."""

from __future__ import annotations

from pathlib import Path

import pydicom
from fairdicom.dicom.synth import PHI_KEYWORDS
from pydicom.dataset import Dataset

from tests.conftest import run_cli

UID_KEYWORDS = (
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "FrameOfReferenceUID",
    "ReferencedSOPInstanceUID",
)


def _values(ds: Dataset, found: set[str]) -> None:
    for element in ds.iterall():
        keyword = element.keyword
        if keyword in PHI_KEYWORDS or keyword in UID_KEYWORDS:
            values = element.value if isinstance(element.value, list | tuple) else [element.value]
            for value in values:
                if isinstance(value, Dataset):
                    continue
                text = str(value).strip()
                found.add(text)
                if element.VR == "PN":
                    found.update(p for p in text.replace("=", "^").split("^") if p)
                if element.VR == "DA" and len(text) == 8:
                    found.add(f"{text[:4]}-{text[4:6]}-{text[6:]}")
        if keyword == "OtherPatientIDsSequence":
            for item in element.value:
                found.add(str(item.PatientID))


def identifying_values(corpus: Path) -> set[str]:
    found: set[str] = set()
    for path in corpus.rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        _values(ds, found)
        found.add(str(ds.file_meta.MediaStorageSOPInstanceUID))
    # Short fragments (initials, single digits) are not identifying on their own.
    return {v for v in found if len(v) >= 5}


def test_no_identifying_value_reaches_store_export_or_output(corpus: Path, tmp_path: Path) -> None:
    phi = identifying_values(corpus)
    assert len(phi) > 50  # the corpus really carries PHI
    store = tmp_path / "store"
    ingested = run_cli("ingest", str(corpus), "--store", str(store), "-v")
    assert ingested.returncode == 0, ingested.stderr
    outputs = [ingested.stdout, ingested.stderr]
    for fmt in ("nquads", "turtle", "trig"):
        exported = run_cli("export", "--format", fmt, "--store", str(store))
        assert exported.returncode == 0, exported.stderr
        outputs += [exported.stdout, exported.stderr]
    for command in (("stats",), ("validate",)):
        result = run_cli(*command, "--store", str(store))
        outputs += [result.stdout, result.stderr]
    text = "\n".join(outputs)
    assert "fd:Instance" in text or "ontology#Instance" in text
    leaked = sorted(v for v in phi if v in text)
    assert not leaked, f"identifying values in output: {leaked[:10]}"
    raw_bytes = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
    leaked_in_files = sorted(v for v in phi if v.encode() in raw_bytes)
    assert not leaked_in_files, f"identifying values in store files: {leaked_in_files[:10]}"
