"""The de-identified header of one instance: the only form in which DICOM data leaves app.dicom.

No pydicom here, so the RDF layer can import it.
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
