"""The VR an attribute is read with: decided by the attribute, not by how it was encoded.

A value written with VR UN (explicit UN), with no VR at all (implicit VR) or with a VR the
data dictionary contradicts for a VR that de-identification depends on (UI, DA, DT, PN, SQ)
is read with the VR of the data dictionary, or of pydicom's private dictionaries when the
private creator is known. Otherwise the VR written in the file is used.
"""

from __future__ import annotations

from functools import lru_cache

from pydicom.valuerep import VR

from fairdicom.dicom.dictionary import listed_private_vr, listed_vr

__all__ = ["OPAQUE_VRS", "private_vr", "public_vr"]

KNOWN_VRS = frozenset(str(v.value) for v in VR if " or " not in str(v.value))
OPAQUE_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
"""VRs whose bytes say nothing about their meaning."""
DECISIVE_VRS = frozenset({"UI", "DA", "DT", "PN", "SQ"})
"""VRs on which de-identification decides: the dictionary's VR wins over the file's."""


def _definite(listed: str | None, signed: bool) -> str | None:
    """Return one VR for a dictionary VR that may be ambiguous (``US or SS``, ``OB or OW``)."""
    if listed is None:
        return None
    options = [v.strip() for v in listed.replace("_", " or ").split(" or ")]
    if len(options) == 1:
        return options[0] if options[0] in KNOWN_VRS else None
    if "US" in options and "SS" in options:
        return "SS" if signed else "US"
    return next((v for v in options if v in OPAQUE_VRS), None)


def _choose(written: str | None, listed: str | None, signed: bool) -> str:
    known = _definite(listed, signed)
    if written is None or written in OPAQUE_VRS or written not in KNOWN_VRS:
        return known or (written if written in KNOWN_VRS else "UN")
    if known is not None and known != written and known in DECISIVE_VRS:
        return known
    return written


@lru_cache(maxsize=16384)
def public_vr(tag: int, written: str | None, signed: bool = False) -> str:
    """Return the VR to read a public attribute with (``signed``: PixelRepresentation is 1)."""
    return _choose(written, listed_vr(tag), signed)


@lru_cache(maxsize=4096)
def private_vr(creator: str, tag: int, written: str | None, signed: bool = False) -> str:
    """Return the VR to read a private attribute of a known creator with."""
    return _choose(written, listed_private_vr(creator, tag), signed)
