"""Hostile files (tests/hostile.py) through the real CLI and the real reader: nothing that
identifies the patient leaves the system, in any encoding, and one bad file costs one file.

What is looked at is what leaves the system: the N-Quads export (every literal, base64 ones
decoded), every byte of the store directory, the command's output, and the reason a rejected
file is given.
"""

from __future__ import annotations

import base64
import multiprocessing
import struct
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal as TypeLiteral

import pydicom
import pytest
from fairdicom.config import DeidOptions
from fairdicom.dicom import limits
from fairdicom.dicom.deidentify import Profile, Pseudonymizer
from fairdicom.dicom.reader import read_instance
from fairdicom.dicom.sources import Source
from fairdicom.dicom_model import Attr, InstanceHeader
from fairdicom.errors import DicomReadError
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DeflatedExplicitVRLittleEndian
from rdflib import Dataset as RdfDataset
from rdflib import Literal
from rdflib.namespace import XSD

from tests.conftest import SECRET, run_cli
from tests.hostile import (
    PRIVATE_KEEP,
    Planted,
    build_all,
    byte_flipped,
    deeply_nested,
    implicit_nested,
    private_block,
    un_encoded,
)

DCMTAG = "https://w3id.org/fairdicom/dicom#"
NOT_PATIENT_DATA = ("/graph/provenance", "/graph/catalog")
Quad = tuple[object, object, object, str]
"""Subject, predicate, object (rdflib terms) and the graph's IRI."""
"""Graphs whose dates are the run's, not the patient's."""


@dataclass
class Run:
    """One CLI ingest of the hostile files, and what left the system."""

    planted: list[Planted]
    bad: dict[str, list[str]]
    store: Path
    output: str
    returncode: int
    quads: list[Quad]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    empty = tmp / "empty.toml"
    empty.write_text("")
    return {"FAIRDICOM_SECRET": SECRET, "FAIRDICOM_CONFIG": str(empty), **extra}


def _ingest_and_export(
    inputs: Path, store: Path, env: dict[str, str]
) -> tuple[str, int, list[Quad]]:
    ingested = run_cli("ingest", str(inputs), "--store", str(store), "-v", env=env)
    exported = run_cli("export", "--format", "nquads", "--store", str(store), env=env)
    assert exported.returncode == 0, exported.stderr
    graph = RdfDataset()
    graph.parse(data=exported.stdout, format="nquads")
    quads: list[Quad] = [
        (s, p, o, str(getattr(g, "identifier", g))) for s, p, o, g in graph.quads()
    ]
    output = "\n".join([ingested.stdout, ingested.stderr, exported.stderr])
    return output, ingested.returncode, quads


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("hostile")
    files = root / "files"
    planted = build_all(files)
    bad = {
        "flipped.dcm": byte_flipped(files / "flipped.dcm"),
        "nested.dcm": deeply_nested(files / "nested.dcm"),
    }
    store = root / "store"
    output, code, quads = _ingest_and_export(files, store, _env(root))
    return Run(planted, bad, store, output, code, quads)


def _texts(quads: list[Quad]) -> list[str]:
    """Return every literal's text, base64Binary literals decoded (as Latin-1 and UTF-8)."""
    found: list[str] = []
    for _, _, obj, _ in quads:
        if not isinstance(obj, Literal):
            continue
        found.append(str(obj))
        if obj.datatype == XSD.base64Binary:
            raw = base64.b64decode(str(obj))
            found += [raw.decode("latin-1"), raw.decode("utf-8", "replace")]
    return found


def _encodings(value: str) -> list[bytes]:
    """Return a value in every encoding a store or a file could hold it in."""
    forms = []
    for codec in ("utf-8", "latin-1", "iso2022_jp", "utf-16-le"):
        try:
            forms.append(value.encode(codec))
        except UnicodeEncodeError:
            continue
    return forms


def _secrets(run: Run) -> set[str]:
    return set().union(*(p.secrets for p in run.planted))


def test_every_hostile_file_goes_in_and_each_bad_one_costs_itself(hostile: Run) -> None:
    assert hostile.returncode == 1, hostile.output  # two files rejected, the rest went in
    for name in hostile.bad:
        line = next(line for line in hostile.output.splitlines() if name in line)
        assert "unreadable DICOM" in line
    instances = {s for s, p, _, _ in hostile.quads if str(p).endswith("ontology#inSeries")}
    assert len(instances) == len(hostile.planted)


def test_no_planted_value_in_any_literal_base64_included(hostile: Run) -> None:
    texts = _texts(hostile.quads)
    assert any("Thorax" in t for t in texts)  # the export is not empty
    leaked = sorted(v for v in _secrets(hostile) if any(v in t for t in texts))
    assert not leaked, f"identifying values in literals: {leaked}"
    assert not [t for t in texts if "\x1b" in t], "undecoded ISO 2022 escape sequences kept"


