"""The PS3.15 Annex E profile: per-tag decisions, options, pseudonyms, date shift, cleaning."""

from __future__ import annotations

import pytest

from app.config import DeidOptions
from app.dicom.deidentify import (
    Action,
    Profile,
    Pseudonymizer,
    clean_text,
    identifying_words,
    shift_date,
)

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


def test_shift_date_moves_dates_back_and_keeps_the_rest() -> None:
    assert shift_date("20210304", 4) == "20210228"
    assert shift_date("20210304101500", 4) == "20210228101500"
    assert shift_date("garbage", 4) == "garbage"


def test_clean_text_removes_identifying_words_and_long_numbers() -> None:
    words = identifying_words(["Doe^Jonathan", "PID-4821937", "St Mary Hospital"])
    assert clean_text("CT THORAX Doe 1.0 B70f", words) == "CT THORAX 1.0 B70f"
    assert clean_text("chest jonathan PID-4821937 follow-up", words) == "chest follow-up"
    assert clean_text("scan 20210304123", frozenset()) == "scan"
