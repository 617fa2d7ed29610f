"""Builders of hostile DICOM files, in code: identity hidden where a careless reader keeps it.

Each builder writes one file and returns what it planted: the values that must never leave
the system (names, IDs, original UIDs and dates, in the form they were written), the
well-known UIDs that must stay as they are, the original dates that must come back shifted,
and decoded text that must be found (proof that it was read at all). Every file belongs to the
same patient (one PatientID), so one date shift must explain every stored date.

The tricks: attributes written with VR UN (a sequence among them, of defined and of undefined
length), implicit VR little endian, sequences nested three levels deep, a private block of a
creator that pydicom's private dictionary knows, OtherPatientIDsSequence,
RequestAttributesSequence, UIDs and dates outside PS3.15 Table E.1-1, and text in ISO_IR 100,
ISO_IR 192 and ISO 2022 IR 87.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pydicom.config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    MRImageStorage,
    generate_uid,
)

PATIENT_ID = "HOSTILE-PID-4711"
"""Every hostile file belongs to this patient."""
SCT_UID = "2.16.840.1.113883.6.96"
"""SNOMED CT's coding scheme UID (PS3.16 Table 8-1): well-known, kept as it is."""
CONTEXT_GROUP_UID = "1.2.840.10008.6.1.2"
"""A context group UID of the DICOM registry (PS3.6 Table A-3): kept as it is."""
PRIVATE_KEEP = "GEMS_IDEN_01:0009xxE3,SIEMENS MED NM:0041xx30"
"""The private attributes the keep-private run declares safe (a UID and a date)."""


@dataclass
class Planted:
    """What a hostile file hides and what must survive de-identification."""

    path: Path
    secrets: set[str] = field(default_factory=set)
    """Values that must appear nowhere: not in a literal, a byte of the store, an output."""
    uids: set[str] = field(default_factory=set)
    """The original UIDs that are not well-known (also in ``secrets``)."""
    well_known: set[str] = field(default_factory=set)
    """UIDs of the DICOM registry that must be stored as they are."""
    dates: set[date] = field(default_factory=set)
    """Original dates of attributes the profile keeps: each must come back shifted."""
    texts: set[str] = field(default_factory=set)
    """Decoded text that must be stored (the value was read, not dropped)."""
    private_uids: set[str] = field(default_factory=set)
    """UIDs in the private block (pseudonymised when the block is kept)."""
    private_dates: set[date] = field(default_factory=set)
    """Dates in the private block (shifted when the block is kept)."""


def uid(label: str) -> str:
    """Return an original-looking UID, the same for the same label."""
    return str(generate_uid(entropy_srcs=["fairdicom-hostile", label]))


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


@contextmanager
def _un_kept() -> Iterator[None]:
    """Let pydicom keep the VR UN we give an element (it replaces it by the known VR)."""
    before = pydicom.config.replace_un_with_known_vr
    pydicom.config.replace_un_with_known_vr = False
    try:
        yield
    finally:
        pydicom.config.replace_un_with_known_vr = before


def _implicit(tag: int, value: bytes) -> bytes:
    """Encode one element in implicit VR little endian (how a UN sequence's content is)."""
    if len(value) % 2:
        value += b"\x00" if value[-1:].isdigit() or value.endswith(b".") else b" "
    return struct.pack("<HHL", tag >> 16, tag & 0xFFFF, len(value)) + value


def _item(*elements: bytes, undefined: bool = False) -> bytes:
    body = b"".join(elements)
    if undefined:
        return (
            struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
            + body
            + struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
        )
    return struct.pack("<HHL", 0xFFFE, 0xE000, len(body)) + body


