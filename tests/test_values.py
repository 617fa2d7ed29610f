"""Value conversion per VR: DICOM text to RDF literals, invalid values kept and flagged."""

from __future__ import annotations

import time

import pytest
from fairdicom.rdf.values import comparable, convert

XSD = "http://www.w3.org/2001/XMLSchema#"
VR = "https://w3id.org/fairdicom/vr#"


@pytest.mark.parametrize(
    ("vr", "text", "expected"),
    [
        ("DS", "1.50", f'"1.50"^^<{XSD}decimal>'),
        ("DS", " -0.661468 ", f'"-0.661468"^^<{XSD}decimal>'),
        ("DS", "+12", f'"12"^^<{XSD}decimal>'),
        ("DS", "1e3", f'"1000"^^<{XSD}decimal>'),
        ("DS", "1.25E-1", f'"0.125"^^<{XSD}decimal>'),
        ("DS", "0.3333333333333333333333", f'"0.3333333333333333333333"^^<{XSD}decimal>'),
        ("IS", "+12", f'"12"^^<{XSD}integer>'),
        ("IS", "-4", f'"-4"^^<{XSD}integer>'),
        ("US", "512", f'"512"^^<{XSD}integer>'),
        ("FD", "0.5", f'"0.5"^^<{XSD}double>'),
        ("FL", "nan", f'"NaN"^^<{XSD}double>'),
        ("DA", "20210304", f'"2021-03-04"^^<{XSD}date>'),
        ("TM", "123015.25", f'"12:30:15.25"^^<{XSD}time>'),
        ("TM", "123015", f'"12:30:15"^^<{XSD}time>'),
        ("TM", "1230", f'"1230"^^<{VR}TM>'),
        ("DT", "2021", f'"2021"^^<{XSD}gYear>'),
        ("DT", "202103", f'"2021-03"^^<{XSD}gYearMonth>'),
        ("DT", "20210304", f'"2021-03-04"^^<{XSD}date>'),
        ("DT", "202103041230", f'"202103041230"^^<{VR}DT>'),
        ("DT", "20210304123015.1+0100", f'"2021-03-04T12:30:15.1+01:00"^^<{XSD}dateTime>'),
        ("AS", "063Y", f'"063Y"^^<{VR}AS>'),
        ("AT", "(0018,0050)", f'"(0018,0050)"^^<{VR}AT>'),
        ("UI", "1.2.840.10008.5.1.4.1.1.2", '"1.2.840.10008.5.1.4.1.1.2"'),
        ("LO", 'say "hi"', '"say \\"hi\\""'),
        ("LT", "line one\nline two", '"line one\\nline two"'),
        ("CS", "ORIGINAL\\PRIMARY", f'"ORIGINAL\\\\PRIMARY"^^<{VR}CS>'),
        # Each number of a multi-valued DS or IS in its shortest form, as DICOM JSON gives it.
        ("DS", "0.7\\0.70", f'"0.7\\\\0.7"^^<{VR}DS>'),
        ("DS", " 1.500\\-125.000000\\-0.0\\2.5E2", f'"1.5\\\\-125\\\\0\\\\250"^^<{VR}DS>'),
        ("IS", "007\\+5", f'"7\\\\5"^^<{VR}IS>'),
        ("ST", "a\\b", '"a\\\\b"'),
    ],
)
def test_valid_values_become_typed_literals(vr: str, text: str, expected: str) -> None:
    assert convert(vr, text) == (expected, True)


@pytest.mark.parametrize(
    ("vr", "text"),
    [
        ("DS", "abc"),
        ("DS", "1,5"),
        ("IS", "1.5"),
        ("DA", "20211304"),
        ("DA", "2021.03.04"),
        ("TM", "256000"),
        ("DT", "20211301"),
        ("AS", "63Y"),
        ("UI", "1.2.abc"),
        ("DS", "0.7\\x"),
    ],
)
def test_invalid_values_are_kept_as_text_and_flagged(vr: str, text: str) -> None:
    literal, valid = convert(vr, text)
    assert not valid
    assert literal == '"' + text.replace("\\", "\\\\") + '"'


def test_binary_values_become_base64() -> None:
    assert convert("OB", b"\x00\x01") == (f'"AAE="^^<{XSD}base64Binary>', True)


def test_comparable_equates_numbers_written_differently() -> None:
    assert comparable(f'"5.000000"^^<{XSD}decimal>') == comparable(f'"5"^^<{XSD}decimal>')
    assert comparable(f'"1e3"^^<{XSD}double>') == comparable(f'"1000"^^<{XSD}double>')
    assert comparable(f'"5"^^<{XSD}decimal>') != comparable(f'"5.1"^^<{XSD}decimal>')
    assert comparable('"5"') == '"5"'


@pytest.mark.parametrize(
    ("vr", "text"),
    [
        ("DS", "1E999999999"),  # a valid 11-character DS: a billion digits once expanded
        ("DS", "1E20000000"),  # 20 MB once expanded
        ("DS", "1" * 10_000),  # a 10,000-digit decimal
        ("DS", "0." + "3" * 10_000),
        ("DS", "-1e-999999999"),
        ("IS", "9" * 10_000),
        ("FD", "1" * 10_000),
    ],
)
def test_huge_numbers_are_flagged_quickly_with_a_bounded_literal(vr: str, text: str) -> None:
    started = time.perf_counter()
    literal, valid = convert(vr, text)
    elapsed = time.perf_counter() - started
    assert not valid
    assert literal == f'"{text}"'  # the text as read, never expanded
    assert elapsed < 2.0  # generous: the bound is the point (1E999999999 used to exhaust memory)


def test_number_bounds_sit_at_the_double_and_64_bit_limits() -> None:
    largest, smallest = convert("DS", "1.7976931348623157E308"), convert("DS", "4.9E-324")
    assert largest[1] and smallest[1]
    assert largest[0].startswith('"17976931348623157') and len(largest[0]) < 400
    assert smallest[0].startswith('"0.000') and smallest[0].split('"')[1].endswith("49")
    assert not convert("DS", "1E309")[1] and not convert("DS", "1E-325")[1]
    assert convert("DS", "0E-999999999") == (f'"0"^^<{XSD}decimal>', True)
    assert convert("UV", str(2**64 - 1))[1] and convert("SV", str(-(2**63)))[1]
    assert not convert("UV", str(2**64))[1] and not convert("IS", str(-(2**63) - 1))[1]
    assert not convert("FD", "1_000")[1]  # float() reads it, xsd:double does not
