"""Well-known UIDs: the DICOM registry's, which de-identification keeps as they are.

The Basic Profile replaces every UID that identifies an instance, a series, a study, a frame
of reference, a device or an event, whatever the attribute that holds it. UIDs defined by the
standard (SOP classes, transfer syntaxes, well-known frames of reference and SOP instances,
coding schemes, context groups, templates) identify nobody and give the values their meaning,
so they stay. Everything else in a UI value is pseudonymised.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pydicom._uid_dict import UID_dictionary

__all__ = ["is_well_known", "well_known_uids"]

CODING_SCHEMES = Path(__file__).with_name("data") / "coding-scheme-uids.tsv"
_REGISTRY_SERIES = re.compile(r"1\.2\.840\.10008\.(?:6\.1|9)\.[1-9]\d{0,4}")
"""Context Group UIDs (PS3.6 Table A-3, ``1.2.840.10008.6.1.n``) and Template UIDs (Table A-4,
``1.2.840.10008.9.n``): numbered series of the registry, too many to list."""


@cache
def well_known_uids() -> frozenset[str]:
    """Return the listed well-known UIDs: pydicom's registry (PS3.6 Table A-1) and PS3.16."""
    uids = set(UID_dictionary)
    for line in CODING_SCHEMES.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and not line.startswith("designator\t"):
            uids.add(line.split("\t")[1])
    return frozenset(uids)


def is_well_known(uid: str) -> bool:
    """Return True when a UID is defined by the DICOM standard (kept by de-identification)."""
    return uid in well_known_uids() or _REGISTRY_SERIES.fullmatch(uid) is not None
