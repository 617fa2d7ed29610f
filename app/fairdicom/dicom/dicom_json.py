"""Turn one instance in DICOM JSON (PS3.18 F.2, as WADO-RS ``/metadata`` returns it) into the
Part 10 bytes the reader reads, so that DICOMweb and files share one reader and one profile.

The bytes are explicit VR little endian, written here value by value (not by pydicom's
writer, which validates and reformats values): text in the instance's Specific Character
Set, numbers as the JSON has them. JSON does not keep what a file keeps in three places:

* DS and IS are JSON numbers. A JSON integer is written as it is; any other number as the
  shortest text that gives back its double (``-180.59020000000001`` -> ``-180.5902``), which is
  the text the modality wrote whenever that text was itself the shortest (``0.714844``,
  ``3.0``), but not for padded forms (``1.500``, ``-125.000000``, ``+05``). A JSON string
  (some servers send DS/IS as text) is written unchanged.
* Binary values (OB, OW, UN, ...) come as InlineBinary (written as they are) or BulkDataURI:
  the harvester fetches those the profile may keep (:func:`wanted_bulk_data`) and hands them
  over by element path; the others are left out, as the reader would leave them out.
* The elements after the pixel data are not read from a file (``stop_before_pixels``), so
  they are left out here too; group 0002 is the file meta information, never the dataset.

A malformed instance raises DicomReadError with a reason that quotes nothing from it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import os
import re
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydicom.charset import encode_string
from pydicom.datadict import dictionary_has_tag, dictionary_VR
from pydicom.valuerep import PersonName

from fairdicom.dicom.charset import character_set
from fairdicom.dicom.deidentify import Action, Profile
from fairdicom.dicom.limits import DEFER_BYTES, MAX_DEPTH
from fairdicom.dicom.sources import Source
from fairdicom.errors import DicomReadError

__all__ = [
    "DicomJsonSource",
    "format_number",
    "part10_from_json",
    "spool_text",
    "wanted_bulk_data",
]

EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
"""Pixel data (float, double, integer): reading a file stops at the first of them."""
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"})
"""VRs with a 4-byte length in explicit VR (PS3.5 7.1.2)."""
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "UV": "Q", "SV": "q"}
FLOAT_FORMATS = {"FL": "f", "FD": "d"}
ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"})
TEXT_VRS = ASCII_VRS | frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
KNOWN_VRS = TEXT_VRS | BINARY_VRS | frozenset(NUMBER_FORMATS) | frozenset(FLOAT_FORMATS)
KNOWN_VRS |= {"AT", "SQ"}
CHARSET_TAG = 0x00080005
_TAG = re.compile(r"[0-9A-Fa-f]{8}")
_INTEGER = re.compile(r"-?[0-9]+")


class Number(str):
    """The text of a JSON number, as the server wrote it (kept apart from JSON strings)."""


def _load(text: str | bytes) -> Any:
    """Parse JSON keeping numbers as :class:`Number` text (never through float first)."""
    return json.loads(text, parse_float=Number, parse_int=Number)


def format_number(vr: str, value: object) -> str:
    """Return the DICOM text of one DS or IS value from DICOM JSON (see the module's notes)."""
    if not isinstance(value, Number):
        return "" if value is None else str(value)
    if _INTEGER.fullmatch(value):
        return str(value)
    number = float(value)
    if vr == "IS" and number.is_integer():
        return str(int(number))
    return repr(number)


@dataclass(frozen=True)
class DicomJsonSource(Source):
    """One instance fetched over DICOMweb, spooled as JSON: it opens as Part 10 bytes.

    ``path`` is the spool file (:func:`spool_text`); ``label`` names the instance in reports
    (the source and pseudonymised identifiers, never an original UID).
    """

    label: str = ""

    def __str__(self) -> str:
        return self.label or self.path

    def open(self) -> io.BufferedIOBase:
        """Return the instance as Part 10 bytes; raise DicomReadError or OSError."""
        with open(self.path, "rb") as handle:
            spooled = handle.read()
        # Read once (a source is opened once; the one a dying worker held is rejected): the
        # spool never holds more than the instances in flight.
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        return io.BytesIO(part10_from_json(spooled))


def spool_text(instance: str, bulk: dict[str, bytes]) -> str:
    """Return the spool file text of one instance: its JSON text untouched, and the bulk data
    fetched for it by element path (``00281201``, ``00081032/0/00281201``)."""
    encoded = {path: base64.b64encode(data).decode("ascii") for path, data in bulk.items()}
    return '{"bulk":' + json.dumps(encoded) + ',"dataset":' + instance + "}"


def part10_from_json(spooled: bytes) -> bytes:
    """Return the Part 10 bytes of a spooled instance; raise DicomReadError when malformed."""
    try:
        document = _load(spooled)
    except (ValueError, RecursionError):
        raise DicomReadError("malformed DICOM JSON (not valid JSON)") from None
    if not isinstance(document, dict) or not isinstance(document.get("dataset"), dict):
        raise DicomReadError("malformed DICOM JSON (an instance must be a JSON object)")
    bulk = document.get("bulk") or {}
    dataset: dict[str, Any] = document["dataset"]
    try:
        body = _Writer(bulk).dataset(dataset, "", 0, top=True)
    except DicomReadError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, struct.error, binascii.Error):
        raise DicomReadError("malformed DICOM JSON (a value does not fit its VR)") from None
    return _file_meta(dataset) + body