def _base(plant: Planted, label: str, name: str, sop_class: str = CTImageStorage) -> Dataset:
    """Return a dataset with the usual identity of the patient, all of it planted."""
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid(label + "-instance")
    ds.StudyInstanceUID = uid(label + "-study")
    ds.SeriesInstanceUID = uid(label + "-series")
    ds.FrameOfReferenceUID = uid(label + "-frame")
    ds.Modality = "CT" if sop_class == CTImageStorage else "MR"
    ds.PatientName = name
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = "19580217"
    ds.PatientSex = "F"
    ds.PatientAddress = "Hauptstrasse 17, Entenhausen"
    ds.AccessionNumber = "ACC" + label.upper()[:8] + "991"
    ds.StudyID = "SID" + label.upper()[:8]
    ds.InstitutionName = "Sankt Hostilus Klinik"
    ds.ReferringPhysicianName = "Quacksalber^Hieronymus"
    ds.StudyDate = "20200315"
    ds.SeriesDate = "20200315"
    ds.StudyTime = "101010"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.BodyPartExamined = "CHEST"
    plant.secrets |= {
        str(ds.SOPInstanceUID),
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
        str(ds.FrameOfReferenceUID),
        PATIENT_ID,
        "19580217",
        "1958-02-17",
        "Hauptstrasse",
        "Entenhausen",
        str(ds.AccessionNumber),
        str(ds.StudyID),
        "Hostilus",
        "Quacksalber",
        "Hieronymus",
        "20200315",
        "2020-03-15",
    }
    plant.uids |= {
        str(ds.SOPInstanceUID),
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
        str(ds.FrameOfReferenceUID),
    }
    plant.well_known.add(str(ds.SOPClassUID))
    plant.dates.add(_day("20200315"))
    return ds


def _save(ds: Dataset, path: Path, implicit: bool = False) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def un_encoded(folder: Path) -> Planted:
    """Identity in attributes written with VR UN, a UN sequence of defined length (implicit VR
    content, as PS3.5 6.2.2 says) and one of undefined length."""
    plant = Planted(folder / "un-encoded.dcm")
    ds = _base(plant, "un", "Unbekannt^Ulrike")
    referenced = uid("un-referenced")
    multiframe_source = uid("un-multiframe-source")
    sequence_uid = uid("un-sequence-item")
    with _un_kept():
        ds.add_new(0x00100010, "UN", b"Unbekannt^Ulrike")  # PatientName
        ds.add_new(0x00081030, "UN", b"Thorax Unbekannt Ulrike ")  # StudyDescription
        ds.add_new(0x00080080, "UN", b"Sankt Hostilus Klinik ")  # InstitutionName
        ds.add_new(0x00081167, "UN", multiframe_source.encode() + b"\x00")  # outside E.1-1
        ds.add_new(0x00080021, "UN", b"20200316")  # SeriesDate
        items = _item(
            _implicit(0x00081150, CTImageStorage.encode() + b"\x00"),
            _implicit(0x00081155, referenced.encode()),
            _implicit(0x0040A123, b"Unbekannt^Ulrike"),  # Person Name, inside the UN items
        )
        ds.add_new(0x00081140, "UN", items)  # ReferencedImageSequence as UN, defined length
    _save(ds, plant.path)
    # SourceImageSequence as UN of undefined length (a sequence by PS3.5 6.2.2), appended
    # after the elements pydicom wrote: readers take elements in the order they come.
    undefined = _item(
        _implicit(0x00081150, CTImageStorage.encode() + b"\x00"),
        _implicit(0x00081155, sequence_uid.encode()),
        _implicit(0x00100010, b"Unbekannt^Ulrike"),
        undefined=True,
    )
    element = struct.pack("<HH2sHL", 0x0008, 0x2112, b"UN", 0, 0xFFFFFFFF)
    end = struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    with plant.path.open("ab") as out:
        out.write(element + undefined + end)
    plant.secrets |= {
        "Unbekannt",
        "Ulrike",
        referenced,
        multiframe_source,
        sequence_uid,
        "20200316",
        "2020-03-16",
    }
    plant.uids |= {referenced, multiframe_source, sequence_uid}
    plant.well_known.add(str(CTImageStorage))
    plant.dates.add(_day("20200316"))
    plant.texts.add("Thorax")
    return plant


