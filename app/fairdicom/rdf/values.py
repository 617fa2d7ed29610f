"""Turn DICOM text of each VR into an RDF literal, keeping its meaning and flagging what is invalid.

DS and IS go from their text to xsd:decimal / xsd:integer (never through float); DA, DT and TM
to the XSD date/time type of the precision they have; what no XSD type holds keeps its text
with a ``vr:`` datatype. See docs/rdf-model.md for the table.

Every number has a size and precision bound, so that no value can be expanded into a huge
literal (``1E999999999`` is a valid 11-character DS): a DS, IS, FL or FD value of more than
64 characters (the standard allows 16 for DS, 12 for IS), a DS whose magnitude is outside the
range of an IEEE 754 double (decimal exponent from -324 to 308 once normalised), and an
integer outside the 64-bit range (-2**63 to 2**64 - 1, which holds SV and UV) are invalid:
kept as text and flagged, like any other invalid value.
"""

from __future__ import annotations

import base64
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from fairdicom.namespaces import VR, XSD
from fairdicom.rdf.terms import OBJECT_SEPARATOR, literal, parse_literal

_DS = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DS_PARTS = re.compile(r"^([+-]?[\d.]+)(?:[eE]([+-]?\d+))?$")
_IS = re.compile(r"^[+-]?\d+$")
_DA = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TM = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$")
_AS = re.compile(r"^\d{3}[DWMY]$")
_UI = re.compile(r"^[0-9]+(\.[0-9]+)*$")
SINGLE_VALUED_TEXT = frozenset({"LT", "ST", "UT", "UR"})
INTEGER_VRS = frozenset({"IS", "US", "SS", "UL", "SL", "UV", "SV"})
MAX_NUMBER_CHARS = 64
"""Longest DS, IS, FL or FD value accepted (the standard allows 16 characters for DS)."""
DECIMAL_EXPONENTS = range(-324, 309)
"""Decimal exponents of a non-zero DS once normalised (d.ddd x 10^n): IEEE 754 double range."""
INTEGER_RANGE = range(-(2**63), 2**64)
"""Integers accepted: the 64-bit range, signed (SV) and unsigned (UV)."""
_DOUBLE_SPECIALS = {"nan": "NaN", "inf": "INF", "+inf": "INF", "-inf": "-INF"}


def _valid_date(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def convert_one(vr: str, text: str) -> str | None:
    """Return the literal of one value, or None when the value is invalid for its VR."""
    if vr == "DS":
        number = _decimal(text)
        return None if number is None else literal(number, XSD + "decimal")
    if vr in INTEGER_VRS:
        if len(text) > MAX_NUMBER_CHARS or not _IS.match(text) or int(text) not in INTEGER_RANGE:
            return None
        return literal(text.lstrip("+"), XSD + "integer")
    if vr in ("FL", "FD"):
        special = _DOUBLE_SPECIALS.get(text.lower())
        if special is None and (len(text) > MAX_NUMBER_CHARS or not _DS.match(text)):
            return None
        return literal(special or text, XSD + "double")
    if vr == "DA":
        m = _DA.match(text)
        if not m or not _valid_date(*m.groups()):
            return None
        return literal(f"{m[1]}-{m[2]}-{m[3]}", XSD + "date")
    if vr == "TM":
        m = _TM.match(text)
        if not m or int(m[1]) > 23 or int(m[2] or 0) > 59 or int(m[3] or 0) > 59:
            return None
        if m[3] is None:
            return literal(text, VR + "TM")
        return literal(f"{m[1]}:{m[2]}:{m[3]}{m[4] or ''}", XSD + "time")
    if vr == "DT":
        return _datetime(text)
    if vr == "AS":
        return literal(text, VR + "AS") if _AS.match(text) else None
    if vr == "UI":
        return literal(text) if _UI.match(text) else None
    if vr == "AT":
        return literal(text, VR + "AT")
    return literal(text)


def _decimal(text: str) -> str | None:
    """Return the xsd:decimal text of a DS, or None when it is invalid or out of bounds."""
    if len(text) > MAX_NUMBER_CHARS or not _DS.match(text):
        return None
    match = _DS_PARTS.match(text)
    if match is None or match[2] is None:
        return text.lstrip("+")
    # Exact, from the text (no float): Decimal("1.5e1") is 15. The exponent is bounded
    # before the value is expanded, so "1E999999999" never becomes a billion-digit literal.
    mantissa = Decimal(match[1])
    if mantissa.is_zero():
        return "0"
    exponent = int(match[2])
    if mantissa.adjusted() + exponent not in DECIMAL_EXPONENTS:
        return None
    sign, digits, own = mantissa.as_tuple()
    if not isinstance(own, int):  # NaN or Infinity: the pattern admits neither
        return None
    return format(Decimal((sign, digits, own + exponent)), "f").lstrip("+")


def _datetime(text: str) -> str | None:
    m = _DT.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    if month and day and not _valid_date(year, month, day):
        return None
    if month and not 1 <= int(month) <= 12:
        return None
    zone = f"{offset[:3]}:{offset[3:]}" if offset else ""
    if second is not None:
        if int(hour) > 23 or int(minute) > 59 or int(second) > 59:
            return None
        value = f"{year}-{month}-{day}T{hour}:{minute}:{second}{fraction or ''}{zone}"
        return literal(value, XSD + "dateTime")
    if hour is not None:
        return literal(text, VR + "DT")
    if day is not None:
        return literal(f"{year}-{month}-{day}{zone}", XSD + "date")
    if month is not None:
        return literal(f"{year}-{month}{zone}", XSD + "gYearMonth")
    return literal(f"{year}{zone}", XSD + "gYear")


def convert(vr: str, value: str | bytes) -> tuple[str, bool]:
    """Return (literal, valid) for one attribute's value; invalid values keep their text."""
    if isinstance(value, bytes):
        return literal(base64.b64encode(value).decode("ascii"), XSD + "base64Binary"), True
    if vr in SINGLE_VALUED_TEXT or "\\" not in value:
        one = convert_one(vr, value.strip() if vr not in SINGLE_VALUED_TEXT else value)
        return (one, True) if one is not None else (literal(value), False)
    parts = value.split("\\")
    valid = all(convert_one(vr, p.strip()) is not None for p in parts if p.strip())
    if not valid:
        return literal(value), False
    return literal("\\".join(_number(vr, p.strip()) for p in parts), VR + vr), True


def _number(vr: str, text: str) -> str:
    """Return one value of a multi-valued DS or IS in its shortest form ("-125.000000" is
    "-125"), as the engine writes a single number and as DICOM JSON gives it (a JSON number):
    a file and a DICOMweb server then give the same literal. Other VRs keep their text."""
    if not text or vr not in ("DS", "IS"):
        return text
    if vr == "IS":
        return str(int(text))
    number = Decimal(_decimal(text) or text).normalize()
    return "0" if number.is_zero() else format(number, "f")


_NUMERIC = {XSD + "decimal": "decimal", XSD + "integer": "decimal", XSD + "double": "double"}


def comparable(term: str) -> str:
    """Return a form of a term in which equal numbers are equal text (engines rewrite them)."""
    if not term.endswith(">") or term[0] != '"' or OBJECT_SEPARATOR in term:
        return term  # an IRI, a plain string, or several objects
    parsed = parse_literal(term)
    kind, text = _NUMERIC.get(parsed.datatype), parsed.value
    if kind is None:
        return term
    try:
        number = Decimal(text) if kind == "decimal" else Decimal(repr(float(text)))
    except (InvalidOperation, ValueError):
        return term
    return f"{kind}:{number.normalize()}"
