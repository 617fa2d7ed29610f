"""Identifying values of DICOM files, found with pydicom alone (never with fairdicom's reader),
and a search for them in text and bytes that left fairdicom.

What counts as identifying (DICOM PS3.15 Annex E, with fairdicom's default options: Retain
Longitudinal Temporal Information with Modified Dates, Clean Descriptors, Retain Patient
Characteristics):

* ``profile``: the value of an attribute of Table E.1-1 whose Basic Profile action is not Keep
  (X, Z, D, U and their combinations) at any depth, file meta included. Exclusions: rows that an
  enabled option keeps (K: age, sex, size, weight...), and rows that an enabled option cleans
  (C of Clean Descriptors or Retain Patient Characteristics: a description may be stored once
  its identifying words are gone, so the whole description is not searched; the names, IDs
  and dates those words come from are), and the times and UTC offsets that Modified Dates
  asks to modify (C): dates move by whole days, so a time of day or an offset keeps its value
  (its dates are found as dates). A sequence is judged attribute by attribute: a code meaning
  inside a removed sequence is not identity.
* ``private``: text of a private attribute (Table E.1-1 "private attributes": X), numbers
  (DS, IS) aside.
* ``uid``: every UI value, in any attribute at any depth, that is not a well-known UID of the
  DICOM registry (``pydicom.uid.UID_dictionary``); UID-shaped runs in the bytes of values whose
  VR pydicom cannot tell (UN) too.
* ``date``: every DA and DT value (all dates must be shifted), as DICOM text and as
  ``YYYY-MM-DD``.

Text values count from 5 characters on (names also component by component); a value in a
non-Latin script from 2 characters (a Japanese family name is two characters long). A value is
looked for case-insensitively as a whole word or number, as text and in the bytes its file
encodes it with (ISO 2022 escapes included); dates also where letters touch them.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import gzip
import html
import logging
import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pydicom.config
import pydicom.uid
from fairdicom.dicom.annex_e_table import ProfileRow, read_table
from pydicom.charset import encode_string
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

ENABLED_OPTIONS = ("retain_modified_dates", "clean_descriptors", "retain_patient_characteristics")
"""fairdicom's default de-identification options, as columns of Table E.1-1."""
TEXT_VRS = frozenset(
    ["AE", "AS", "CS", "DS", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UR", "UT"]
)
MIN_LENGTH = 5
UID_dictionary: dict[str, tuple[str, str, str, str, str]] = pydicom.uid.UID_dictionary  # type: ignore[attr-defined]
"""The UIDs of the DICOM registry (PS3.6 Annex A): SOP classes, transfer syntaxes..."""
UID_SHAPE = re.compile(rb"(?<![0-9.])[0-2](?:\.(?:0|[1-9][0-9]*)){3,}(?![0-9.])")


@dataclass(frozen=True)
class Origin:
    """Where an identifying value was found: its kind, attribute and file."""

    kind: str
    attribute: str
    file: str


@dataclass(repr=False)
class Needle:
    """One identifying value with its search forms and where it came from."""

    value: str
    origins: set[Origin] = field(default_factory=set)
    raw: set[bytes] = field(default_factory=set)
    """The value as the file encodes it (its character set), when that differs from UTF-8."""

    def __repr__(self) -> str:
        """Name the attributes, never the value (pytest prints reprs on a terminal)."""
        return f"Needle({sorted({o.attribute for o in self.origins})})"

    @property
    def is_date(self) -> bool:
        """Return True when the value is a date (YYYYMMDD or YYYY-MM-DD)."""
        return bool(re.fullmatch(r"\d{8}|\d{4}-\d{2}-\d{2}", self.value))


@dataclass(frozen=True)
class Hit:
    """An identifying value found at a place."""

    needle: Needle
    place: str


@dataclass(repr=False)
class Identity:
    """The identifying values of a corpus, and the text the profile keeps unchanged."""

    needles: dict[str, Needle] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    files: int = 0
    unreadable: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        """Count the values, never show them (pytest prints reprs on a terminal)."""
        return f"Identity({len(self.needles)} values of {self.files} files)"

    def add(self, value: str, origin: Origin, raw: bytes = b"") -> None:
        """Record one identifying value (too short or blank values are ignored)."""
        value = value.strip(" \x00")
        if not _long_enough(value):
            return
        needle = self.needles.setdefault(value.casefold(), Needle(value))
        needle.origins.add(origin)
        raw = raw.removesuffix(b"\x1b(B")  # the return to ASCII may come later, or never
        if len(raw) >= MIN_LENGTH and raw != value.encode("utf-8"):
            needle.raw.add(raw)

    def redact(self, text: str) -> str:
        """Return a text with every identifying value in it replaced by ``<redacted>``."""
        for key in sorted(self.needles, key=len, reverse=True):
            text = re.sub(re.escape(key), "<redacted>", text, flags=re.IGNORECASE)
        return text

    def without(self, values: Iterable[str]) -> Identity:
        """Return a copy without these values (the exclusions a test documents)."""
        dropped = {v.casefold() for v in values}
        kept = {k: n for k, n in self.needles.items() if k not in dropped}
        return Identity(kept, self.kept, self.files, self.unreadable)


# Reading ------------------------------------------------------------------------------------


def _long_enough(value: str) -> bool:
    if not value.strip():
        return False
    if value.isascii():
        return len(value) >= MIN_LENGTH
    return len(value) >= 2


def _profile_rows() -> tuple[dict[int, ProfileRow], list[ProfileRow]]:
    exact: dict[int, ProfileRow] = {}
    patterns: list[ProfileRow] = []
    for row in read_table():
        if re.fullmatch(r"[0-9a-f]{8}", row.pattern):
            exact[int(row.pattern, 16)] = row
        elif re.fullmatch(r"[0-9a-fx]{8}", row.pattern):
            patterns.append(row)
    return exact, patterns


def judge(row: ProfileRow | None) -> str:
    """Return how the profile with the default options treats a row: keep, clean, shift or
    remove."""
    if row is None:
        return "keep"
    options = {o: row.actions[o] for o in ENABLED_OPTIONS if o in row.actions}
    if "K" in options.values():
        return "keep"  # an enabled option keeps it (e.g. Retain Patient Characteristics)
    if any(a == "C" for o, a in options.items() if o != "retain_modified_dates"):
        return "clean"  # a description, stored once cleaned
    if options.get("retain_modified_dates") == "C":
        return "shift"  # dates move by whole days: a time or a UTC offset keeps its value
    return "remove"  # X, Z, D, U


class _Reader:
    """Walk files with pydicom and collect what is identifying."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.exact, self.patterns = _profile_rows()

    def row(self, tag: int) -> ProfileRow | None:
        found = self.exact.get(tag)
        if found is None:
            found = next((p for p in self.patterns if p.matches(tag)), None)
        return found

    def read(self, path: Path, name: str) -> None:
        with _quiet_pydicom():
            try:
                ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
            except Exception:
                self.identity.unreadable.append(name)
                self._scan_bytes(path.read_bytes(), "(unreadable file)", name)
                return
            encodings = _encodings(ds, ["iso8859"])
            if ds.file_meta:
                self._walk(ds.file_meta, name, encodings)
            self._walk(ds, name, encodings)

    def _walk(self, ds: Dataset, name: str, encodings: list[str]) -> None:
        for tag in list(ds.keys()):
            try:
                element = ds[tag]
            except Exception:
                raw = ds.get_item(tag)
                value = getattr(raw, "value", b"")
                if isinstance(value, bytes):
                    self._scan_bytes(value, f"{int(tag):08X} (unreadable)", name)
                continue
            self._element(element, int(tag), name, encodings)

    def _element(self, element: Any, tag: int, name: str, encodings: list[str]) -> None:
        keyword = keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if element.VR == "SQ":
            for item in element.value or []:
                self._walk(item, name, _encodings(item, encodings))
            return
        value = element.value
        if isinstance(value, bytes):
            if element.VR in ("UN", "OB", "OW", "UT", "LT") or tag >> 16 & 1:
                self._scan_bytes(value, keyword, name)
            return
        texts = _texts(value)
        private = bool(tag >> 16 & 1)
        verdict = "remove" if private else judge(self.row(tag))
        if verdict == "shift":
            verdict = "keep"  # its DA and DT values are dates, found below whatever the row
        for text in texts:
            if element.VR == "UI":
                if text and text not in UID_dictionary:
                    self.identity.add(text, Origin("uid", keyword, name))
            elif element.VR in ("DA", "DT"):
                for form in date_forms(text):
                    self.identity.add(form, Origin("date", keyword, name))
            elif element.VR not in TEXT_VRS:
                continue
            elif verdict == "keep":
                if tag >> 16 >= 0x0008 and tag & 0xFFFF and keyword_for_tag(tag):
                    # Stored: not file meta, directory record, group length or unknown tag.
                    self.identity.kept.add(text.casefold())
            elif verdict == "remove" and not (private and element.VR in ("DS", "IS")):
                kind = "private" if private else "profile"
                for part in _parts(text, element.VR):
                    self.identity.add(part, Origin(kind, keyword, name), _encode(part, encodings))

    def _scan_bytes(self, data: bytes, keyword: str, name: str) -> None:
        for match in UID_SHAPE.finditer(data):
            text = match.group(0).decode("ascii")
            if len(text) >= 10 and text not in UID_dictionary:
                self.identity.add(text, Origin("uid", keyword, name))


@contextmanager
def _quiet_pydicom() -> Iterator[None]:
    """Read without validating, warning or logging: pydicom's messages quote values."""
    logger = logging.getLogger("pydicom")
    settings = pydicom.config.settings
    was = logger.disabled, settings.reading_validation_mode
    logger.disabled, settings.reading_validation_mode = True, pydicom.config.IGNORE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.disabled, settings.reading_validation_mode = was


def _encodings(ds: Dataset, outer: list[str]) -> list[str]:
    """Return the Python encodings of a dataset's or item's character set (else its parent's)."""
    if "SpecificCharacterSet" not in ds:
        return outer
    try:
        charset = ds.SpecificCharacterSet
        terms = [charset] if isinstance(charset, str) else list(charset or [])
        return list(pydicom.charset.convert_encodings(terms or ["ISO_IR 6"]))
    except Exception:
        return outer


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | MultiValue):
        return [str(v) for v in value if v is not None and str(v) != ""]
    return [str(value)]


