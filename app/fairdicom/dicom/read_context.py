"""What de-identifying one file needs beside its elements: the patient, the options, the
pseudonyms, the character set, and the memo of conversions it shares with the files before it.

The memo holds converted attributes by every input of their conversion (raw bytes, VR,
character set, byte order, the patient's date shift, the identifying values Clean Descriptors
depends on) and the per-tag plan of each attribute (action, VR, keyword): a series repeats most
of its values, so most elements of a file cost one dictionary lookup. A memo belongs to one
pseudonymizer (one secret) and one set of options, and goes with them.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from fairdicom.config import DeidOptions
from fairdicom.dicom.charset import SINGLE_VALUED, CharacterSet, decode_text
from fairdicom.dicom.deidentify import Action, Profile, Pseudonymizer, identifying_words
from fairdicom.dicom_model import Attr

__all__ = [
    "IDENTIFYING_KEYWORDS",
    "PHI_TAGS",
    "Converted",
    "Memo",
    "Plan",
    "ReadContext",
    "label",
    "memo_for",
    "raw_element",
]

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
_NAME_KEYWORDS = ("PatientName", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName")
_NAME_TAGS = frozenset(int(tag_for_keyword(k) or 0) for k in _NAME_KEYWORDS)
_PHI_VRS = {tag: dictionary_VR(tag) for tag in PHI_TAGS}

Converted = tuple[Attr | None, tuple[str, ...]]
"""A converted attribute (None: removed) and the warnings its conversion gave."""
Plan = tuple[Action, str, str, int] | None
"""How a public attribute is read: action, VR, keyword and what else its value depends on
(one of the ``DEPENDS_*`` values); None: removed whatever its value."""
DEPENDS_NOTHING, DEPENDS_SHIFT, DEPENDS_IDENTITY = 0, 1, 2
UNDEFINED_LENGTH = 0xFFFFFFFF
MEMO_BYTES = 4 * 2**20
"""Raw bytes a memo holds as keys before it starts afresh: enough for the values a series
repeats (measured on 19,789 files: 32 MiB held 40 MiB more per parsing process, and
saved no CPU)."""
MEMO_VALUE_BYTES = 64 * 1024
"""Longer raw values are converted every time instead of being kept as memo keys."""
MEMO_IDENTITIES = 1024
"""Identities (the raw identifying values of a file) whose words a memo keeps."""


class Memo:
    """Converted attributes by every input of their conversion, within a bound, and the plan
    of each public attribute by (tag, written VR, signed pixel data)."""

    def __init__(self) -> None:
        self.entries: dict[Hashable, Converted] = {}
        self.plans: dict[tuple[int, str | None, bool], Plan] = {}
        self.words: dict[Hashable, frozenset[str]] = {}
        """The words Clean Descriptors removes, by identity and character set."""
        self._bytes = 0

    def remember_words(self, key: Hashable, words: frozenset[str]) -> None:
        """Keep the identifying words of an identity (and character set)."""
        if len(self.words) >= MEMO_IDENTITIES:
            self.words.clear()
        self.words[key] = words

    def remember(self, key: Hashable, size: int, converted: Converted) -> None:
        """Keep a conversion whose key holds ``size`` raw bytes (unless they are too many)."""
        if size > MEMO_VALUE_BYTES:
            return
        self._bytes += size + 200
        if self._bytes > MEMO_BYTES:
            self.entries.clear()
            self._bytes = size + 200
        self.entries[key] = converted


_MEMOS: weakref.WeakKeyDictionary[Pseudonymizer, dict[DeidOptions, Memo]] = (
    weakref.WeakKeyDictionary()
)
"""One memo per secret (pseudonymizer) and options; it goes when its pseudonymizer goes."""


def memo_for(profile: Profile, pseudonyms: Pseudonymizer) -> Memo:
    """Return the memo of a secret (its pseudonymizer) and a set of options."""
    by_options = _MEMOS.get(pseudonyms)
    if by_options is None:
        by_options = _MEMOS[pseudonyms] = {}
    memo = by_options.get(profile.options)
    if memo is None:
        memo = by_options[profile.options] = Memo()
    return memo


@dataclass
class ReadContext:
    """Everything the conversion of one file's values depends on, and its warnings."""

    patient: str
    profile: Profile
    pseudonyms: Pseudonymizer
    charset: CharacterSet
    dataset: Dataset
    shift_days: int
    warnings: list[str]
    memo: Memo
    signed: bool
    """PixelRepresentation is 1: ``US or SS`` attributes are SS."""
    elements: int = 0

    @cached_property
    def identity(self) -> tuple[tuple[int, object], ...]:
        """The raw identifying values: what Clean Descriptors depends on (a memo key).

        Read before the first descriptor is cleaned, so before ``identifying`` converts them.
        """
        return _identity(self.dataset)

    @cached_property
    def identifying(self) -> frozenset[str]:
        """The words to clean from descriptors; read only when a descriptor needs cleaning
        (once per identity and character set: the files of a study share them)."""
        key = (self.identity, self.charset.encodings)
        words = self.memo.words.get(key)
        if words is None:
            values, names = _identifying_texts(self.identity, self.dataset, self.charset)
            # every part of the patient's names, however short
            words = identifying_words(values, names=names)
            self.memo.remember_words(key, words)
        return words


