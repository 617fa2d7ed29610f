"""Read one DICOM file's header and de-identify it, without touching pixel data.

The result, :class:`InstanceHeader`, holds only what the profile keeps, as DICOM text: it is
the one form in which DICOM data leaves this package. Values are decoded once per distinct
raw value and tag (a series repeats most of them), not converted by pydicom one by one.
"""

from __future__ import annotations

import logging
import struct
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pydicom
import pydicom.config
from pydicom.charset import convert_encodings, decode_bytes, python_encoding
from pydicom.datadict import (
    dictionary_has_tag,
    dictionary_keyword,
    dictionary_VR,
    tag_for_keyword,
)
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from app.dicom.deidentify import (
    Action,
    Profile,
    Pseudonymizer,
    clean_text,
    identifying_words,
    shift_date,
)
from app.dicom.header import Attr, InstanceHeader
from app.dicom.sources import Source
from app.errors import DicomReadError

# Reading never validates values: pydicom would log the offending value (which may be a
# patient's name or birth date) and we keep invalid values, flagged, in the raw layer anyway.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
# pydicom's log messages may quote values; they never leave this process.
_PYDICOM_LOG = logging.getLogger("pydicom")
_PYDICOM_LOG.propagate = False
_PYDICOM_LOG.addHandler(logging.NullHandler())

TEXT_VRS = frozenset(
    [
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    ]
)
BINARY_FORMATS = {
    "US": "H",
    "SS": "h",
    "UL": "L",
    "SL": "l",
    "FL": "f",
    "FD": "d",
    "UV": "Q",
    "SV": "q",
}
MAX_BINARY_BYTES = 4096
IDENTIFYING_KEYWORDS = (
    "PatientName",
    "PatientID",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientBirthDate",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "AccessionNumber",
    "StudyID",
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
)
"""Attributes whose words Clean Descriptors removes from descriptions (OtherPatientIDs items
are searched too)."""
PHI_TAGS = tuple(int(tag_for_keyword(k) or 0) for k in IDENTIFYING_KEYWORDS)


_CACHE: dict[tuple[int, str | None, bytes, str, str], Attr | None] = {}
_MISSING: Any = object()
_CONTEXTUAL = (Action.SHIFT, Action.CLEAN)


class NotDicom(Exception):
    """The file is plainly not DICOM (skipped and counted, never an error)."""


@dataclass
class _Context:
    patient: str
    profile: Profile
    pseudonyms: Pseudonymizer
    encodings: list[str]
    dataset: Dataset
    shift_days: int
    warnings: list[str]

    @cached_property
    def encoding_key(self) -> str:
        return "|".join(self.encodings)

    @cached_property
    def identifying(self) -> frozenset[str]:
        """The words to clean from descriptors; read only when a descriptor needs cleaning."""
        return identifying_words(_identifying_values(self.dataset))


def looks_like_dicom(head: bytes) -> bool:
    """Return True when the first bytes are a Part 10 preamble or a plausible raw dataset."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    group = int.from_bytes(head[0:2], "little")
    return (group in (0x0002, 0x0008) and head[4:6].isalpha()) or group == 0x0008


def read_instance(source: Source, profile: Profile, pseudonyms: Pseudonymizer) -> InstanceHeader:
    """Read, check and de-identify one file; raise NotDicom or DicomReadError."""
    with source.open() as handle:
        head = handle.read(132)
        if not head:
            raise DicomReadError("empty file")
        if Path(source.member or source.path).name.upper() == "DICOMDIR":
            raise NotDicom("DICOMDIR index (its files are read where they lie)")
        if not looks_like_dicom(head):
            raise NotDicom("not a DICOM file")
        handle.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = pydicom.dcmread(handle, stop_before_pixels=True, force=True)
                return _deidentify(ds, profile, pseudonyms)
            except (
                InvalidDicomError,
                EOFError,
                OSError,
                ValueError,
                KeyError,
                struct.error,
                TypeError,
                AttributeError,
                NotImplementedError,
            ) as exc:
                detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
                raise DicomReadError(f"unreadable DICOM ({detail})") from None


def _text(ds: Dataset, keyword: str) -> str:
    """Return an attribute's text from its raw bytes when it has not been converted yet."""
    tag = tag_for_keyword(keyword)
    element = ds.get_item(tag) if tag is not None and tag in ds else None
    if element is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        return value.decode("latin-1").strip("\x00 ")
    return "" if value is None else str(value).strip()


def _identifying_values(ds: Dataset) -> list[str]:
    """Return the text of the identifying attributes (for Clean Descriptors), items included."""
    values: list[str] = []
    for tag in PHI_TAGS:
        if tag not in ds:
            continue
        value = ds[tag].value
        if isinstance(value, Sequence):
            values += [text for item in value for text in _identifying_values(item)]
        elif isinstance(value, list | tuple | MultiValue):
            values += [str(v) for v in value]
        elif value is not None:
            values.append(str(value))
    return values