def _parts(text: str, vr: str) -> list[str]:
    """Return a value and, for names, each component group and component."""
    parts = [text]
    if vr == "PN":
        for group in text.split("="):
            parts.append(group)
            parts += group.split("^")
    return parts


def _encode(text: str, encodings: list[str]) -> bytes:
    try:
        return encode_string(text, encodings)
    except Exception:
        return b""


def date_forms(text: str) -> list[str]:
    """Return a DA or DT value as stored (DICOM) and its date as YYYYMMDD and YYYY-MM-DD."""
    forms = [text]
    match = re.match(r"(\d{4})\.?(\d{2})\.?(\d{2})", text)
    if match:
        forms += ["".join(match.groups()), "-".join(match.groups())]
    return forms


def read_corpus(files: Iterable[tuple[Path, str]]) -> Identity:
    """Collect the identifying values of these files (path, name for reports) with pydicom."""
    identity = Identity()
    reader = _Reader(identity)
    for path, name in files:
        identity.files += 1
        reader.read(path, name)
    # A value that an attribute the profile keeps holds in the corpus as well is no leak.
    for key in [k for k in identity.needles if _in_kept(k, identity.kept)]:
        del identity.needles[key]
    return identity


def _in_kept(value: str, kept: set[str]) -> bool:
    return any(find(text, value) for text in kept)


