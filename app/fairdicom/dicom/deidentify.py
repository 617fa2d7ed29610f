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
from functools import cache, lru_cache

from fairdicom.config import DeidOptions
from fairdicom.dicom.annex_e_table import ProfileRow, read_table


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
        self._patients: dict[tuple[str, str], str] = {}
        self._shifts: dict[str, int] = {}

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
        key = (patient_id, issuer)
        found = self._patients.get(key)
        if found is None:
            found = self._digest("patient", f"{issuer}\x00{patient_id}").hex()[:20]
            if len(self._patients) > 10_000:
                self._patients.clear()
            self._patients[key] = found
        return found

    def token(self, text: str) -> str:
        """Return a keyed hash of any text (40 hex digits), e.g. for sequence items."""
        return self._digest("token", text).hex()[:40]

    def date_shift(self, patient: str) -> int:
        """Return how many days this patient's dates move back (1 to 1,095, fixed per patient)."""
        found = self._shifts.get(patient)
        if found is None:
            found = 1 + int.from_bytes(self._digest("shift", patient)[:4], "big") % 1095
            if len(self._shifts) > 10_000:
                self._shifts.clear()
            self._shifts[patient] = found
        return found


_SHIFTABLE = re.compile(
    r"(\d{4})\.?(\d{2})\.?(\d{2})"  # the date; ACR-NEMA wrote YYYY.MM.DD
    r"((?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?(?:[+-]\d{4})?)"  # a DT's time and offset
)


def shift_date(value: str, days: int) -> str | None:
    """Move a DA or DT value ``days`` back; return None when it holds no whole date to move.

    A value that cannot be moved (a year or a month alone, text that is not a date) cannot be
    kept either: beside the moved dates of the same patient it would give the shift away.
    """
    match = _SHIFTABLE.fullmatch(value.strip())
    if not match:
        return None
    try:
        moved = date(int(match[1]), int(match[2]), int(match[3])) - timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    return f"{moved:%Y%m%d}{match[4]}"


_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORD = re.compile(rf"(?:[^\W_]|[{_MARKS}])+")
"""A word of a descriptor: letters and digits with their combining marks. Spaces, ``_``, ``-``,
``.``, ``^`` and every other punctuation mark separate words, so ``ep2d_diff_tra_b50_800`` is
six words, none of them identifying."""
_UNSPACED = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]"
)
"""Scripts written without spaces between words (Han, kana, Hangul): a name part in them is
removed wherever it occurs, not only as a whole word."""
_DIGIT_RUN = re.compile(r"\d{6,}")
"""Identifier-like numbers: 6 or more consecutive digits (IDs, accession numbers, 19580217)."""
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:1[89]\d\d|2[01]\d\d)"
_MONTH_NAME = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE_LIKE = re.compile(
    rf"(?<!\d)(?:(?:{_DAY}[./-]{_MONTH}|{_MONTH}[./-]{_DAY})[./-]{_YEAR}"  # 17/02/1958
    r"|(?:[012]\d|3[01])[./-](?:0[1-9]|1[0-2])[./-]\d\d"  # 17.02.58
    r"|(?:0[1-9]|1[0-2])[./-](?:[012]\d|3[01])[./-]\d\d"  # 02/17/58
    rf"|{_YEAR}[./-]{_MONTH}[./-]{_DAY})(?!\d)"  # 1958-02-17
    rf"|(?<![^\W_]){_DAY}[ ./-]?{_MONTH_NAME}[ ./-]?(?:{_YEAR}|\d\d)(?![^\W_])"  # 17-FEB-1958
    rf"|(?<![^\W_]){_MONTH_NAME}[ ./-]?{_DAY}(?:st|nd|rd|th)?,?[ ./-]?{_YEAR}(?![^\W_])",
    re.IGNORECASE,
)
"""Dates as people type them (numeric day, month and year in either order, or a month name);
``19580217`` is a digit run."""
_SEPARATORS = " \t\r\n_.-^,;:/="
_GAP = re.compile(rf"[{re.escape(_SEPARATORS)}]*")
_BRACKETS = ("()", "[]", "{}", "<>")


def identifying_words(values: list[str], names: list[str] | None = None) -> frozenset[str]:
    """Return what Clean Descriptors removes, case-folded: the words of identifying values (3+
    characters), every word of the patient's ``names`` whatever its length, and each whole value
    (several words become one phrase, its words joined by one space)."""
    terms: set[str] = set()
    for value, is_name in [(v, False) for v in values] + [(n, True) for n in names or ()]:
        words = [word.casefold() for word in _WORD.findall(value)]
        terms.update(word for word in words if is_name or len(word) >= 3)
        if words and len(value.strip()) >= 3:
            terms.add(" ".join(words))
    return frozenset(terms)


