"""What names a DICOMweb source and narrows its listing: ``dicomweb+http(s)://`` URLs and the
QIDO-RS matching of ``--filter KEYWORD=VALUE`` and ``--since DATE``."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from pydicom.datadict import dictionary_VR, tag_for_keyword

from fairdicom.errors import UsageError

__all__ = ["SCHEMES", "endpoint_of", "is_dicomweb_url", "parse_filter", "since_filter"]

SCHEMES = ("dicomweb+http://", "dicomweb+https://")
RESERVED = frozenset({"limit", "offset", "includefield", "fuzzymatching", "orderby"})
"""QIDO-RS parameters fairdicom sets itself."""
_TAG = re.compile(r"[0-9A-Fa-f]{8}")


def is_dicomweb_url(text: str) -> bool:
    """Return whether an ingest argument names a DICOMweb source."""
    return text.lower().startswith(SCHEMES)


def endpoint_of(url: str) -> str:
    """Return the HTTP(S) base URL of a ``dicomweb+http(s)://`` source; raise UsageError."""
    if not is_dicomweb_url(url):
        raise UsageError(
            f"{url}: a DICOMweb source starts with dicomweb+http:// or dicomweb+https://"
        )
    parts = urlsplit(url[len("dicomweb+") :])
    if parts.username or parts.password:
        raise UsageError(
            "a DICOMweb URL must not carry credentials (they would be recorded in provenance): "
            "set dicomweb_username and dicomweb_password (or dicomweb_token) instead"
        )
    if parts.query or parts.fragment:
        raise UsageError("a DICOMweb URL takes no query: give QIDO-RS matching with --filter")
    if not parts.hostname:
        raise UsageError(f"{url}: no host in the DICOMweb URL")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def parse_filter(text: str) -> tuple[str, str]:
    """Return the QIDO-RS (key, value) of ``KEYWORD=VALUE`` (a DA value may be ``2020``,
    ``2020-2021``, ``2020-03-01`` or a DICOM range ``20200301-20211231``); raise UsageError."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise UsageError(f"--filter {text!r}: use KEYWORD=VALUE, e.g. ModalitiesInStudy=CT")
    if key.lower() in RESERVED:
        raise UsageError(f"--filter {text!r}: {key} is set by fairdicom itself")
    tag = int(key, 16) if _TAG.fullmatch(key) else tag_for_keyword(key)
    if tag is None:
        raise UsageError(f"--filter {text!r}: {key} is not a DICOM keyword or an 8-digit tag")
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        vr = ""
    if vr == "DA":
        value = _date_range(value, text)
    return key, value


def since_filter(date: str) -> tuple[str, str]:
    """Return the StudyDate filter of ``--since DATE`` (studies of that day or later)."""
    day = _day(date.strip(), f"--since {date}", first=True)
    return "StudyDate", f"{day}-"


def _date_range(value: str, text: str) -> str:
    """Return a DICOM DA value or range from the friendly forms ``parse_filter`` takes."""
    if re.fullmatch(r"\d{8}|\d{8}-\d{8}|\d{8}-|-\d{8}", value):
        return value
    years = re.fullmatch(r"(\d{4})-(\d{4})", value)
    if years:
        return f"{years[1]}0101-{years[2]}1231"
    if re.fullmatch(r"\d{4}", value):
        return f"{value}0101-{value}1231"
    return _day(value, f"--filter {text}", first=True)


def _day(value: str, where: str, first: bool) -> str:
    match = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})", value) or re.fullmatch(r"(\d{4})", value)
    if match is None:
        raise UsageError(f"{where}: use a date as YYYY-MM-DD, YYYYMMDD or YYYY")
    if match.lastindex == 1:
        return f"{match[1]}0101" if first else f"{match[1]}1231"
    return "".join(match.groups())