def implicit_nested(folder: Path) -> Planted:
    """Implicit VR little endian; sequences nested three levels deep with UIDs, dates and
    names; OtherPatientIDsSequence; RequestAttributesSequence; UIDs and a date outside Table
    E.1-1; well-known UIDs (a transfer syntax, a coding scheme, a context group) to keep."""
    plant = Planted(folder / "implicit-nested.dcm")
    ds = _base(plant, "implicit", "Verschachtelt^Volker", MRImageStorage)
    ds.StudyDescription = "MRT Kopf"
    ds.SeriesDescription = "ep2d_diff_tra_b50_800"
    ds.AcquisitionDateTime = "20200317101500"
    outside = {
        "MultiFrameSourceSOPInstanceUID": uid("implicit-multiframe-source"),
        "SOPInstanceUIDOfConcatenationSource": uid("implicit-concatenation-source"),
        "VolumeFrameOfReferenceUID": uid("implicit-volume-frame"),
        "RadiopharmaceuticalAdministrationEventUID": uid("implicit-radiopharmaceutical"),
        "EquipmentFrameOfReferenceUID": uid("implicit-equipment-frame"),
    }
    for keyword, value in outside.items():
        setattr(ds, keyword, value)
    ds.ProcedureCreationDate = "20190101"  # outside Table E.1-1
    ds.AvailableTransferSyntaxUID = JPEGBaseline8Bit

    other = Dataset()
    other.PatientID = "OTHER-PID-0815"
    other.IssuerOfPatientID = "Hostile Hospital Registry"
    ds.OtherPatientIDsSequence = Sequence([other])

    request = Dataset()
    request.AccessionNumber = "REQACC77889"
    request.RequestedProcedureID = "RPID445566"
    request.ScheduledProcedureStepID = "SPSID112233"
    request.StudyInstanceUID = uid("implicit-request-study")
    request.RequestedProcedureDescription = "Verschachtelt Volker Kopf"
    ds.RequestAttributesSequence = Sequence([request])

    level3 = Dataset()
    level3.ReferencedSOPClassUID = MRImageStorage
    level3.ReferencedSOPInstanceUID = uid("implicit-level3")
    level3.InstanceCreationDate = "20200318"
    level3.PersonName = "Verschachtelt^Volker"
    level3.VolumeFrameOfReferenceUID = uid("implicit-level3-volume")
    level2 = Dataset()
    level2.ReferencedSOPClassUID = MRImageStorage
    level2.ReferencedSOPInstanceUID = uid("implicit-level2")
    level2.ExpirationDateTime = "20210101120000"  # DT outside Table E.1-1
    level2.SourceImageSequence = Sequence([level3])
    level1 = Dataset()
    level1.SeriesInstanceUID = uid("implicit-level1-series")
    level1.ReferencedInstanceSequence = Sequence([level2])
    ds.ReferencedSeriesSequence = Sequence([level1])

    scheme = Dataset()
    scheme.CodingSchemeDesignator = "SCT"
    scheme.CodingSchemeUID = SCT_UID
    ds.CodingSchemeIdentificationSequence = Sequence([scheme])
    region = Dataset()
    region.CodeValue = "39607008"
    region.CodingSchemeDesignator = "SCT"
    region.CodeMeaning = "Lung"
    region.ContextUID = CONTEXT_GROUP_UID
    ds.AnatomicRegionSequence = Sequence([region])
    _save(ds, plant.path, implicit=True)

    nested_uids = {
        str(request.StudyInstanceUID),
        str(level3.ReferencedSOPInstanceUID),
        str(level3.VolumeFrameOfReferenceUID),
        str(level2.ReferencedSOPInstanceUID),
        str(level1.SeriesInstanceUID),
    }
    plant.uids |= set(outside.values()) | nested_uids
    plant.secrets |= plant.uids | {
        "Verschachtelt",
        "Volker",
        "OTHER-PID-0815",
        "Hostile Hospital Registry",
        "REQACC77889",
        "RPID445566",
        "SPSID112233",
        "20200317101500",
        "2020-03-17",
        "20190101",
        "2019-01-01",
        "20200318",
        "2020-03-18",
        "20210101120000",
        "2021-01-01",
    }
    plant.dates |= {_day(d) for d in ("20200317", "20190101", "20200318", "20210101")}
    plant.well_known |= {str(MRImageStorage), str(JPEGBaseline8Bit), SCT_UID, CONTEXT_GROUP_UID}
    plant.texts |= {"MRT Kopf", "ep2d_diff_tra_b50_800"}
    return plant


def private_block(folder: Path) -> Planted:
    """A private block of a creator pydicom knows (GEMS_IDEN_01: an equipment UID; SIEMENS
    MED NM: a date), written with VR UN: removed by default, pseudonymised and shifted when
    declared safe (see PRIVATE_KEEP)."""
    plant = Planted(folder / "private-block.dcm")
    ds = _base(plant, "private", "Privat^Paula")
    ds.SeriesDescription = "Privat block series"
    equipment = uid("private-equipment")
    with _un_kept():
        ds.add_new(0x00090010, "LO", "GEMS_IDEN_01")
        ds.add_new(0x000910E3, "UN", equipment.encode() + b"\x00")
        ds.add_new(0x00410010, "LO", "SIEMENS MED NM")
        ds.add_new(0x00411030, "UN", b"20200319")
    _save(ds, plant.path)
    plant.secrets |= {"Privat", "Paula", equipment, "20200319", "2020-03-19"}
    plant.uids.add(equipment)
    plant.private_uids.add(equipment)
    plant.private_dates.add(_day("20200319"))
    plant.well_known.add(str(CTImageStorage))
    return plant


