"""Turn DICOM text of each VR into an RDF literal, keeping its meaning and flagging what is invalid.

DS and IS go from their text to xsd:decimal / xsd:integer (never through float); DA, DT and TM
to the XSD date/time type of the precision they have; what no XSD type holds keeps its text
with a ``vr:`` datatype. See docs/rdf-model.md for the table.
"""

from __future__ import annotations

import base64
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from app.namespaces import VR, XSD
from app.rdf.terms import literal

_DS = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_IS = re.compile(r"^[+-]?\d+$")
_DA = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TM = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$")
_AS = re.compile(r"^\d{3}[DWMY]$")
_UI = re.compile(r"^[0-9]+(\.[0-9]+)*$")
SINGLE_VALUED_TEXT = frozenset({"LT", "ST", "UT", "UR"})
INTEGER_VRS = frozenset({"IS", "US", "SS", "UL", "SL", "UV", "SV"})


def _valid_date(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def convert_one(vr: str, text: str) -> str | None:
    """Return the literal of one value, or None when the value is invalid for its VR."""
    if vr == "DS":
        if not _DS.match(text):
            return None
        if "e" in text.lower():  # exact, from the text: Decimal("1.5e1") is 15, no float
            text = format(Decimal(text), "f")
        return literal(text.lstrip("+"), XSD + "decimal")
    if vr in INTEGER_VRS:
        return literal(text.lstrip("+"), XSD + "integer") if _IS.match(text) else None
    if vr in ("FL", "FD"):
        special = {"nan": "NaN", "inf": "INF", "-inf": "-INF"}.get(text)
        try:
            float(text)
        except ValueError:
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
    return literal("\\".join(p.strip() for p in parts), VR + vr), True


_NUMERIC = {XSD + "decimal": "decimal", XSD + "integer": "decimal", XSD + "double": "double"}


def comparable(term: str) -> str:
    """Return a form of a term in which equal numbers are equal text (engines rewrite them)."""
    if not term.endswith(">") or term[0] != '"':
        return term
    text, _, datatype = term[1:-1].rpartition('"^^<')
    kind = _NUMERIC.get(datatype)
    if kind is None:
        return term
    try:
        number = Decimal(text) if kind == "decimal" else Decimal(repr(float(text)))
    except (InvalidOperation, ValueError):
        return term
    return f"{kind}:{number.normalize()}"