# Searching ----------------------------------------------------------------------------------


def _boundary(char: str, uid: bool) -> bool:
    if uid and char == ".":
        return False
    return not (char.isascii() and char.isalnum())


def find(haystack: str, needle: str) -> bool:
    """Return True when ``needle`` (lower case) is in ``haystack`` as a whole word or number."""
    text = haystack.casefold()
    return next(_positions(text, needle), None) is not None


def _positions(text: str, needle: str) -> Iterator[int]:
    uid = bool(re.fullmatch(r"[0-9.]+", needle))
    date = bool(re.fullmatch(r"\d{8}|\d{4}-\d{2}-\d{2}", needle))
    start = text.find(needle)
    while start >= 0:
        end = start + len(needle)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if date:  # a date may touch letters (2004-08-26T10:00, Study_20040826)
            ok = not before.isdigit() and not after.isdigit()
        else:
            ok = (not needle[0].isalnum() or _boundary(before, uid)) and (
                not needle[-1].isalnum() or _boundary(after, uid)
            )
        if ok:
            yield start
        start = text.find(needle, start + 1)


def text_forms(text: str) -> list[str]:
    """Return a text and the decodings a leak might hide behind (HTML entities, ISO 2022)."""
    forms = [text]
    unescaped = html.unescape(text)
    if unescaped != text:
        forms.append(unescaped)
    if "\\u" in text or "\\U" in text:
        forms.append(_unescape(text))
    if "\x1b" in text:
        forms.append(iso2022(text.encode("latin-1", "replace")))
    return forms