def raw_element(ds: Dataset, tag: int) -> Any:
    """Return an element as read (bytes for most), never triggering a deferred read; None
    when the dataset has none."""
    return ds.get_item(tag, keep_deferred=True)


def label(tag: int, name: str) -> str:
    """Name an attribute in a warning: its tag and keyword, never its value."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {name}".rstrip()


def _identifying_texts(
    identity: tuple[tuple[int, object], ...], ds: Dataset, charset: CharacterSet
) -> tuple[list[str], list[str]]:
    """Return the text of the identifying values of a file and its patient's names (for Clean
    Descriptors): the raw bytes of its identity, decoded as the walk decodes a descriptor; a
    sequence (items included), a value not read and one that does not decode so are converted
    by pydicom.

    A value of several is split as pydicom splits it; a name stays whole, as it gives every
    word, however short, and one phrase."""
    values: list[str] = []
    names: list[str] = []
    for tag, raw in identity:
        if raw is None:  # empty
            continue
        vr = _PHI_VRS[tag]
        text = decode_text(raw, charset, vr) if raw.__class__ is bytes and vr != "SQ" else None
        if text is None:
            value = ds[tag].value
            values += _texts(value)
            if tag in _NAME_TAGS:
                names.append(str(value or ""))
        else:
            text = text.rstrip("\x00 ")
            values += [text] if vr in SINGLE_VALUED else text.split("\\")
            if tag in _NAME_TAGS:
                names.append(text)
    return values, names


def _texts(value: object) -> list[str]:
    """Return the text of an identifying value as pydicom converted it, items included."""
    if isinstance(value, Sequence):
        return [text for item in value for text in _item_texts(item)]
    if isinstance(value, list | tuple | MultiValue):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def _item_texts(item: Dataset) -> list[str]:
    """Return the text of the identifying values of a sequence item, as pydicom converts them."""
    return [text for tag in PHI_TAGS if tag in item for text in _texts(item[tag].value)]


def _identity(ds: Dataset) -> tuple[tuple[int, object], ...]:
    """Return the raw values Clean Descriptors' words come from (a key, never stored).

    A value too long to have been read (deferred) has no raw bytes to compare: it makes the
    identity unlike any other, so nothing converted with it is shared with another file."""
    found: list[tuple[int, object]] = []
    for key, raw in ds.items():  # as read; a set of ints finds the few identifying tags
        if key in _PHI_TAG_SET:
            value = raw.value
            if value is None and getattr(raw, "length", 0) not in (0, UNDEFINED_LENGTH):
                value = object()  # deferred
            elif not isinstance(value, bytes | None):
                value = repr(value)
            found.append((int(key), value))
    return tuple(sorted(found, key=lambda pair: pair[0]))
