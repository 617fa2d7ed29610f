"""The PS3.15 Annex E profile: per-tag decisions, options, pseudonyms, date shift, cleaning."""

from __future__ import annotations

import pytest
from fairdicom.config import DeidOptions
from fairdicom.dicom.charset import character_set, decode_text
from fairdicom.dicom.deidentify import (
    Action,
    Profile,
    Pseudonymizer,
    clean_text,
    identifying_words,
    shift_date,
)
from fairdicom.dicom.vr import private_vr, public_vr
from fairdicom.dicom.well_known_uids import is_well_known

DEFAULT = Profile(DeidOptions())


def KNOWN(tag: int) -> bool:
    return True


@pytest.mark.parametrize(
    ("tag", "action"),
    [
        (0x00100010, Action.REMOVE),  # PatientName
        (0x00100020, Action.REMOVE),  # PatientID (the patient IRI carries a keyed pseudonym)
        (0x00100030, Action.REMOVE),  # PatientBirthDate
        (0x00101040, Action.REMOVE),  # PatientAddress
        (0x00080050, Action.REMOVE),  # AccessionNumber
        (0x00080080, Action.REMOVE),  # InstitutionName
        (0x00080090, Action.REMOVE),  # ReferringPhysicianName
        (0x00081010, Action.REMOVE),  # StationName
        (0x00101010, Action.KEEP),  # PatientAge: Retain Patient Characteristics
        (0x00100040, Action.KEEP),  # PatientSex
        (0x00080020, Action.SHIFT),  # StudyDate: Retain Longitudinal, Modified Dates
        (0x0008103E, Action.CLEAN),  # SeriesDescription: Clean Descriptors
        (0x00080018, Action.UID),  # SOPInstanceUID
        (0x0020000D, Action.UID),  # StudyInstanceUID
        (0x00080016, Action.KEEP),  # SOPClassUID: not in Table E.1-1
        (0x00180050, Action.KEEP),  # SliceThickness
        (0x60003000, Action.REMOVE),  # Overlay Data (repeating group 60xx)
        (0x00280000, Action.REMOVE),  # a group length
    ],
)
def test_default_profile_decides_per_tag(tag: int, action: Action) -> None:
    assert DEFAULT.public_action(tag, KNOWN) is action


def test_unknown_public_attribute_is_removed() -> None:
    assert DEFAULT.public_action(0x00191234 - 0x00010000, lambda _: False) is Action.REMOVE


def test_options_change_decisions() -> None:
    strict = Profile(
        DeidOptions(
            longitudinal="remove", clean_descriptors=False, retain_patient_characteristics=False
        )
    )
    assert strict.public_action(0x00080020, KNOWN) is Action.REMOVE
    assert strict.public_action(0x0008103E, KNOWN) is Action.REMOVE
    assert strict.public_action(0x00101010, KNOWN) is Action.REMOVE
    full = Profile(DeidOptions(longitudinal="full", retain_device_identity=True))
    assert full.public_action(0x00080020, KNOWN) is Action.KEEP
    assert full.public_action(0x00081010, KNOWN) is Action.KEEP
    assert strict.method_codes() == ["113100"]
    assert set(DEFAULT.method_codes()) == {"113100", "113105", "113107", "113108"}


def test_private_attributes_kept_only_when_declared_safe() -> None:
    profile = Profile(DeidOptions(keep_private=("ACME 1.1:0009xx01",)))
    assert profile.private_action("ACME 1.1", 0x00091001) is Action.KEEP
    assert profile.private_action("ACME 1.1", 0x00091002) is Action.REMOVE
    assert profile.private_action("OTHER", 0x00091001) is Action.REMOVE
    assert DEFAULT.private_action("ACME 1.1", 0x00091001) is Action.REMOVE


def test_pseudonyms_are_keyed_and_stable() -> None:
    one, same, other = Pseudonymizer("k1"), Pseudonymizer("k1"), Pseudonymizer("k2")
    uid = "1.2.826.0.1.3680043.2.1125.1.123456789"
    assert one.uid(uid) == same.uid(uid)
    assert one.uid(uid) != other.uid(uid)
    assert one.uid(uid).startswith("2.25.") and len(one.uid(uid)) <= 64
    assert "123456789" not in one.uid(uid)
    assert one.patient("PID-1") == same.patient("PID-1") != one.patient("PID-2")
    assert 1 <= one.date_shift("p") <= 1095


def test_shift_date_moves_dates_back_and_keeps_the_time() -> None:
    assert shift_date("20210304", 4) == "20210228"
    assert shift_date("20210304101500", 4) == "20210228101500"
    assert shift_date("20210304101500.123456+0100", 4) == "20210228101500.123456+0100"
    assert shift_date("1997.04.24", 1) == "19970423"  # ACR-NEMA date form