def _deidentify(ds: Dataset, profile: Profile, pseudonyms: Pseudonymizer) -> InstanceHeader:
    missing = [
        k for k in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID") if not _text(ds, k)
    ]
    if missing:
        raise DicomReadError(f"missing {', '.join(missing)}")
    notes: list[str] = []
    charset = ds.get("SpecificCharacterSet")
    raw_charset = list(charset) if isinstance(charset, list | tuple) else [charset or ""]
    terms = [str(c).strip() for c in raw_charset if c] or ["ISO_IR 6"]
    unknown = [t for t in terms if t not in python_encoding]
    if unknown:
        notes.append(
            f"unknown SpecificCharacterSet {', '.join(unknown)!r}; text decoded "
            "with the default character repertoire"
        )
    encodings = convert_encodings(terms)
    patient_id = _text(ds, "PatientID")
    study = _text(ds, "StudyInstanceUID")
    patient = (
        pseudonyms.patient(patient_id, _text(ds, "IssuerOfPatientID"))
        if patient_id
        else pseudonyms.patient("study:" + study)
    )
    context = _Context(
        patient, profile, pseudonyms, encodings, ds, pseudonyms.date_shift(patient), notes
    )
    attrs = _walk(ds, context)
    return InstanceHeader(
        patient=patient,
        study_uid=pseudonyms.uid(study),
        series_uid=pseudonyms.uid(_text(ds, "SeriesInstanceUID")),
        instance_uid=pseudonyms.uid(_text(ds, "SOPInstanceUID")),
        attrs=attrs,
        warnings=notes,
    )


def _walk(ds: Dataset, context: _Context) -> tuple[Attr, ...]:
    attrs: list[Attr] = []
    creators: dict[tuple[int, int], str] = {}
    for raw in ds.elements():
        tag = int(raw.tag)
        group = tag >> 16
        if group % 2:
            if not context.profile.options.keep_private:
                continue
            element = tag & 0xFFFF
            if 0x0010 <= element <= 0x00FF:
                creators[(group, element)] = (
                    _decode(raw.value, context).strip()
                    if isinstance(raw.value, bytes)
                    else str(raw.value or "")
                )
                continue
            creator = creators.get((group, element >> 8), "")
            if not creator or context.profile.private_action(creator, tag) is not Action.KEEP:
                continue
            attr = _convert(
                ds,
                raw,
                tag,
                f"{creator}:{group:04X}xx{element & 0xFF:02X}",
                Action.KEEP,
                context,
                private=True,
            )
        else:
            action = context.profile.public_action(tag, dictionary_has_tag)
            if action is Action.REMOVE:
                continue
            value = raw.value
            if not isinstance(value, bytes):
                attr = _convert(ds, raw, tag, dictionary_keyword(tag), action, context)
            else:
                # A series repeats most values: convert each (tag, VR, bytes) once. Sequences
                # and cleaned or shifted values depend on the patient too.
                key = (
                    tag,
                    raw.VR,
                    value,
                    context.patient if action in _CONTEXTUAL or raw.VR == "SQ" else "",
                    context.encoding_key,
                )
                attr = _CACHE.get(key, _MISSING)
                if attr is _MISSING:
                    attr = _convert(ds, raw, tag, dictionary_keyword(tag), action, context)
                    if len(_CACHE) > 20_000:
                        _CACHE.clear()
                    _CACHE[key] = attr
        if attr is not None:
            attrs.append(attr)
    return tuple(attrs)


def _decode(value: bytes, context: _Context) -> str:
    try:
        return decode_bytes(value, context.encodings, set())
    except (LookupError, ValueError, UnicodeDecodeError):
        context.warnings.append("undecodable text; decoded as ISO 8859-1")
        return value.decode("latin-1")


def _convert(
    ds: Dataset,
    raw: Any,
    tag: int,
    name: str,
    action: Action,
    context: _Context,
    private: bool = False,
) -> Attr | None:
    vr = raw.VR or (dictionary_VR(tag) if not private else "UN")
    if vr == "SQ":
        items = tuple(_walk(item, context) for item in ds[tag].value)
        return Attr(tag, name, vr, items, private) if items else None
    value = raw.value
    if value is None or value == b"":
        return None
    if not isinstance(value, bytes):
        value = ds[tag].value
        text = "\\".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
    elif vr in TEXT_VRS:
        text = (
            _decode(value, context).rstrip("\x00 ").lstrip(" ")
            if vr not in ("UT", "UR")
            else _decode(value, context).rstrip("\x00 ")
        )
    elif vr in BINARY_FORMATS:
        fmt = BINARY_FORMATS[vr]
        size = struct.calcsize(fmt)
        count = len(value) // size
        numbers = struct.unpack(
            ("<" if ds.is_little_endian is not False else ">") + fmt * count, value[: count * size]
        )
        text = "\\".join(repr(n) if isinstance(n, float) else str(n) for n in numbers)
    elif vr == "AT":
        count = len(value) // 4
        pairs = struct.unpack("<" + "HH" * count, value[: count * 4])
        text = "\\".join(f"({pairs[i]:04X},{pairs[i + 1]:04X})" for i in range(0, len(pairs), 2))
    else:
        return Attr(tag, name, vr, value, private) if len(value) <= MAX_BINARY_BYTES else None
    if not text:
        return None
    if action is Action.UID:
        text = "\\".join(context.pseudonyms.uid(u.strip()) for u in text.split("\\"))
    elif action is Action.SHIFT and vr in ("DA", "DT"):
        text = "\\".join(shift_date(v, context.shift_days) for v in text.split("\\"))
    elif action is Action.CLEAN:
        text = clean_text(text, context.identifying) if vr not in ("DA", "DT", "TM") else ""
        if not text:
            return None
    return Attr(tag, name, vr, text, private)