def test_no_planted_value_in_any_byte_of_the_store(hostile: Run) -> None:
    stored = b"".join(p.read_bytes() for p in hostile.store.rglob("*") if p.is_file())
    assert "Schädel".encode() in stored  # values are stored as plain text: a search finds them
    leaked = sorted(v for v in _secrets(hostile) if any(f in stored for f in _encodings(v)))
    assert not leaked, f"identifying values in the store's files: {leaked}"


def test_no_planted_value_in_the_output(hostile: Run) -> None:
    leaked = sorted(v for v in _secrets(hostile) if v in hostile.output)
    bad_uids = sorted(u for uids in hostile.bad.values() for u in uids if u in hostile.output)
    assert not leaked and not bad_uids, f"in the CLI output: {leaked + bad_uids}"
    assert "Traceback" not in hostile.output
    assert "\\x" not in hostile.output and "b'" not in hostile.output  # no header bytes


def test_uids_are_replaced_at_any_depth_and_registry_uids_kept(hostile: Run) -> None:
    uids = {str(o) for _, p, o, _ in hostile.quads if str(p).endswith("UID")}
    planted_uids = set().union(*(p.uids for p in hostile.planted))
    assert not planted_uids & uids
    well_known = set().union(*(p.well_known for p in hostile.planted))
    assert well_known <= uids, f"registry UIDs lost: {sorted(well_known - uids)}"
    # The attributes outside Table E.1-1 are kept, with pseudonyms, at the top and nested.
    for keyword in (
        "MultiFrameSourceSOPInstanceUID",
        "SOPInstanceUIDOfConcatenationSource",
        "VolumeFrameOfReferenceUID",
        "RadiopharmaceuticalAdministrationEventUID",
        "EquipmentFrameOfReferenceUID",
        "ReferencedSOPInstanceUID",
    ):
        values = [str(o) for _, p, o, _ in hostile.quads if str(p) == DCMTAG + keyword]
        assert values and all(v.startswith("2.25.") for v in values), keyword
    nested = [o for _, p, o, _ in hostile.quads if str(p) == DCMTAG + "SourceImageSequence"]
    assert len(nested) == 2  # the UN sequence of undefined length, and the one 3 levels down


def test_text_is_decoded_in_its_character_set_before_cleaning(hostile: Run) -> None:
    texts = set(_texts(hostile.quads))
    wanted = set().union(*(p.texts for p in hostile.planted))
    missing = sorted(w for w in wanted if not any(w in t for t in texts))
    assert not missing, f"text not decoded or lost: {missing}"


def _patient_dates(quads: list[Quad]) -> list[date]:
    found = []
    for _, _, obj, graph in quads:
        if graph.endswith(NOT_PATIENT_DATA) or not isinstance(obj, Literal):
            continue
        if obj.datatype == XSD.date:
            found.append(date.fromisoformat(str(obj)[:10]))
        elif obj.datatype == XSD.dateTime:
            found.append(datetime.fromisoformat(str(obj)).date())
    return found


def _one_shift(stored: list[date], originals: set[date]) -> int:
    """Return the one shift that maps every stored date to an original one."""
    shifts = set.intersection(*({(o - s).days for o in originals} for s in stored))
    assert len(shifts) == 1, f"no single shift explains the stored dates: {shifts}"
    return shifts.pop()


def test_no_original_date_can_be_recovered(hostile: Run) -> None:
    stored = _patient_dates(hostile.quads)
    originals = set().union(*(p.dates for p in hostile.planted))
    assert len(set(stored)) >= len(originals) - 1  # hardly anything was dropped
    assert not set(stored) & originals, "an original date is stored next to shifted ones"
    shift = _one_shift(stored, originals)
    assert 1 <= shift <= 1095
    # Every planted date of a kept attribute (outside Table E.1-1 or three levels down) is
    # there, moved by the same shift.
    assert {o.toordinal() - shift for o in originals} == {s.toordinal() for s in stored}


def test_a_declared_safe_private_block_is_pseudonymised_and_shifted(
    hostile: Run, tmp_path: Path
) -> None:
    plant = private_block(tmp_path / "files")
    output, code, quads = _ingest_and_export(
        tmp_path / "files",
        tmp_path / "store",
        _env(tmp_path, FAIRDICOM_DEID_KEEP_PRIVATE=PRIVATE_KEEP),
    )
    assert code == 0, output
    private = [(p, o) for _, p, o, _ in quads if "/private/" in str(p) or "GEMS" in str(p)]
    values = {str(o) for _, o in private}
    assert any(v.startswith("2.25.") for v in values), private  # the equipment UID, replaced
    texts = _texts(quads)
    assert not [v for v in plant.secrets if any(v in t for t in texts)]
    stored = _patient_dates(quads)
    # The same patient and secret as the main run: the private date moved by the same shift.
    originals = set().union(*(p.dates for p in hostile.planted))
    shift = _one_shift(_patient_dates(hostile.quads), originals)
    moved = {date.fromordinal(d.toordinal() - shift) for d in plant.private_dates}
    assert moved <= set(stored)