def _file_meta(dataset: dict[str, Any]) -> bytes:
    """Return the preamble and file meta information of a dataset (explicit VR little endian)."""
    sop_class = _first_text(dataset.get("00080016"))
    sop_instance = _first_text(dataset.get("00080018"))
    elements = (
        _element(0x00020001, "OB", b"\x00\x01")
        + _element(0x00020002, "UI", _pad(sop_class.encode("ascii", "replace"), "UI"))
        + _element(0x00020003, "UI", _pad(sop_instance.encode("ascii", "replace"), "UI"))
        + _element(0x00020010, "UI", _pad(EXPLICIT_LITTLE.encode("ascii"), "UI"))
    )
    length = _element(0x00020000, "UL", struct.pack("<L", len(elements)))
    return b"\x00" * 128 + b"DICM" + length + elements


def _first_text(element: object) -> str:
    if isinstance(element, dict):
        values = element.get("Value")
        if isinstance(values, list) and values and isinstance(values[0], str):
            return values[0]
    return ""


def _element(tag: int, vr: str, value: bytes) -> bytes:
    """Return one element in explicit VR little endian (a too long short-VR value goes as UN,
    which the reader reads with the VR of the data dictionary)."""
    if vr not in LONG_VRS and len(value) > 0xFFFF:
        vr = "UN"
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode("ascii")
    if vr in LONG_VRS:
        return head + b"\x00\x00" + struct.pack("<L", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def _pad(value: bytes, vr: str) -> bytes:
    if len(value) % 2 == 0:
        return value
    return value + (b"\x00" if vr in ("UI", "OB", "UN") or vr in BINARY_VRS else b" ")


def _iter_elements(dataset: dict[str, Any]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield (tag, key, element) in tag order; raise DicomReadError on a malformed key."""
    items = []
    for key, element in dataset.items():
        if not _TAG.fullmatch(key) or not isinstance(element, dict):
            raise DicomReadError("malformed DICOM JSON (an attribute key is not 8 hex digits)")
        items.append((int(key, 16), key.upper(), element))
    yield from sorted(items, key=lambda item: item[0])


MEMO_ENTRIES = 50_000
"""Elements remembered as written: a series repeats most of its values in every instance."""
_MEMO: dict[tuple[object, ...], bytes] = {}


def _memo_key(tag: int, element: dict[str, Any], encodings: list[str]) -> tuple[object, ...] | None:
    """Return the key of an element whose bytes depend only on its tag, VR, text values and
    character set (None for sequences, person names, binary values: written every time)."""
    values = element.get("Value")
    if not isinstance(values, list) or len(element) != 2 or len(values) > 64:
        return None
    if not all(value.__class__ in (str, Number) for value in values):
        return None
    vr = element.get("vr")
    if vr in ("SQ", "PN") or not isinstance(vr, str):
        return None
    return (tag, vr, *encodings, "", *values, *(v.__class__ is Number for v in values))


class _Writer:
    """Write the datasets of one instance (its character set can change in items)."""

    def __init__(self, bulk: dict[str, str]) -> None:
        self.bulk = bulk
        self.elements = 0
        self.encodings: list[str] = []

    def dataset(self, dataset: dict[str, Any], path: str, depth: int, top: bool = False) -> bytes:
        if depth > MAX_DEPTH:
            raise DicomReadError(f"malformed DICOM JSON (sequences deeper than {MAX_DEPTH})")
        charset = dataset.get(f"{CHARSET_TAG:08X}")
        if top or charset is not None:  # an item without one keeps its parent's
            values = charset.get("Value") if isinstance(charset, dict) else None
            given = values if isinstance(values, list) else None
            self.encodings = list(character_set(given).encodings)
        out = io.BytesIO()
        for tag, key, element in _iter_elements(dataset):
            if top and (tag in PIXEL_TAGS or tag > 0x7FE00010):
                break  # a file is read up to its pixel data
            if tag >> 16 == 0x0002 or tag & 0xFFFF == 0:
                continue  # file meta information and group lengths are not dataset values
            self.elements += 1
            memo_key = _memo_key(tag, element, self.encodings)
            written = _MEMO.get(memo_key) if memo_key is not None else None
            if written is None:
                value = self.value(tag, element, f"{path}{key}", depth)
                written = b"" if value is None else _element(tag, value[0], value[1])
                if memo_key is not None:
                    if len(_MEMO) >= MEMO_ENTRIES:
                        _MEMO.clear()
                    _MEMO[memo_key] = written
            out.write(written)
        return out.getvalue()

    def value(
        self, tag: int, element: dict[str, Any], path: str, depth: int
    ) -> tuple[str, bytes] | None:
        """Return (VR, value bytes) of one element, or None when it is left out."""
        vr = element.get("vr")
        if not isinstance(vr, str) or vr not in KNOWN_VRS:
            vr = _dictionary_vr(tag)
        if "BulkDataURI" in element:
            data = self.bulk.get(path)
            if data is None:
                return None  # not fetched: a value the reader would not keep either
            return vr, _pad(base64.b64decode(data), vr)
        if "InlineBinary" in element:
            inline = element["InlineBinary"]
            if not isinstance(inline, str):
                raise DicomReadError("malformed DICOM JSON (InlineBinary is not base64 text)")
            return vr, _pad(base64.b64decode(inline, validate=False), vr)
        values = element.get("Value", [])
        if not isinstance(values, list):
            raise DicomReadError("malformed DICOM JSON (a Value is not an array)")
        if vr == "SQ":
            encodings = self.encodings
            items = []
            for index, item in enumerate(values):
                if not isinstance(item, dict):
                    raise DicomReadError("malformed DICOM JSON (a sequence item is not an object)")
                body = self.dataset(item, f"{path}/{index}/", depth + 1)
                self.encodings = encodings  # an item's own character set ends with the item
                items.append(b"\xfe\xff\x00\xe0" + struct.pack("<L", len(body)) + body)
            return vr, b"".join(items)
        return vr, self.scalar(vr, values)

    def scalar(self, vr: str, values: list[Any]) -> bytes:
        """Return the bytes of the values of a non-sequence element."""
        if vr in NUMBER_FORMATS:
            numbers = [int(float(v)) if not _INTEGER.fullmatch(str(v)) else int(v) for v in values]
            return struct.pack("<" + NUMBER_FORMATS[vr] * len(numbers), *numbers)
        if vr in FLOAT_FORMATS:
            floats = [float(v) for v in values]
            return struct.pack("<" + FLOAT_FORMATS[vr] * len(floats), *floats)
        if vr == "AT":
            tags = [int(str(v), 16) for v in values]
            return b"".join(struct.pack("<HH", t >> 16, t & 0xFFFF) for t in tags)
        if vr in BINARY_VRS:  # a Value array of numbers for OB/OW is not in the standard
            raise DicomReadError(f"malformed DICOM JSON (a {vr} value must be binary)")
        parts = [self.text(vr, value) for value in values]
        return _pad(b"\\".join(parts), vr)

    def text(self, vr: str, value: object) -> bytes:
        """Return one text value encoded as the file would have it."""
        if vr in ("DS", "IS"):
            return format_number(vr, value).encode("ascii", "replace")
        if vr == "PN":
            return self.person_name(value)
        if value is None:
            return b""
        if isinstance(value, dict | list):
            raise DicomReadError(f"malformed DICOM JSON (a {vr} value is not text)")
        text = str(value)
        if vr in ASCII_VRS:
            return text.encode("latin-1", "replace")
        return _encode(text, self.encodings)

    def person_name(self, value: object) -> bytes:
        """Return a PN value: its alphabetic, ideographic and phonetic groups joined by '='."""
        if value is None:
            return b""
        if isinstance(value, dict):
            groups = [value.get(k) or "" for k in ("Alphabetic", "Ideographic", "Phonetic")]
            if not all(isinstance(g, str) for g in groups):
                raise DicomReadError("malformed DICOM JSON (a PN group is not text)")
            text = "=".join(groups).rstrip("=")
        elif isinstance(value, str):
            text = value
        else:
            raise DicomReadError("malformed DICOM JSON (a PN value is not an object)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return PersonName(text).encode(self.encodings)


def _encode(text: str, encodings: list[str]) -> bytes:
    """Encode text in a character set (replacement characters where it cannot)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return encode_string(text, encodings)


def _dictionary_vr(tag: int) -> str:
    """Return the VR of the data dictionary for an element whose JSON gives none (else UN)."""
    if tag >> 16 & 1 or not dictionary_has_tag(tag):
        return "UN"
    listed = str(dictionary_VR(tag))
    return listed if listed in KNOWN_VRS else "UN"


def wanted_bulk_data(instance: dict[str, Any], profile: Profile) -> list[tuple[str, str]]:
    """Return the (element path, BulkDataURI) of the bulk data the reader may keep: public
    attributes the profile does not remove, and private ones it keeps (never pixel data or what
    follows it)."""
    found: list[tuple[str, str]] = []
    _collect_bulk(instance, "", profile, found, 0)
    return found


def _collect_bulk(
    dataset: dict[str, Any], path: str, profile: Profile, found: list[tuple[str, str]], depth: int
) -> None:
    if depth > MAX_DEPTH:
        return
    creators: dict[tuple[int, int], str] = {}
    for tag, key, element in _iter_elements(dataset):
        group, low = tag >> 16, tag & 0xFFFF
        if depth == 0 and (tag in PIXEL_TAGS or tag > 0x7FE00010):
            return
        if group % 2 and 0x0010 <= low <= 0x00FF:
            creators[(group, low)] = _first_text(element).strip()
        uri = element.get("BulkDataURI")
        if isinstance(uri, str):
            if group % 2:
                creator = creators.get((group, low >> 8), "") if low > 0x00FF else ""
                keep = bool(creator) and profile.private_action(creator, tag) is Action.KEEP
            else:
                keep = profile.public_action(tag, dictionary_has_tag) is not Action.REMOVE
            if keep:
                found.append((f"{path}{key}", uri))
        elif element.get("vr") == "SQ" and isinstance(element.get("Value"), list):
            for index, item in enumerate(element["Value"]):
                if isinstance(item, dict):
                    _collect_bulk(item, f"{path}{key}/{index}/", profile, found, depth + 1)


MAX_BULK_BYTES = DEFER_BYTES
"""Largest bulk data value fetched: the reader removes longer values from a file too."""

BulkFetcher = Callable[[str, int], bytes | None]
"""Fetch a BulkDataURI, at most so many bytes (None: longer, or not there)."""


def load_instance(text: str) -> Any:
    """Parse one instance's JSON text for :func:`wanted_bulk_data` (numbers kept as text)."""
    try:
        return _load(text)
    except (ValueError, RecursionError):
        return None