def byte_forms(data: bytes) -> list[str]:
    """Return bytes read as Latin-1, UTF-8 and ISO 2022 text (how a decoder might see them):
    ISO 2022 escapes read as Latin-1 and stored as UTF-8 are read through too."""
    text = data.decode("utf-8", "replace")
    forms = [data.decode("latin-1"), text]
    if b"\x1b" in data:
        forms += [iso2022(data), iso2022(text.encode("latin-1", "replace"))]
    return forms


ESCAPE_SEQUENCE = re.compile(rb"\x1b[\x20-\x2f]+[\x30-\x7e]")
TEXT_RUN = re.compile(rb"[^\x00-\x1f]*")
ISO_2022_CODECS = {
    b"\x1b$B": "iso2022_jp_2",  # ISO 2022 IR 87, JIS X 0208
    b"\x1b$@": "iso2022_jp_2",
    b"\x1b$(D": "iso2022_jp_2",  # ISO 2022 IR 159, JIS X 0212
    b"\x1b$)C": "euc_kr",  # ISO 2022 IR 149, KS X 1001 in G1
    b"\x1b$)A": "gb2312",  # ISO 2022 IR 58, GB 2312 in G1
    b"\x1b)I": "shift_jis",  # ISO 2022 IR 13, JIS X 0201 katakana in G1
    b"\x1b(J": "latin_1",  # ISO 2022 IR 13, JIS X 0201 romaji
    b"\x1b(B": "latin_1",  # ISO 2022 IR 6, ASCII
    b"\x1b-A": "latin_1",  # ISO 2022 IR 100
    b"\x1b-B": "iso8859_2",  # ISO 2022 IR 101
    b"\x1b-C": "iso8859_3",  # ISO 2022 IR 109
    b"\x1b-D": "iso8859_4",  # ISO 2022 IR 110
    b"\x1b-L": "iso8859_5",  # ISO 2022 IR 144, Cyrillic
    b"\x1b-G": "iso8859_6",  # ISO 2022 IR 127, Arabic
    b"\x1b-F": "iso8859_7",  # ISO 2022 IR 126, Greek
    b"\x1b-H": "iso8859_8",  # ISO 2022 IR 138, Hebrew
    b"\x1b-M": "iso8859_9",  # ISO 2022 IR 148, Latin 5
    b"\x1b-T": "tis_620",  # ISO 2022 IR 166, Thai
}
"""The code extensions of PS3.3 C.12.1.1.2: escape sequence -> how the text after it reads."""


