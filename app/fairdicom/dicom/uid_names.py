"""Names of the UIDs of the DICOM registry (PS3.6 Table A-1), for labels of SOP classes."""

from __future__ import annotations

from pydicom._uid_dict import UID_dictionary

__all__ = ["registry_uids", "uid_name"]


def uid_name(uid: str) -> str | None:
    """Return the registry's name of a UID (``CT Image Storage``), or None."""
    entry = UID_dictionary.get(uid)
    return str(entry[0]) if entry else None


def registry_uids() -> list[str]:
    """Return every UID of the registry (SOP classes, transfer syntaxes, coding schemes...)."""
    return list(UID_dictionary)