def clean_text(value: str, identifying: frozenset[str]) -> str:
    """Remove identifying words and phrases, dates and 6+ digit runs from a descriptor, keeping
    the rest of it, separators included, as it was (Clean Descriptors)."""
    matcher = _matcher(identifying)
    spans = [m.span() for m in _DATE_LIKE.finditer(value)]
    spans += [m.span() for m in _DIGIT_RUN.finditer(value)]
    found = [(m.span(), m[0].casefold()) for m in _WORD.finditer(value)]
    words = [word for _, word in found]
    spans += [span for span, word in found if word in matcher.words]
    for pattern in (matcher.phrases_in(value, words), matcher.unspaced):
        if pattern is not None:
            spans += [m.span() for m in pattern.finditer(value)]
    return _cut(value, spans) if spans else value


class _Matcher:
    """The identifying words and phrases of one instance; the phrases' pattern compiled only for
    a descriptor that may hold one of them.

    Compiling the pattern costs about a millisecond, and each study has phrases of its own
    (accession and ID numbers with their prefix, names, addresses). The pattern matches whole
    words, ignoring case as ``re`` does: in a descriptor written in ASCII a phrase can only
    begin at a word that is its first word, each character replaced by the ASCII letter or
    digit it matches (:func:`_ascii_twin`; a phrase with a character that matches none cannot
    occur there). So an ASCII descriptor is searched with the pattern of the phrases whose
    first word it holds, in the pattern's order (the others match nowhere in it), and with
    nothing when there is none; any other descriptor with the pattern of every phrase.
    """

    def __init__(self, identifying: frozenset[str]) -> None:
        self.words = frozenset(term for term in identifying if " " not in term)
        self._phrases = tuple(
            sorted((term for term in identifying if " " in term), key=len, reverse=True)
        )
        self._ascii_firsts = [(p, _ascii_form(p.split(" ")[0])) for p in self._phrases]
        unspaced = sorted((w for w in self.words if _UNSPACED.search(w)), key=len, reverse=True)
        self.unspaced = re.compile("|".join(map(re.escape, unspaced))) if unspaced else None

    def phrases_in(self, value: str, words: list[str]) -> re.Pattern[str] | None:
        """Return the pattern of the phrases that ``value`` (whose case-folded words are
        ``words``) may hold, or None when it cannot hold any."""
        if not self._phrases:
            return None
        if not value.isascii():
            return _phrase_pattern(self._phrases)
        present = set(words)
        candidates = tuple(p for p, first in self._ascii_firsts if first in present)
        return _phrase_pattern(candidates) if candidates else None


_ASCII_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


@lru_cache(maxsize=4096)
def _ascii_twin(char: str) -> str | None:
    """Return the lower-case ASCII letter or digit that ``char`` matches ignoring case, as
    ``re`` matches (``\u0131`` dotless i matches ``i``; ``\u00e9`` matches none), if any."""
    if char.isascii():
        return char.lower()
    pattern = re.compile(re.escape(char), re.IGNORECASE)
    return next(
        (c for c in _ASCII_ALNUM if pattern.fullmatch(c) or pattern.fullmatch(c.upper())), None
    )


def _ascii_form(word: str) -> str | None:
    """Return the ASCII word a word matches ignoring case, or None when it matches no ASCII."""
    twins = [_ascii_twin(char) for char in word]
    return "".join(t for t in twins if t) if all(twins) else None


@lru_cache(maxsize=1024)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """Return the pattern that finds the phrases (longest first) as whole words."""
    alternatives = "|".join(r"[\W_]+".join(map(re.escape, p.split(" "))) for p in phrases)
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)


_MATCHERS: dict[frozenset[str], _Matcher] = {}


def _matcher(identifying: frozenset[str]) -> _Matcher:
    """Return the compiled matcher of a set of identifying terms (its key is the whole input)."""
    found = _MATCHERS.get(identifying)
    if found is None:
        if len(_MATCHERS) > 256:
            _MATCHERS.clear()
        found = _MATCHERS[identifying] = _Matcher(identifying)
    return found


def _cut(value: str, spans: list[tuple[int, int]]) -> str:
    """Remove the spans from a text with the separators they leave dangling."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        # Parts only separators apart go together: "Doe^John" is one cut, not two.
        if merged and (start <= merged[-1][1] or _GAP.fullmatch(value, merged[-1][1], start)):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for span in merged:  # "CT HEAD (Doe)": the brackets go with what they held
        start, end = span
        if start > 0 and end < len(value) and value[start - 1] + value[end] in _BRACKETS:
            span[0], span[1] = start - 1, end + 1
    bounds = [0, *(i for span in merged for i in span), len(value)]
    pieces = [value[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2)]
    out: list[str] = []
    trail = ""
    for i, piece in enumerate(pieces):
        start = len(piece) - len(piece.lstrip(_SEPARATORS)) if i > 0 else 0
        end = len(piece.rstrip(_SEPARATORS)) if i < len(pieces) - 1 else len(piece)
        if start >= end:
            continue
        if out:  # one separator stays where a cut was; a space rather than "_" if there was one
            seps = (trail, piece[:start])
            out.append(next((s for s in seps if s and not s.strip()), seps[0] or seps[1]))
        out.append(piece[start:end])
        trail = piece[end:]
    return "".join(out).strip()
