"""The pydicom-free forms in which DICOM data leave fairdicom.dicom: de-identified headers and
data-dictionary entries. The RDF layer reads them without importing pydicom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Attr(NamedTuple):
    """One de-identified attribute: tag, name (keyword, or ``CREATOR:ggggxxee``), VR, value.

    ``value`` is the DICOM text (values joined by backslash) for text and numeric VRs, bytes for
    short binary VRs, and a tuple of items (each a tuple of Attr) for sequences.
    """

    tag: int
    name: str
    vr: str
    value: str | bytes | tuple[tuple[Attr, ...], ...]
    private: bool = False


@dataclass
class InstanceHeader:
    """The de-identified header of one instance, keyed by pseudonymous identifiers."""

    patient: str
    study_uid: str
    series_uid: str
    instance_uid: str
    attrs: tuple[Attr, ...]
    warnings: list[str] = field(default_factory=list)


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