@pytest.mark.parametrize(
    "value", ["garbage", "2021", "202103", "20210230", "20210304-20210401", "20210304 Doe"]
)
def test_a_date_that_cannot_be_shifted_is_not_kept(value: str) -> None:
    # Kept unshifted beside the shifted dates of the same patient, it would give the shift away.
    assert shift_date(value, 4) is None


def test_clean_text_removes_identifying_words_and_long_numbers() -> None:
    words = identifying_words(["Doe^Jonathan", "PID-4821937", "St Mary Hospital"])
    assert clean_text("CT THORAX Doe 1.0 B70f", words) == "CT THORAX 1.0 B70f"
    assert clean_text("chest jonathan PID-4821937 follow-up", words) == "chest follow-up"
    assert clean_text("scan 20210304123", frozenset()) == "scan"


@pytest.mark.parametrize(
    ("uid", "well_known"),
    [
        ("1.2.840.10008.5.1.4.1.1.2", True),  # CT Image Storage (a SOP class)
        ("1.2.840.10008.1.2.1", True),  # Explicit VR Little Endian (a transfer syntax)
        ("1.2.840.10008.1.4.1.1", True),  # Talairach Brain Atlas (a well-known frame)
        ("2.16.840.1.113883.6.96", True),  # SNOMED CT (PS3.16 coding scheme)
        ("1.2.840.10008.2.16.4", True),  # DICOM Controlled Terminology
        ("1.2.840.10008.6.1.2", True),  # a context group (PS3.6 Table A-3)
        ("1.2.826.0.1.3680043.8.498.12345", False),  # an instance
        ("1.2.840.10008.5.1.4.1.1.2.12345", False),  # an instance under a class's root
        ("1.2.840.10008.6.1.1234567", False),
    ],
)
def test_only_registry_uids_are_well_known(uid: str, well_known: bool) -> None:
    assert is_well_known(uid) is well_known


@pytest.mark.parametrize(
    ("tag", "written", "vr"),
    [
        (0x00080018, "UN", "UI"),  # SOPInstanceUID written as UN
        (0x00080018, None, "UI"),  # implicit VR
        (0x00080018, "LO", "UI"),  # a VR that contradicts the dictionary where it decides
        (0x00100030, "LO", "DA"),  # PatientBirthDate
        (0x00081140, "UN", "SQ"),  # ReferencedImageSequence
        (0x00081140, "OB", "SQ"),
        (0x0008103E, "SH", "SH"),  # a text VR that decides nothing: the file's
        (0x00280106, None, "US"),  # SmallestImagePixelValue, US or SS
    ],
)
def test_vr_comes_from_the_attribute_not_the_encoding(
    tag: int, written: str | None, vr: str
) -> None:
    assert public_vr(tag, written) == vr


def test_signed_pixels_make_ambiguous_attributes_signed() -> None:
    assert public_vr(0x00280106, None, signed=True) == "SS"


def test_private_vr_comes_from_pydicoms_private_dictionary() -> None:
    assert private_vr("GEMS_IDEN_01", 0x000910E3, "UN") == "UI"  # Equipment UID
    assert private_vr("NOBODY KNOWS", 0x000910E3, "UN") == "UN"


def test_character_sets_are_read_from_every_form_of_the_value() -> None:
    assert character_set(b"\\ISO 2022 IR 87").encodings == ("iso8859", "iso2022_jp")
    assert character_set(["", "ISO 2022 IR 87"]) == character_set(b"\\ISO 2022 IR 87")
    assert character_set(b"ISO_IR 192\\ISO 2022 IR 87").encodings == ("UTF8",)  # stand-alone
    assert character_set(b"ISO IR 100").encodings == ("latin_1",)  # a common misspelling
    assert decode_text("Œuvre".encode("iso8859_15"), character_set(b"ISO_IR 203"), "LO") == "Œuvre"
    unknown = character_set(b"ISO_IR 999")
    assert unknown.unknown == 1 and unknown.encodings == ("ascii",)


def test_text_is_decoded_exactly_or_not_at_all() -> None:
    japanese = character_set(b"\\ISO 2022 IR 87")
    name = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    raw = (
        b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B="
        b"\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B"
    )  # PS3.5 H.3.1
    assert decode_text(raw, japanese, "PN") == name
    assert decode_text("Müller".encode("latin-1"), character_set(b"ISO_IR 100"), "PN") == "Müller"
    assert decode_text("Müller".encode("latin-1"), character_set(b"ISO_IR 192"), "PN") is None
    assert decode_text("Müller".encode(), character_set(b"ISO_IR 999"), "LO") is None
    assert decode_text(raw, character_set(b"ISO_IR 100"), "PN") is None  # escapes not declared
