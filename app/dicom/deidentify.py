"""De-identification: DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile.

The decision for each attribute comes from Table E.1-1 (``annex_e_table``) and the chosen
options, and is made once per tag, not once per file. It is an allow-list: a public attribute
reaches the store only when it is in the data dictionary and the profile keeps it; private
attributes only when listed as safe (Retain Safe Private option).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import date, timedelta
from enum import Enum
from functools import cache

from app.config import DeidOptions
from app.dicom.annex_e_table import ProfileRow, read_table


class Action(Enum):
    """What happens to one attribute."""

    KEEP = "K"
    REMOVE = "X"
    UID = "U"
    SHIFT = "S"
    CLEAN = "C"


# DICOM PS3.16 CID 7050 "De-identification Method" codes recorded in provenance.
CID_7050 = {
    "basic": "113100",  # Basic Application Confidentiality Profile
    "clean_descriptors": "113105",  # Clean Descriptors Option
    "retain_full_dates": "113106",  # Retain Longitudinal Temporal Information Full Dates Option
    "retain_modified_dates": "113107",  # Retain Longitudinal ... Modified Dates Option
    "retain_patient_characteristics": "113108",  # Retain Patient Characteristics Option
    "retain_device_identity": "113109",  # Retain Device Identity Option
    "retain_safe_private": "113111",  # Retain Safe Private Option
    "retain_institution_identity": "113112",  # Retain Institution Identity Option
}


@cache
def _table() -> tuple[dict[int, ProfileRow], tuple[ProfileRow, ...]]:
    exact: dict[int, ProfileRow] = {}
    patterns: list[ProfileRow] = []
    for row in read_table():
        if not re.fullmatch(r"[0-9a-fx]{8}", row.pattern):
            continue  # "ggggeeee where gggg is odd": private attributes, see private_action
        if "x" in row.pattern:
            patterns.append(row)
        else:
            exact[int(row.pattern, 16)] = row
    return exact, tuple(patterns)


def profile_row(tag: int) -> ProfileRow | None:
    """Return the Table E.1-1 row that governs a tag, if any."""
    exact, patterns = _table()
    row = exact.get(tag)
    if row is None:
        row = next((p for p in patterns if p.matches(tag)), None)
    return row


class Profile:
    """The Basic Profile with a set of options: decides the action for each tag."""

    def __init__(self, options: DeidOptions) -> None:
        self.options = options
        enabled = ["clean_descriptors"] if options.clean_descriptors else []
        for name in (
            "retain_patient_characteristics",
            "retain_device_identity",
            "retain_institution_identity",
        ):
            if getattr(options, name):
                enabled.append(name)
        if options.longitudinal == "full":
            enabled.append("retain_full_dates")
        elif options.longitudinal == "modified":
            enabled.append("retain_modified_dates")
        if options.keep_private:
            enabled.append("retain_safe_private")
        self.enabled = tuple(enabled)
        self._safe_private = {p.upper() for p in options.keep_private}
        self._cache: dict[int, Action] = {}

    def method_codes(self) -> list[str]:
        """Return the CID 7050 codes of the profile and the options in force."""
        return [CID_7050["basic"], *(CID_7050[o] for o in self.enabled)]

    def public_action(self, tag: int, known: Callable[[int], bool]) -> Action:
        """Return the action for a public attribute (``known``: is it in the data dictionary)."""
        action = self._cache.get(tag)
        if action is None:
            action = self._decide(tag, known(tag))
            self._cache[tag] = action
        return action

    def private_action(self, creator: str, tag: int) -> Action:
        """Return KEEP for a private attribute declared safe, else REMOVE."""
        key = f"{creator.strip()}:{tag >> 16:04X}XX{tag & 0xFF:02X}".upper()
        return Action.KEEP if key in self._safe_private else Action.REMOVE

    def _decide(self, tag: int, known: bool) -> Action:
        if tag & 0xFFFF == 0 or tag >> 16 <= 0x0002:
            return Action.REMOVE  # group lengths, command and file meta groups
        row = profile_row(tag)
        if row is None:
            return Action.KEEP if known else Action.REMOVE
        option_actions = [row.actions[o] for o in self.enabled if o in row.actions]
        if "K" in option_actions:
            return Action.KEEP
        if "C" in option_actions:
            modified = row.actions.get("retain_modified_dates") == "C"
            return (
                Action.SHIFT
                if modified and "retain_modified_dates" in self.enabled
                else Action.CLEAN
            )
        if "U" in row.actions["basic"]:
            return Action.UID
        return Action.REMOVE


class Pseudonymizer:
    """Keyed pseudonyms (HMAC-SHA256 with the site secret): the same input, the same output."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a pseudonymisation secret is required")
        self._key = secret.encode("utf-8")
        self._uids: dict[str, str] = {}

    def _digest(self, kind: str, text: str) -> bytes:
        return hmac.new(self._key, f"{kind}\x00{text}".encode(), hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """Return a pseudonymous UID (``2.25.<decimal>``, valid DICOM) for an original UID."""
        found = self._uids.get(original)
        if found is None:
            found = "2.25." + str(int.from_bytes(self._digest("uid", original)[:16], "big"))
            if len(self._uids) > 100_000:
                self._uids.clear()
            self._uids[original] = found
        return found

    def patient(self, patient_id: str, issuer: str = "") -> str:
        """Return the patient pseudonym (20 hex digits) of an original PatientID and issuer."""
        return self._digest("patient", f"{issuer}\x00{patient_id}").hex()[:20]

    def token(self, text: str) -> str:
        """Return a keyed hash of any text (40 hex digits), e.g. for sequence items."""
        return self._digest("token", text).hex()[:40]

    def date_shift(self, patient: str) -> int:
        """Return how many days this patient's dates move back (1 to 1,095, fixed per patient)."""
        return 1 + int.from_bytes(self._digest("shift", patient)[:4], "big") % 1095


_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})")


def shift_date(value: str, days: int) -> str:
    """Move the date part of a DA or DT value ``days`` back; leave other text as it is."""
    match = _DATE.match(value)
    if not match:
        return value
    try:
        moved = date(int(match[1]), int(match[2]), int(match[3])) - timedelta(days=days)
    except ValueError:
        return value
    return f"{moved:%Y%m%d}" + value[8:]


_WORD = re.compile(r"[\w'-]+", re.UNICODE)


def identifying_words(values: list[str]) -> frozenset[str]:
    """Return the words (3+ characters, lower case) of identifying values, for cleaning."""
    words: set[str] = set()
    for value in values:
        for part in _WORD.findall(value.replace("^", " ").replace("=", " ")):
            if len(part) >= 3:
                words.add(part.lower())
        compact = value.strip()
        if len(compact) >= 3:
            words.add(compact.lower())
    return frozenset(words)


def clean_text(value: str, identifying: frozenset[str]) -> str:
    """Remove identifying words and long digit runs from a descriptor (Clean Descriptors)."""

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.lower() in identifying or sum(c.isdigit() for c in word) >= 6:
            return ""
        return word

    cleaned = _WORD.sub(replace, value)
    return " ".join(cleaned.split())
