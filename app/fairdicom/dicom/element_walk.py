"""Walk a dataset's elements as pydicom read them (raw bytes, nothing converted) and return
the de-identified attributes, sequences parsed and walked at any depth.

Each public attribute is planned once per tag and written VR (its action in the profile, the
VR it is read with, its keyword: :class:`fairdicom.dicom.read_context.Memo`), and each raw
value converted once per everything its conversion depends on, so that the usual element
costs two dictionary lookups. Private attributes are kept only when their creator's block is
listed as safe.
"""

from __future__ import annotations

from typing import Any

from pydicom.datadict import dictionary_has_tag, dictionary_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.values import convert_SQ

from fairdicom.dicom.charset import CharacterSet, character_set, decode_text
from fairdicom.dicom.deidentify import Action, Profile
from fairdicom.dicom.limits import DEFER_BYTES, MAX_DEPTH, MAX_ELEMENTS, LimitExceeded
from fairdicom.dicom.read_context import (
    DEPENDS_NOTHING,
    DEPENDS_SHIFT,
    UNDEFINED_LENGTH,
    Plan,
    ReadContext,
    label,
    raw_element,
)
from fairdicom.dicom.value_conversion import (
    convert_value,
    depends_on,
    finish,
    remember_conversion,
)
from fairdicom.dicom.vr import private_vr, public_vr
from fairdicom.dicom_model import Attr

__all__ = ["CHARSET_TAG", "walk"]

CHARSET_TAG = 0x00080005
MAX_PLANS = 65536
"""Plans a memo keeps (tag, written VR, signedness) before it starts afresh."""
_UNPLANNED: Any = object()


def walk(ds: Dataset, context: ReadContext, charset: CharacterSet, depth: int) -> tuple[Attr, ...]:
    """Return the de-identified attributes of a dataset (or a sequence item)."""
    if depth > MAX_DEPTH:
        raise LimitExceeded(f"sequences nested deeper than {MAX_DEPTH} levels")
    if depth and CHARSET_TAG in ds:  # an item may declare its own character set
        charset = character_set(raw_element(ds, CHARSET_TAG).value)
    context.elements += len(ds)
    if context.elements > MAX_ELEMENTS:
        raise LimitExceeded(f"more than {MAX_ELEMENTS:,} elements")
    profile = context.profile
    plans = context.memo.plans
    entries = context.memo.entries  # cleared in place when full: this stays the memo's
    signed = context.signed
    encodings = charset.encodings
    attrs: list[Attr] = []
    creators = _creators(ds, charset) if profile.options.keep_private else {}
    for key, raw in ds.items():  # as read: no conversion, no deferred read
        tag = int(key)
        if tag >> 16 & 1:
            attr = _private(raw, tag, creators, context, charset, depth)
            if attr is not None:
                attrs.append(attr)
            continue
        written = raw.VR or None
        plan = plans.get((tag, written, signed), _UNPLANNED)
        if plan is _UNPLANNED:
            plan = _plan(plans, profile, tag, written, signed)
        if plan is None:
            continue
        action, vr, name, depends = plan
        value = raw.value
        if value.__class__ is bytes and value and vr != "SQ":  # the usual case, inline
            contextual: object = (
                None
                if depends == DEPENDS_NOTHING
                else context.shift_days
                if depends == DEPENDS_SHIFT
                else context.identity
            )
            little = getattr(raw, "is_little_endian", True) is not False
            memo_key = (tag, name, vr, value, encodings, little, contextual)
            entry = entries.get(memo_key)
            if entry is None:
                entry = remember_conversion(
                    memo_key, tag, name, vr, value, action, context, charset, little, False
                )
            if entry[1]:
                context.warnings.extend(entry[1])
            attr = entry[0]
        else:
            attr = _attribute(raw, tag, name, vr, action, context, charset, depth, False)
        if attr is not None:
            attrs.append(attr)
    return tuple(attrs)


def _plan(
    plans: dict[tuple[int, str | None, bool], Plan],
    profile: Profile,
    tag: int,
    written: str | None,
    signed: bool,
) -> Plan:
    """Decide how a public attribute is read, and remember it."""
    action = profile.public_action(tag, dictionary_has_tag)
    plan: Plan = None
    if action is not Action.REMOVE:
        vr = public_vr(tag, written, signed)
        plan = (action, vr, str(dictionary_keyword(tag)), depends_on(vr, action))
    if len(plans) >= MAX_PLANS:
        plans.clear()
    plans[(tag, written, signed)] = plan
    return plan


def _private(
    raw: Any,
    tag: int,
    creators: dict[tuple[int, int], str],
    context: ReadContext,
    charset: CharacterSet,
    depth: int,
) -> Attr | None:
    """Return a private attribute when its creator's block is listed as safe, else None."""
    group, element = tag >> 16, tag & 0xFFFF
    creator = creators.get((group, element >> 8), "") if element > 0x00FF else ""
    if not creator or context.profile.private_action(creator, tag) is not Action.KEEP:
        return None
    vr = private_vr(creator, tag, raw.VR or None, context.signed)
    name = f"{creator}:{group:04X}xx{element & 0xFF:02X}"
    return _attribute(raw, tag, name, vr, Action.KEEP, context, charset, depth, True)


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


def _written(raw: Any) -> str | None:
    """Return the VR written in the file (None for implicit VR)."""
    return str(raw.VR) if raw.VR else None


def _little(raw: Any) -> bool:
    """Return False only for a big endian element (a converted element has no flag)."""
    return getattr(raw, "is_little_endian", True) is not False


def _attribute(
    raw: Any,
    tag: int,
    name: str,
    vr: str,
    action: Action,
    context: ReadContext,
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
            context.warnings.append(f"{label(tag, name)}: {too_long}")
        return None
    if not isinstance(value, bytes):  # converted by pydicom before us (rare)
        text = "\\".join(map(str, value)) if isinstance(value, list | MultiValue) else str(value)
        return finish(tag, name, vr, text, action, context, private, context.warnings)
    if not value:
        return None
    return convert_value(raw, tag, name, vr, value, action, context, charset, private)


def _sequence(
    raw: Any,
    tag: int,
    name: str,
    context: ReadContext,
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
        context.warnings.append(f"{label(tag, name)}: cannot be read as a sequence; removed")
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
    context: ReadContext,
    charset: CharacterSet,
    depth: int,
    private: bool,
) -> Attr | None:
    """Return a sequence attribute of de-identified items (None when it has none)."""
    walked = tuple(walk(item, context, charset, depth + 1) for item in items)
    return Attr(tag, name, "SQ", walked, private) if walked else None