def _charset_file(
    folder: Path, label: str, charset: str | list[str], name: str, words: set[str]
) -> tuple[Dataset, Planted]:
    plant = Planted(folder / f"{label}.dcm")
    ds = _base(plant, label, name)
    ds.SpecificCharacterSet = charset
    ds.PatientName = name  # encoded by pydicom in the declared character set
    plant.secrets |= words
    return ds, plant


def latin1(folder: Path) -> Planted:
    """ISO_IR 100 (Latin-1): a name with umlauts, also typed into the study description."""
    ds, plant = _charset_file(folder, "latin1", "ISO_IR 100", "Müller^Jürgen", {"Müller", "Jürgen"})
    ds.StudyDescription = "Schädel Müller Jürgen"
    ds.InstitutionName = "Klinikum Köln-Süd"
    ds.OperatorsName = "Bäcker^Jörg"
    _save(ds, plant.path)
    plant.secrets |= {"Köln-Süd", "Bäcker", "Jörg"}
    plant.texts.add("Schädel")
    return plant


def utf8(folder: Path) -> Planted:
    """ISO_IR 192 (UTF-8): a Greek name, also typed into the study description."""
    ds, plant = _charset_file(
        folder, "utf8", "ISO_IR 192", "Παπαδόπουλος^Νικόλαος", {"Παπαδόπουλος", "Νικόλαος"}
    )
    ds.StudyDescription = "Θώρακας Παπαδόπουλος Νικόλαος"
    ds.InstitutionName = "Νοσοκομείο Ευαγγελισμός"
    _save(ds, plant.path)
    plant.secrets |= {"Ευαγγελισμός"}
    plant.texts.add("Θώρακας")
    return plant


def iso2022_jp(folder: Path) -> Planted:
    """['', 'ISO 2022 IR 87']: a Japanese name in three component groups (PS3.5 H.3.1), the
    physician's and the institution's names, and the patient's name in the description."""
    ds, plant = _charset_file(
        folder,
        "iso2022",
        ["", "ISO 2022 IR 87"],
        "Yamada^Tarou=山田^太郎=やまだ^たろう",
        {"Yamada", "Tarou", "山田", "太郎", "やまだ", "たろう"},
    )
    ds.ReferringPhysicianName = "Suzuki^Hanako=鈴木^花子=すずき^はなこ"
    ds.InstitutionName = "東京中央病院"
    ds.StudyDescription = "胸部CT 山田太郎 やまだ"
    _save(ds, plant.path)
    plant.secrets |= {"Suzuki", "Hanako", "鈴木", "花子", "すずき", "はなこ", "東京中央病院"}
    plant.texts.add("胸部CT")
    return plant


def build_all(folder: Path) -> list[Planted]:
    """Write every hostile file into a folder; return what each planted."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        un_encoded(folder),
        implicit_nested(folder),
        private_block(folder),
        latin1(folder),
        utf8(folder),
        iso2022_jp(folder),
    ]


def byte_flipped(path: Path) -> list[str]:
    """Write a file whose (0002,0000) length says 3 (pydicom: BytesLengthException); return
    its original UIDs."""
    plant = Planted(path)
    ds = _base(plant, "flipped", "Kaputt^Karl")
    _save(ds, path)
    data = bytearray(path.read_bytes())
    assert data[132:140] == b"\x02\x00\x00\x00UL\x04\x00"
    data[138] = 3
    path.write_bytes(bytes(data))
    return sorted(plant.uids)


def deeply_nested(path: Path, depth: int = 500) -> list[str]:
    """Write a file with ``depth`` nested undefined-length sequence items; return its UIDs."""
    plant = Planted(path)
    ds = _base(plant, "nested", "Tief^Tina")
    _save(ds, path)
    body = b""
    for _ in range(depth):
        item = _item(body, undefined=True)
        body = struct.pack("<HH2sHL", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF) + item
        body += struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    with path.open("ab") as out:
        out.write(body)  # after the last element pydicom wrote, before nothing
    return sorted(plant.uids)


def tag_of(keyword: str) -> int:
    """Return the tag of a keyword."""
    return int(Tag(keyword))
