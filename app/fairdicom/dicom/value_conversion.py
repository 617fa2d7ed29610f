"""Turn one raw value into DICOM text by its VR, then apply its action and the rules that
hold for every attribute: a UID that is not well known is pseudonymised, a date is shifted (or
removed, or kept, as the longitudinal option says), a descriptor is cleaned, a name the
profile does not list as kept goes. A value that cannot be read as its VR is removed, with a
warning that names its tag, never its value.
"""

from __future__ import annotations

import struct
from typing import Any

from fairdicom.dicom.charset import SINGLE_VALUED, CharacterSet, decode_text
from fairdicom.dicom.deidentify import Action, clean_text, profile_row, shift_date
from fairdicom.dicom.read_context import (
    DEPENDS_IDENTITY,
    DEPENDS_NOTHING,
    DEPENDS_SHIFT,
    Converted,
    ReadContext,
    label,
)
from fairdicom.dicom.well_known_uids import is_well_known
from fairdicom.dicom_model import Attr

__all__ = ["DATE_VRS", "convert_value", "depends_on", "finish", "remember_conversion"]

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


def depends_on(vr: str, action: Action) -> int:
    """Return what, beside its bytes, the conversion of a value of this VR and action reads."""
    if vr in DATE_VRS:
        return DEPENDS_SHIFT
    if action is Action.CLEAN:
        return DEPENDS_IDENTITY
    return DEPENDS_NOTHING


def convert_value(
    raw: Any,
    tag: int,
    name: str,
    vr: str,
    value: bytes,
    action: Action,
    context: ReadContext,
    charset: CharacterSet,
    private: bool,
) -> Attr | None:
    """Return the attribute of one raw value, converted once per everything it depends on."""
    depends = depends_on(vr, action)
    contextual: object = (
        context.shift_days
        if depends == DEPENDS_SHIFT
        else context.identity
        if depends == DEPENDS_IDENTITY
        else None
    )
    little = getattr(raw, "is_little_endian", True) is not False
    key = (tag, name, vr, value, charset.encodings, little, contextual)
    entry = context.memo.entries.get(key)
    if entry is None:
        entry = remember_conversion(
            key, tag, name, vr, value, action, context, charset, little, private
        )
    if entry[1]:
        context.warnings.extend(entry[1])
    return entry[0]


def remember_conversion(
    key: tuple[object, ...],
    tag: int,
    name: str,
    vr: str,
    value: bytes,
    action: Action,
    context: ReadContext,
    charset: CharacterSet,
    little: bool,
    private: bool,
) -> Converted:
    """Convert a value that the memo does not hold yet and keep it there under ``key``."""
    notes: list[str] = []
    attr = _convert(tag, name, vr, value, action, context, charset, little, private, notes)
    entry = (attr, tuple(notes))
    context.memo.remember(key, len(value), entry)
    return entry


def _convert(
    tag: int,
    name: str,
    vr: str,
    value: bytes,
    action: Action,
    context: ReadContext,
    charset: CharacterSet,
    little: bool,
    private: bool,
    notes: list[str],
) -> Attr | None:
    """Decode one raw value by its VR, then apply the action and the UID and date rules."""
    if vr in TEXT_VRS:
        decoded = decode_text(value, charset, vr)
        if decoded is None:
            notes.append(f"{label(tag, name)}: text not decodable in its character set; removed")
            return None
        text = decoded.rstrip("\x00 ")
        if vr not in ("UT", "UR"):
            text = text.lstrip(" ")
    elif vr in BINARY_FORMATS or vr == "AT":
        fmt = BINARY_FORMATS.get(vr, "HH")
        size = struct.calcsize("<" + fmt)
        if len(value) % size:
            notes.append(f"{label(tag, name)}: length does not fit VR {vr}; removed")
            return None
        numbers = struct.unpack(("<" if little else ">") + fmt * (len(value) // size), value)
        if vr == "AT":
            pairs = range(0, len(numbers), 2)
            text = "\\".join(f"({numbers[i]:04X},{numbers[i + 1]:04X})" for i in pairs)
        else:
            text = "\\".join(repr(n) if isinstance(n, float) else str(n) for n in numbers)
    else:
        if action is not Action.KEEP:  # never stored as bytes what was to be changed
            notes.append(f"{label(tag, name)}: value cannot be read as {vr}; removed")
            return None
        return Attr(tag, name, vr, value, private) if len(value) <= MAX_BINARY_BYTES else None
    return finish(tag, name, vr, text, action, context, private, notes)


def finish(
    tag: int,
    name: str,
    vr: str,
    text: str,
    action: Action,
    context: ReadContext,
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
                notes.append(f"{label(tag, name)}: a date that cannot be shifted; removed")
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


def _uid(value: str, action: Action, context: ReadContext) -> str:
    """Pseudonymise a UID unless it is a well-known one (an identifying attribute always)."""
    if action is not Action.UID and is_well_known(value):
        return value
    return context.pseudonyms.uid(value)


def _clean(text: str, context: ReadContext, tag: int, name: str, notes: list[str]) -> str:
    """Return a descriptor cleaned of the identifying words of its file ("" when impossible)."""
    try:
        words = context.identifying
    except Exception:  # the identifying values themselves are unreadable: keep no descriptor
        notes.append(f"{label(tag, name)}: cannot be cleaned; removed")
        return ""
    return clean_text(text, words)