def _all_attrs(attrs: tuple[Attr, ...]) -> list[Attr]:
    found = []
    for attr in attrs:
        found.append(attr)
        if isinstance(attr.value, tuple):
            for item in attr.value:
                found += _all_attrs(item)
    return found


Longitudinal = TypeLiteral["modified", "full", "remove"]


def _read(
    path: Path, secret: str = SECRET, longitudinal: Longitudinal = "modified"
) -> InstanceHeader:
    options = DeidOptions(longitudinal=longitudinal)
    return read_instance(Source(str(path)), Profile(options), Pseudonymizer(secret))


@pytest.mark.parametrize("longitudinal", ["remove", "full"])
def test_the_longitudinal_option_governs_every_date(
    tmp_path: Path, longitudinal: Longitudinal
) -> None:
    plant = implicit_nested(tmp_path)
    attrs = _all_attrs(_read(plant.path, longitudinal=longitudinal).attrs)
    dates = [a for a in attrs if a.vr in ("DA", "DT")]
    if longitudinal == "remove":
        assert not dates
    else:
        kept = {datetime.strptime(str(a.value)[:8], "%Y%m%d").date() for a in dates}
        assert plant.dates <= kept


def _uid_values(header: InstanceHeader) -> list[str]:
    return sorted(str(a.value) for a in _all_attrs(header.attrs) if a.vr == "UI")


def test_another_secret_gives_other_pseudonyms_in_one_process(tmp_path: Path) -> None:
    plant = un_encoded(tmp_path)
    first = _uid_values(_read(plant.path, secret="secret-A"))
    second = _uid_values(_read(plant.path, secret="secret-B"))
    again = _uid_values(_read(plant.path, secret="secret-A"))
    pseudonyms = [u for u in first if u.startswith("2.25.")]
    assert len(pseudonyms) >= 4
    assert first == again
    assert not set(pseudonyms) & set(second)


def _uids_read_with(path: str, secret: str) -> list[str]:
    return _uid_values(_read(Path(path), secret=secret))


def test_a_forked_worker_does_not_reuse_the_parents_pseudonyms(tmp_path: Path) -> None:
    plant = un_encoded(tmp_path)
    in_parent = _uids_read_with(str(plant.path), "secret-A")
    with multiprocessing.get_context("fork").Pool(1) as pool:
        in_child = pool.apply(_uids_read_with, (str(plant.path), "secret-B"))
    expected = _uids_read_with(str(plant.path), "secret-B")
    assert in_child == expected
    assert not {u for u in in_parent if u.startswith("2.25.")} & set(in_child)


@pytest.mark.parametrize("build", [byte_flipped, deeply_nested])
def test_a_bad_file_gives_a_read_error_that_quotes_nothing(tmp_path: Path, build: object) -> None:
    path = tmp_path / "bad.dcm"
    uids = build(path)  # type: ignore[operator]
    header = path.read_bytes()[128:400]
    with pytest.raises(DicomReadError) as raised:
        _read(path)
    message = str(raised.value)
    assert message.startswith("unreadable DICOM")
    assert not [u for u in uids if u in message]
    assert "\\x" not in message and "b'" not in message and "\x00" not in message
    assert not any(chunk in message.encode("latin-1", "replace") for chunk in _chunks(header))
    assert raised.value.__context__ is None and raised.value.__cause__ is None


def _chunks(data: bytes, size: int = 8) -> list[bytes]:
    """Return the printable runs of a file's bytes, as they could appear in a message."""
    runs = [r for r in data.replace(b"\x00", b" ").split() if len(r) >= size]
    return [r[:size] for r in runs if r.isascii() and r.decode("ascii").isprintable()]


def test_an_absurd_length_costs_nothing_and_removes_only_its_value(tmp_path: Path) -> None:
    plant = un_encoded(tmp_path)
    # A SeriesDescription written as UN that claims 4 GiB (pydicom would allocate them).
    element = struct.pack("<HH2sHL", 0x0008, 0x103E, b"UN", 0, 0xFFFFFFF0) + b"Unbekannt Ulrike"
    with plant.path.open("ab") as out:
        out.write(element)
    began = time.monotonic()
    header = _read(plant.path)
    assert time.monotonic() - began < 30  # generous: the point is that it ends at all
    assert [w for w in header.warnings if w.startswith("(0008,103E) SeriesDescription")]
    assert header.series_uid.startswith("2.25.")
    assert "SeriesDescription" not in {a.name for a in header.attrs}


def test_a_deflated_dataset_that_inflates_too_far_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.3"
    ds.add_new(0x00091010, "OB", bytes(3 * 2**20))  # inflates to 3 MiB, deflates to 3 KiB
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / "deflated.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert path.stat().st_size < 2**20
    assert _read(path).series_uid  # within the bound it is read
    monkeypatch.setattr(limits, "MAX_HEADER_BYTES", 2**20)
    with pytest.raises(DicomReadError, match="inflates beyond 1 MiB"):
        _read(path)
    assert pydicom.dcmread(path).SOPInstanceUID == ds.SOPInstanceUID  # the file is sound
