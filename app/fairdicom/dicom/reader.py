"""Read one DICOM file's header and de-identify it, without touching pixel data.

The result, :class:`InstanceHeader`, holds only what the profile keeps, as DICOM text: it is
the one form in which DICOM data leaves this package.

De-identification decides on the attribute, never on how it was encoded: every element is
read with the VR of the data dictionary when the file gives none (implicit VR), gives UN or
contradicts it (:mod:`fairdicom.dicom.vr`); sequences encoded as UN are parsed as sequences; text is
decoded in its character set (:mod:`fairdicom.dicom.charset`) before any decision, and a value that
cannot be read is removed and reported by tag, never kept as bytes. On top of the per-tag
actions of Table E.1-1, two rules hold for every attribute at every depth: a UI value that is
not a well-known UID is pseudonymised, and a DA or DT value is shifted by the patient's shift
(or removed, or kept, as the longitudinal option says).

Values are decoded once per distinct raw value and everything else the result depends on (a
series repeats most of them), not converted by pydicom one by one. That memo belongs to the
pseudonymizer (the secret) and the options it was made with, so it never outlives them.
Reading is bounded (:mod:`fairdicom.dicom.limits`) and every failure becomes a DicomReadError whose
reason quotes nothing from the file.
"""

from __future__ import annotations

import logging
import struct
import warnings
import weakref
from collections.abc import Hashable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import pydicom
import pydicom.config
from pydicom.datadict import dictionary_has_tag, dictionary_keyword, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.values import convert_SQ

from fairdicom.config import DeidOptions
from fairdicom.dicom.charset import SINGLE_VALUED, CharacterSet, character_set, decode_text
from fairdicom.dicom.deidentify import (
    Action,
    Profile,
    Pseudonymizer,
    clean_text,
    identifying_words,
    profile_row,
    shift_date,
)
from fairdicom.dicom.limits import (
    DEFER_BYTES,
    MAX_DEPTH,
    MAX_ELEMENTS,
    LimitExceeded,
    failure_reason,
    header_stream,
)
from fairdicom.dicom.sources import Source
from fairdicom.dicom.vr import private_vr, public_vr
from fairdicom.dicom.well_known_uids import is_well_known
from fairdicom.dicom_model import Attr, InstanceHeader
from fairdicom.errors import DicomReadError

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
DATE_VRS = frozenset({"DA", "DT"})
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
_PHI_TAG_SET = frozenset(PHI_TAGS)
CHARSET_TAG = 0x00080005
PIXEL_REPRESENTATION_TAG = 0x00280103
UNDEFINED_LENGTH = 0xFFFFFFFF

Converted = tuple[Attr | None, tuple[str, ...]]
"""A converted attribute (None: removed) and the warnings its conversion gave."""
MEMO_BYTES = 32 * 2**20
"""Raw bytes a memo holds as keys before it starts afresh."""
MEMO_VALUE_BYTES = 64 * 1024
"""Longer raw values are converted every time instead of being kept as memo keys."""


class _Memo:
    """Converted attributes by every input of their conversion, within a bound."""

    def __init__(self) -> None:
        self.entries: dict[Hashable, Converted] = {}
        self._bytes = 0

    def remember(self, key: Hashable, size: int, converted: Converted) -> None:
        """Keep a conversion whose key holds ``size`` raw bytes (unless they are too many)."""
        if size > MEMO_VALUE_BYTES:
            return
        self._bytes += size + 200
        if self._bytes > MEMO_BYTES:
            self.entries.clear()
            self._bytes = size + 200
        self.entries[key] = converted


_MEMOS: weakref.WeakKeyDictionary[Pseudonymizer, dict[DeidOptions, _Memo]] = (
    weakref.WeakKeyDictionary()
)
"""One memo per secret (pseudonymizer) and options; it goes when its pseudonymizer goes."""


class NotDicom(Exception):
    """The file is plainly not DICOM (skipped and counted, never an error)."""


