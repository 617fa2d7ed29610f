"""Read the DICOM data dictionary (PS3.6) as distributed with pydicom.

This is the only place that looks at pydicom's dictionaries; :mod:`fairdicom.rdf.vocabulary` turns
the entries into the ``dcmtag:`` vocabulary.
"""

from __future__ import annotations

import pydicom

# pydicom.datadict uses (and extends at run time) these very dictionaries but does not re-export
# them for type checkers, so import them from the module that defines them.
from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
from pydicom.datadict import dictionary_VR, private_dictionary_VR

from fairdicom.dicom_model import DictionaryEntry

__all__ = [
    "DictionaryEntry",
    "dictionary_entries",
    "dictionary_version",
    "listed_private_vr",
    "listed_vr",
]


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


def listed_vr(tag: int) -> str | None:
    """Return the VR the data dictionary gives a public tag (``US or SS`` when it has two)."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


def listed_private_vr(creator: str, tag: int) -> str | None:
    """Return the VR pydicom's private dictionaries give a private tag of a creator, if any."""
    try:
        return str(private_dictionary_VR(tag, creator))
    except KeyError:
        return None
