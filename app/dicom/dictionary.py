"""Read the DICOM data dictionary (PS3.6) as distributed with pydicom.

This is the only place that looks at pydicom's dictionaries; :mod:`app.rdf.vocabulary` turns
the entries into the ``dcmtag:`` vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import pydicom

# pydicom.datadict uses (and extends at run time) these very dictionaries but does not re-export
# them for type checkers, so import them from the module that defines them.
from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary

__all__ = ["DictionaryEntry", "dictionary_entries", "dictionary_version"]


@dataclass(frozen=True)
class DictionaryEntry:
    """One attribute of the DICOM data dictionary.

    ``tag`` is the 32-bit tag; for a repeating-group attribute (``60xx0010``) it is the tag of
    the first group (``0x60000010``) and ``mask`` keeps the PS3.6 form with ``x`` digits.
    """

    tag: int
    keyword: str
    name: str
    vr: str
    vm: str
    retired: bool
    mask: str | None = None

    @property
    def tag_hex(self) -> str:
        """Return the tag as 8 upper-case hex digits (``00180050``; ``60xx0010`` for repeaters)."""
        if self.mask is not None:
            return self.mask
        return f"{self.tag:08X}"

    @property
    def notation(self) -> str:
        """Return the tag in the usual DICOM notation, ``(0018,0050)``."""
        text = self.tag_hex
        return f"({text[:4]},{text[4:]})"

    @property
    def group(self) -> str:
        """Return the group part of :attr:`tag_hex` (``0018``, ``60xx``)."""
        return self.tag_hex[:4]


def _normalise_mask(mask: str) -> str:
    """Return a repeater mask with upper-case hex digits and lower-case ``x``."""
    return "".join("x" if ch in "xX" else ch.upper() for ch in mask)


def dictionary_entries() -> list[DictionaryEntry]:
    """Return every data-dictionary entry, repeating groups included, sorted by tag."""
    entries: list[DictionaryEntry] = []
    for tag, (vr, vm, name, retired, keyword) in DicomDictionary.items():
        entries.append(
            DictionaryEntry(
                tag=int(tag),
                keyword=keyword,
                name=name,
                vr=vr,
                vm=vm,
                retired=retired == "Retired",
            )
        )
    for raw_mask, (vr, vm, name, retired, keyword) in RepeatersDictionary.items():
        mask = _normalise_mask(raw_mask)
        entries.append(
            DictionaryEntry(
                tag=int(mask.replace("x", "0"), 16),
                keyword=keyword,
                name=name,
                vr=vr,
                vm=vm,
                retired=retired == "Retired",
                mask=mask,
            )
        )
    entries.sort(key=lambda e: (e.tag, e.tag_hex, e.keyword))
    return entries


def dictionary_version() -> str:
    """Return the version of the dictionary source (the installed pydicom version)."""
    return str(pydicom.__version__)