@dataclass
class _Context:
    patient: str
    profile: Profile
    pseudonyms: Pseudonymizer
    charset: CharacterSet
    dataset: Dataset
    shift_days: int
    warnings: list[str]
    memo: _Memo
    signed: bool
    """PixelRepresentation is 1: ``US or SS`` attributes are SS."""
    elements: int = 0

    @cached_property
    def identity(self) -> tuple[object, ...]:
        """The raw identifying values: what Clean Descriptors depends on (a memo key).

        Read before the first descriptor is cleaned, so before ``identifying`` converts them.
        """
        return _identity(self.dataset)

    @cached_property
    def identifying(self) -> frozenset[str]:
        """The words to clean from descriptors; read only when a descriptor needs cleaning."""
        names = ("PatientName", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName")
        patient = [str(self.dataset.get(k) or "") for k in names]  # every part, however short
        return identifying_words(_identifying_values(self.dataset), names=patient)


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
                ds = pydicom.dcmread(
                    header_stream(handle),
                    defer_size=DEFER_BYTES,
                    stop_before_pixels=True,
                    force=True,
                )
                return _deidentify(ds, profile, pseudonyms)
            except DicomReadError:
                raise
            except Exception as exc:  # pydicom's, ours, MemoryError, RecursionError...
                reason = failure_reason(exc)
    # Raised outside the handler: the original exception (whose text may quote header bytes)
    # is not even chained to this one.
    raise DicomReadError(reason)


def _raw(ds: Dataset, tag: int) -> Any:
    """Return an element as read (bytes for most), never triggering a deferred read."""
    return ds.get_item(tag, keep_deferred=True) if tag in ds else None


def _text(ds: Dataset, keyword: str) -> str:
    """Return an attribute's text from its raw bytes when it has not been converted yet."""
    tag = tag_for_keyword(keyword)
    element = _raw(ds, tag) if tag is not None else None
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


def _identity(ds: Dataset) -> tuple[object, ...]:
    """Return the raw values Clean Descriptors' words come from (a key, never stored)."""
    found: list[tuple[int, object]] = []
    for key, element in ds.items():
        if key in _PHI_TAG_SET:
            value = element.value
            found.append((int(key), value if isinstance(value, bytes | None) else repr(value)))
    return tuple(sorted(found))


def _pixel_signed(ds: Dataset) -> bool:
    """Return True when PixelRepresentation says pixel values are signed."""
    element = _raw(ds, PIXEL_REPRESENTATION_TAG)
    value = None if element is None else element.value
    if isinstance(value, bytes):
        return len(value) >= 2 and (value[0] or value[1]) != 0
    return value == 1


def _memo(profile: Profile, pseudonyms: Pseudonymizer) -> _Memo:
    """Return the memo of a secret (its pseudonymizer) and a set of options."""
    by_options = _MEMOS.get(pseudonyms)
    if by_options is None:
        by_options = _MEMOS[pseudonyms] = {}
    memo = by_options.get(profile.options)
    if memo is None:
        memo = by_options[profile.options] = _Memo()
    return memo


def _deidentify(ds: Dataset, profile: Profile, pseudonyms: Pseudonymizer) -> InstanceHeader:
    """Return the de-identified header of a dataset read by pydicom."""
    missing = [
        k for k in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID") if not _text(ds, k)
    ]
    if missing:
        raise DicomReadError(f"missing {', '.join(missing)}")
    notes: list[str] = []
    element = _raw(ds, CHARSET_TAG)
    charset = character_set(None if element is None else element.value)
    if charset.unknown:
        notes.append(
            "SpecificCharacterSet (0008,0005) names a character set that is not defined: "
            "only plain ASCII text is kept"
        )
    patient_id = _text(ds, "PatientID")
    study = _text(ds, "StudyInstanceUID")
    patient = (
        pseudonyms.patient(patient_id, _text(ds, "IssuerOfPatientID"))
        if patient_id
        else pseudonyms.patient("study:" + study)
    )
    context = _Context(
        patient=patient,
        profile=profile,
        pseudonyms=pseudonyms,
        charset=charset,
        dataset=ds,
        shift_days=pseudonyms.date_shift(patient),
        warnings=notes,
        memo=_memo(profile, pseudonyms),
        signed=_pixel_signed(ds),
    )
    attrs = _walk(ds, context, charset, 0)
    return InstanceHeader(
        patient=patient,
        study_uid=pseudonyms.uid(study),
        series_uid=pseudonyms.uid(_text(ds, "SeriesInstanceUID")),
        instance_uid=pseudonyms.uid(_text(ds, "SOPInstanceUID")),
        attrs=attrs,
        warnings=list(dict.fromkeys(notes)),
    )


def _label(tag: int, name: str) -> str:
    """Name an attribute in a warning: its tag and keyword, never its value."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {name}".rstrip()


def _written(raw: Any) -> str | None:
    """Return the VR written in the file (None for implicit VR)."""
    return str(raw.VR) if raw.VR else None


def _little(raw: Any) -> bool:
    """Return False only for a big endian element (a converted element has no flag)."""
    return getattr(raw, "is_little_endian", True) is not False


def _walk(ds: Dataset, context: _Context, charset: CharacterSet, depth: int) -> tuple[Attr, ...]:
    """Return the de-identified attributes of a dataset (or a sequence item)."""
    if depth > MAX_DEPTH:
        raise LimitExceeded(f"sequences nested deeper than {MAX_DEPTH} levels")
    if depth and CHARSET_TAG in ds:  # an item may declare its own character set
        charset = character_set(_raw(ds, CHARSET_TAG).value)
    context.elements += len(ds)
    if context.elements > MAX_ELEMENTS:
        raise LimitExceeded(f"more than {MAX_ELEMENTS:,} elements")
    profile = context.profile
    action_of = profile.public_action
    signed = context.signed
    attrs: list[Attr] = []
    creators = _creators(ds, charset) if profile.options.keep_private else {}
    for key, raw in ds.items():  # as read: no conversion, no deferred read
        tag = int(key)
        group = tag >> 16
        if group % 2:
            element = tag & 0xFFFF
            creator = creators.get((group, element >> 8), "") if element > 0x00FF else ""
            if not creator or profile.private_action(creator, tag) is not Action.KEEP:
                continue
            vr = private_vr(creator, tag, raw.VR or None, signed)
            name = f"{creator}:{group:04X}xx{element & 0xFF:02X}"
            attr = _attribute(raw, tag, name, vr, Action.KEEP, context, charset, depth, True)
        else:
            action = action_of(tag, dictionary_has_tag)
            if action is Action.REMOVE:
                continue
            vr, name = _public(tag, raw.VR or None, signed)
            value = raw.value
            if value.__class__ is bytes and value and vr != "SQ":  # the usual case, directly
                attr = _value(raw, tag, name, vr, value, action, context, charset, False)
            else:
                attr = _attribute(raw, tag, name, vr, action, context, charset, depth, False)
        if attr is not None:
            attrs.append(attr)
    return tuple(attrs)


@lru_cache(maxsize=16384)
def _public(tag: int, written: str | None, signed: bool) -> tuple[str, str]:
    """Return the VR to read a public attribute with, and its keyword."""
    return public_vr(tag, written, signed), str(dictionary_keyword(tag))


def _creators(ds: Dataset, charset: CharacterSet) -> dict[tuple[int, int], str]:
    """Return the private creators of a dataset by (group, block)."""
    found: dict[tuple[int, int], str] = {}
    for key, raw in ds.items():
        tag = int(key)
        if (tag >> 16) % 2 and 0x0010 <= tag & 0xFFFF <= 0x00FF:
            found[(tag >> 16, tag & 0xFF)] = _creator(raw.value, charset)
    return found


def _creator(value: object, charset: CharacterSet) -> str:
    """Return a private creator's name ("" when it cannot be read: its block goes)."""
    if isinstance(value, bytes):
        return (decode_text(value, charset, "LO") or "").strip("\x00 ")
    return str(value or "").strip()


def _attribute(
    raw: Any,
    tag: int,
    name: str,
    vr: str,
    action: Action,
    context: _Context,
    charset: CharacterSet,
    depth: int,
    private: bool,
) -> Attr | None:
    """Return one attribute de-identified, whatever form pydicom left its value in."""
    value = raw.value
    if vr == "SQ" or isinstance(value, Sequence):
        return _sequence(raw, tag, name, context, charset, depth, private)
    if value is None:
        if getattr(raw, "length", 0) not in (0, UNDEFINED_LENGTH):  # deferred: too long to read
            too_long = f"longer than {DEFER_BYTES:,} bytes; removed"
            context.warnings.append(f"{_label(tag, name)}: {too_long}")
        return None
    if not isinstance(value, bytes):  # converted by pydicom before us (rare)
        text = "\\".join(map(str, value)) if isinstance(value, list | MultiValue) else str(value)
        return _finish(tag, name, vr, text, action, context, private, context.warnings)
    if not value:
        return None
    return _value(raw, tag, name, vr, value, action, context, charset, private)


def _value(
    raw: Any,
    tag: int,
    name: str,
    vr: str,
    value: bytes,
    action: Action,
    context: _Context,
    charset: CharacterSet,
    private: bool,
) -> Attr | None:
    """Return the attribute of one raw value, converted once per everything it depends on."""
    contextual: object = None
    if vr in DATE_VRS:
        contextual = context.shift_days
    elif action is Action.CLEAN:
        contextual = context.identity
    little = getattr(raw, "is_little_endian", True) is not False
    key = (tag, name, vr, value, charset.encodings, little, contextual)
    entry = context.memo.entries.get(key)
    if entry is None:
        notes: list[str] = []
        attr = _convert(tag, name, vr, value, action, context, charset, little, private, notes)
        entry = (attr, tuple(notes))
        context.memo.remember(key, len(value), entry)
    if entry[1]:
        context.warnings.extend(entry[1])
    return entry[0]


def _sequence(
    raw: Any,
    tag: int,
    name: str,
    context: _Context,
    charset: CharacterSet,
    depth: int,
    private: bool,
) -> Attr | None:
    """Return a sequence with its items de-identified (parsed here when pydicom left bytes)."""
    value = raw.value
    if isinstance(value, Sequence):  # undefined length: pydicom parsed it while reading
        return _items(value, tag, name, context, charset, depth, private)
    if not isinstance(value, bytes) or not value:
        return None
    written = _written(raw)
    key = (
        tag,
        name,
        "SQ",
        value,
        written,
        getattr(raw, "is_implicit_VR", None),
        _little(raw),
        depth,
        charset.encodings,
        context.shift_days,
        context.identity,
    )
    entry = context.memo.entries.get(key)
    if entry is not None:
        context.warnings.extend(entry[1])
        return entry[0]
    start = len(context.warnings)
    items = _parse_sequence(value, raw, written, charset)
    if items is None:
        context.warnings.append(f"{_label(tag, name)}: cannot be read as a sequence; removed")
        attr = None
    else:
        attr = _items(items, tag, name, context, charset, depth, private)
    context.memo.remember(key, len(value), (attr, tuple(context.warnings[start:])))
    return attr


def _parse_sequence(
    value: bytes, raw: Any, written: str | None, charset: CharacterSet
) -> Sequence | None:
    """Parse the items of a sequence value; one written as UN is implicit VR little endian
    (PS3.5 6.2.2), though some writers keep the file's encoding, which is tried next."""
    if written is None or written == "SQ":
        encodings = [(bool(getattr(raw, "is_implicit_VR", False)), _little(raw))]
    else:
        encodings = [(True, True), (False, True)]
    for implicit, little in encodings:
        try:
            return convert_SQ(value, implicit, little, list(charset.encodings), 0)
        except (RecursionError, MemoryError, LimitExceeded):
            raise
        except Exception:
            continue
    return None


def _items(
    items: Sequence,
    tag: int,
    name: str,
    context: _Context,
    charset: CharacterSet,
    depth: int,
    private: bool,
) -> Attr | None:
    """Return a sequence attribute of de-identified items (None when it has none)."""
    walked = tuple(_walk(item, context, charset, depth + 1) for item in items)
    return Attr(tag, name, "SQ", walked, private) if walked else None


def _convert(
    tag: int,
    name: str,
    vr: str,
    value: bytes,
    action: Action,
    context: _Context,
    charset: CharacterSet,
    little: bool,
    private: bool,
    notes: list[str],
) -> Attr | None:
    """Decode one raw value by its VR, then apply the action and the UID and date rules."""
    if vr in TEXT_VRS:
        decoded = decode_text(value, charset, vr)
        if decoded is None:
            notes.append(f"{_label(tag, name)}: text not decodable in its character set; removed")
            return None
        text = decoded.rstrip("\x00 ")
        if vr not in ("UT", "UR"):
            text = text.lstrip(" ")
    elif vr in BINARY_FORMATS or vr == "AT":
        fmt = BINARY_FORMATS.get(vr, "HH")
        size = struct.calcsize("<" + fmt)
        if len(value) % size:
            notes.append(f"{_label(tag, name)}: length does not fit VR {vr}; removed")
            return None
        numbers = struct.unpack(("<" if little else ">") + fmt * (len(value) // size), value)
        if vr == "AT":
            pairs = range(0, len(numbers), 2)
            text = "\\".join(f"({numbers[i]:04X},{numbers[i + 1]:04X})" for i in pairs)
        else:
            text = "\\".join(repr(n) if isinstance(n, float) else str(n) for n in numbers)
    else:
        if action is not Action.KEEP:  # never stored as bytes what was to be changed
            notes.append(f"{_label(tag, name)}: value cannot be read as {vr}; removed")
            return None
        return Attr(tag, name, vr, value, private) if len(value) <= MAX_BINARY_BYTES else None
    return _finish(tag, name, vr, text, action, context, private, notes)


def _finish(
    tag: int,
    name: str,
    vr: str,
    text: str,
    action: Action,
    context: _Context,
    private: bool,
    notes: list[str],
) -> Attr | None:
    """Apply the action, and the rules for names, UIDs and dates, to a decoded value."""
    if not text:
        return None
    if vr == "PN" and action is Action.KEEP and (private or profile_row(tag) is None):
        return None  # a name the profile does not list as kept is a name all the same
    values = [text] if vr in SINGLE_VALUED else text.split("\\")
    if action is Action.UID or vr == "UI":
        uids = [_uid(v.strip(), action, context) if v.strip() else "" for v in values]
        return Attr(tag, name, vr, "\\".join(uids), private)
    if vr in DATE_VRS:
        longitudinal = context.profile.options.longitudinal
        if longitudinal == "remove":
            return None
        if longitudinal == "modified":
            shifted = [shift_date(v, context.shift_days) if v.strip() else "" for v in values]
            if any(v is None for v in shifted):
                notes.append(f"{_label(tag, name)}: a date that cannot be shifted; removed")
                return None
            text = "\\".join(v or "" for v in shifted)
        return Attr(tag, name, vr, text, private)
    if action is Action.CLEAN:
        if vr == "TM":
            return None
        text = _clean(text, context, tag, name, notes)
        if not text:
            return None
    return Attr(tag, name, vr, text, private)


def _uid(value: str, action: Action, context: _Context) -> str:
    """Pseudonymise a UID unless it is a well-known one (an identifying attribute always)."""
    if action is not Action.UID and is_well_known(value):
        return value
    return context.pseudonyms.uid(value)


def _clean(text: str, context: _Context, tag: int, name: str, notes: list[str]) -> str:
    try:
        words = context.identifying
    except Exception:  # the identifying values themselves are unreadable: keep no descriptor
        notes.append(f"{_label(tag, name)}: cannot be cleaned; removed")
        return ""
    return clean_text(text, words)