def iso2022(data: bytes) -> str:
    """Return the text after each ISO 2022 escape sequence of some bytes, decoded as that
    sequence designates (Japanese, Korean, Chinese, Greek...), up to the next escape or control
    byte (a store file holds such text among binary data), one fragment a line."""
    fragments = []
    for match in ESCAPE_SEQUENCE.finditer(data):
        codec = ISO_2022_CODECS.get(match.group(0))
        run = TEXT_RUN.match(data, match.end())
        if codec is None or run is None:
            continue
        text = match.group(0) + run.group(0) if codec.startswith("iso2022") else run.group(0)
        fragments.append(text.decode(codec, "replace"))
    return "\n".join(fragments)


def search(identity: Identity, places: dict[str, str]) -> list[Hit]:
    """Return every identifying value found in these texts (place name -> text)."""
    names = list(places)
    joined = "\x00".join(places[name].casefold() for name in names)
    starts: list[int] = []
    offset = 0
    for name in names:
        starts.append(offset)
        offset += len(places[name]) + 1
    hits: list[Hit] = []
    for key, needle in identity.needles.items():
        seen: set[str] = set()
        for position in _positions(joined, key):
            place = names[bisect.bisect_right(starts, position) - 1]
            if place not in seen:
                seen.add(place)
                hits.append(Hit(needle, place))
    return hits


def search_bytes(identity: Identity, places: dict[str, bytes]) -> list[Hit]:
    """Return every identifying value found in these bytes, as text or in its file encoding."""
    texts: dict[str, str] = {}
    for name, data in places.items():
        for index, form in enumerate(byte_forms(data)):
            texts[f"{name} [{('latin-1', 'utf-8', 'iso-2022', 'utf-8 iso-2022')[index]}]"] = form
    hits = search(identity, texts)
    for needle in identity.needles.values():
        for raw in needle.raw:
            for name, data in places.items():
                if raw in data:
                    hits.append(Hit(needle, f"{name} [file encoding]"))
    return hits


def base64_literals(nquads: str) -> list[bytes]:
    """Return the decoded bytes of every xsd:base64Binary literal of an N-Quads text."""
    found = re.findall(r'"([^"]*)"\^\^<http://www\.w3\.org/2001/XMLSchema#base64Binary>', nquads)
    decoded: list[bytes] = []
    for text in found:
        try:
            decoded.append(base64.b64decode(text, validate=False))
        except (binascii.Error, ValueError):
            decoded.append(text.encode())
    return decoded


LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"(?:\^\^<([^>]*)>|@[-A-Za-z0-9]+)?')
IRI = re.compile(r"(?<![\"\\])<([^>\s]*)>")


def nquads_literals(nquads: str) -> list[tuple[str, str]]:
    """Return the lexical form (unescaped) and datatype of every literal of an N-Quads text."""
    return [(_unescape(text), datatype or "") for text, datatype in LITERAL.findall(nquads)]


def nquads_terms(nquads: str) -> list[str]:
    """Return every literal's lexical form and every IRI of an N-Quads text, unescaped."""
    terms = [text for text, _ in nquads_literals(nquads)]
    return terms + IRI.findall(LITERAL.sub(" ", nquads))


ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)
ESCAPED = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    """Undo the escapes of N-Triples, Turtle and JSON strings (``\\n``, ``\\u00e9`` ...)."""

    def one(match: re.Match[str]) -> str:
        if match[1] or match[2]:
            return chr(int(match[1] or match[2], 16))
        return ESCAPED.get(match[3], match[3])

    return ESCAPE.sub(one, text) if "\\" in text else text


# The store directory ---------------------------------------------------------------------------


def store_files(directory: Path) -> dict[str, bytes]:
    """Return every file of a store directory, and the content of its gzip files (dumps)."""
    files: dict[str, bytes] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        name = str(path.relative_to(directory))
        files[name] = data
        if path.suffix == ".gz":
            files[name + " (gunzip)"] = gzip.decompress(data)
    return files
