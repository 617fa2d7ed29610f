"""Decode DICOM text in every character set of PS3.3 C.12.1.1.2, strictly.

Specific Character Set (0008,0005) may name one character set or several (code extensions,
ISO 2022 escape sequences); its first value may be empty (the default repertoire). Text is
decoded with pydicom's decoders before any de-identification decision, so that cleaning sees
the words a person would read. What cannot be decoded is ``None``: the caller removes it, it
is never kept as raw bytes or as replacement characters.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

from pydicom.charset import decode_bytes, default_encoding, python_encoding
from pydicom.multival import MultiValue

__all__ = ["CharacterSet", "character_set", "decode_text"]

STAND_ALONE = frozenset({"ISO_IR 192", "GBK", "GB18030"})
"""Character sets that allow no code extensions (PS3.3 Table C.12-5)."""
ASCII_ONLY = "ascii"
"""The encoding of a character set nobody knows: plain ASCII text only."""
_ESC = b"\x1b"
_PN_DELIMITERS = {0x5E, 0x3D, 0x5C}  # ^ = \ reset an ISO 2022 code element (PS3.5 6.1.2.5.3)
_TEXT_DELIMITERS = {0x0D, 0x0A, 0x09, 0x0C}
_VALUE_DELIMITERS = _TEXT_DELIMITERS | {0x5C}
SINGLE_VALUED = frozenset({"LT", "ST", "UT", "UR"})
ENCODINGS = {**python_encoding, "ISO_IR 203": "iso8859_15", "ISO 2022 IR 203": "iso8859_15"}
"""Python codecs of the defined terms: pydicom's, and Latin-9 (ISO_IR 203, PS3.3 Table
C.12-2), which pydicom does not know yet."""
_SPELLING = (
    (re.compile(r"ISO[ _-]?IR[ _-]?(\d+)"), "ISO_IR {}"),
    (re.compile(r"ISO[ _-]?2022[ _-]?IR[ _-]?(\d+)"), "ISO 2022 IR {}"),
)


@dataclass(frozen=True)
class CharacterSet:
    """The Python encodings of one Specific Character Set value, and the terms nobody knows."""

    encodings: tuple[str, ...]
    unknown: int = 0
    """How many terms were not recognised (their text is decoded as plain ASCII only)."""


DEFAULT = CharacterSet((default_encoding,))


def _term(text: str) -> str | None:
    """Return the defined term a (possibly misspelt) value stands for, or None."""
    term = text.strip().upper()
    if term in ENCODINGS:
        return term
    for pattern, form in _SPELLING:
        match = pattern.fullmatch(term)
        if match and form.format(match[1]) in ENCODINGS:
            return form.format(match[1])
    return None


def character_set(value: object) -> CharacterSet:
    """Return the character set of a Specific Character Set value (raw bytes or text)."""
    if value is None or value == b"" or value == "":
        return DEFAULT
    if isinstance(value, bytes):
        raw_terms = value.decode("latin-1").rstrip("\x00 ").split("\\")
    elif isinstance(value, str):
        raw_terms = value.split("\\")
    else:
        raw_terms = (
            [str(v) for v in value]
            if isinstance(value, list | tuple | MultiValue)
            else [str(value)]
        )
    encodings: list[str] = []
    unknown = 0
    for index, raw in enumerate(raw_terms):
        if not raw.strip():
            if index == 0:
                encodings.append(default_encoding)  # empty first value: the default repertoire
            continue
        term = _term(raw)
        if term is None:
            unknown += 1
            encodings.append(ASCII_ONLY)
            continue
        if term in STAND_ALONE and index > 0:
            continue  # not allowed as a code extension: ignored, as pydicom does
        encodings.append(ENCODINGS[term])
        if term in STAND_ALONE:
            break  # a stand-alone first value: further values are ignored
    return CharacterSet(tuple(encodings) or DEFAULT.encodings, unknown)


def decode_text(value: bytes, charset: CharacterSet, vr: str) -> str | None:
    """Return the text of one raw value, or None when it cannot be decoded exactly."""
    if _ESC not in value:
        try:
            return value.decode(charset.encodings[0])
        except (UnicodeDecodeError, LookupError):
            return None
    delimiters = (
        _PN_DELIMITERS
        if vr == "PN"
        else _TEXT_DELIMITERS
        if vr in SINGLE_VALUED
        else _VALUE_DELIMITERS
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            text = decode_bytes(value, list(charset.encodings), set(delimiters))
        except (UnicodeError, LookupError, ValueError):
            return None
    # pydicom falls back to replacement characters, or leaves an escape sequence it does not
    # know in the text: either way the value was not decoded.
    if "\ufffd" in text or "\x1b" in text:
        return None
    return text
