"""The reader's shortcuts change nothing it returns: phrases of Clean Descriptors found without
compiling their pattern are the ones the pattern finds, and a file read after others (warm
memo, plans and pseudonym caches) gives exactly the header it gives when read first."""

from __future__ import annotations

import random
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom
import pydicom.data
import pytest
from fairdicom.config import DeidOptions
from fairdicom.dicom import deidentify, limits, reader
from fairdicom.dicom.charset import character_set
from fairdicom.dicom.deidentify import Profile, Pseudonymizer, clean_text, identifying_words
from fairdicom.dicom.limits import DEFER_BYTES
from fairdicom.dicom.read_context import PHI_TAGS, _identifying_texts, _identity, raw_element
from fairdicom.dicom.reader import read_instance
from fairdicom.dicom.sources import Source
from fairdicom.dicom.synth import add_pixel_data, write_corpus
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian, generate_uid

from tests.helpers import reader_outcomes


def oracle(value: str, identifying: frozenset[str]) -> str:
    """Return the descriptor cleaned as before the shortcut: the phrases' pattern compiled
    and searched for every descriptor."""
    phrases = sorted((t for t in identifying if " " in t), key=len, reverse=True)
    singles = frozenset(t for t in identifying if " " not in t)
    spans = [m.span() for m in deidentify._DATE_LIKE.finditer(value)]
    spans += [m.span() for m in deidentify._DIGIT_RUN.finditer(value)]
    spans += [m.span() for m in deidentify._WORD.finditer(value) if m[0].casefold() in singles]
    if phrases:
        alternatives = "|".join(r"[\W_]+".join(map(re.escape, p.split(" "))) for p in phrases)
        pattern = re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)
        spans += [m.span() for m in pattern.finditer(value)]
    unspaced = sorted((w for w in singles if deidentify._UNSPACED.search(w)), key=len, reverse=True)
    if unspaced:
        spans += [m.span() for m in re.finditer("|".join(map(re.escape, unspaced)), value)]
    return deidentify._cut(value, spans) if spans else value


VALUES = [
    "Fjordvik University Hospital",
    "PID 8280054",
    "ACC-50835013",
    "Oyelaran^Drummond^Florian",
    "102 Kestrel Way 5020 Fjordvik",
    "\u0130smail K\u0131l\u0131ç Hastanesi",  # dotted and dotless i: ignored case
    "Straße der Einheit",  # ß: casefold gives "ss", the pattern does not
    "\u212aelvin Lab",  # KELVIN SIGN: casefold gives "k"
    "Jose\u0301 Mun\u0303oz",  # combining marks inside words
    "山田 太郎",
    "\u017ftation Nord",  # LONG S
    "K\u0131l\u0131c Ali",  # ASCII text matches this phrase: "KILIC ALI"
]
NAMES = ["Oyelaran^Drummond^Florian", "K\u0131l\u0131ç^\u0130smail"]
TEXTS = [
    "CT THORAX",
    "fjordvik university hospital t1",
    "FJORDVIK_UNIVERSITY-HOSPITAL",
    "pid_8280054 follow-up",
    "ACC 50835013",
    "acc50835013",
    "Oyelaran Drummond Florian",
    "drummond^florian t2",
    "ISMAIL KILIC HASTANESI",
    "KILIC ALI t1",
    "kilic_ali",
    "ismail k\u0131l\u0131ç hastanesi",
    "\u0130SMA\u0130L KILIÇ HASTANES\u0130",
    "strasse der einheit",
    "STRASSE DER EINHEIT",
    "straße der einheit",
    "kelvin lab",
    "\u212aELVIN LAB",
    "jose\u0301 mun\u0303oz",
    "JOSÉ MUÑOZ",
    "山田 太郎 CT",
    "station nord",
    "STATION NORD",
    "\u017ftation nord",
    "xfjordvik university hospital",
    "fjordvik university hospitals",
    "102 kestrel way 5020 fjordvik",
]


@pytest.mark.parametrize("text", TEXTS)
def test_clean_descriptors_finds_the_phrases_the_pattern_finds(text: str) -> None:
    identifying = identifying_words(VALUES, names=NAMES)
    assert clean_text(text, identifying) == oracle(text, identifying)


def test_random_descriptors_are_cleaned_as_with_the_pattern() -> None:
    identifying = identifying_words(VALUES, names=NAMES)
    pieces = [w for t in identifying for w in t.split(" ")] + ["ct", "t1", "\u017f", "\u212a", "ß"]
    rng = random.Random(7)
    for _ in range(3000):
        words = [rng.choice(pieces) for _ in range(rng.randint(1, 6))]
        words = [w.upper() if rng.random() < 0.3 else w for w in words]
        text = "".join(w + rng.choice([" ", "_", "-", "^", ".", "", "  ", "é"]) for w in words)
        assert clean_text(text, identifying) == oracle(text, identifying), text


def read_all(files: list[Path], shared: bool) -> list[object]:
    """Return the headers of the files, read with one warm reader or each with a new one."""
    options = DeidOptions()
    headers = []
    pseudonyms, profile = Pseudonymizer("s3cret"), Profile(options)
    for path in files:
        if not shared:
            pseudonyms, profile = Pseudonymizer("s3cret"), Profile(options)
        headers.append(read_instance(Source(path), profile, pseudonyms))
    return headers


def test_a_warm_reader_gives_the_headers_of_a_cold_one(tmp_path: Path) -> None:
    write_corpus(tmp_path, 3, seed=11)
    files = sorted(tmp_path.rglob("*.dcm"))
    assert len(files) > 40
    warm = read_all(files, shared=True)
    cold = read_all(files, shared=False)
    assert warm == cold


def _patient_file(path: Path, name: str) -> Path:
    """Write a file of the same patient, study and descriptions as its siblings, but for its
    (absurdly long) PatientName."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = "2.25.1001"
    ds.SeriesInstanceUID = "2.25.1002"
    ds.PatientID = "PID-77"
    ds.PatientName = name
    ds.Modality = "CT"
    ds.StudyDescription = "CT Zeta Follow-up"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian  # 32-bit lengths
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_name_too_long_to_read_shares_no_cleaned_descriptor(tmp_path: Path) -> None:
    """A PatientName longer than the reader reads up front (deferred) has no bytes to tell two
    files apart: the descriptor cleaned for one patient is not reused for the other, whose
    name the description holds."""
    padding = "Q" * (DEFER_BYTES + 16)
    first = _patient_file(tmp_path / "a.dcm", "Alpha^" + padding)
    second = _patient_file(tmp_path / "b.dcm", "Zeta^" + padding)
    alone = read_all([second], shared=False)[0]
    after = read_all([first, second], shared=True)[1]
    for header in (alone, after):
        described = {a.name: a.value for a in header.attrs}  # type: ignore[attr-defined]
        assert "Zeta" not in described["StudyDescription"], described["StudyDescription"]
    assert after == alone


def _words_by_pydicom(ds: Dataset) -> frozenset[str]:
    """Return the words of Clean Descriptors as before the shortcut: every identifying value
    converted by pydicom, sequence items included, and the patient's names as pydicom prints
    them."""

    def texts(value: object) -> list[str]:
        if isinstance(value, Sequence):
            return [
                t
                for item in value
                for tag in PHI_TAGS
                if tag in item
                for t in texts(item[tag].value)
            ]
        if isinstance(value, list | tuple | MultiValue):
            return [str(v) for v in value]
        return [] if value is None else [str(value)]

    values = [t for tag in PHI_TAGS if tag in ds for t in texts(ds[tag].value)]
    names = [
        str(ds.get(k) or "")
        for k in ("PatientName", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName")
    ]
    return identifying_words(values, names=names)


def _read_raw(path: Path) -> Dataset:
    """Return a file's dataset as the reader parses it, values unconverted."""
    with warnings.catch_warnings(), path.open("rb") as handle:
        warnings.simplefilter("ignore")
        return reader._parse(handle)


def _hand_built(folder: Path) -> list[Path]:
    """Write files whose identifying values take every path of the reader: several values,
    a sequence of other IDs, non-ASCII names in Latin-1, UTF-8 and ISO 2022 (Japanese), and a
    name whose bytes the declared character set cannot decode."""
    cases: list[tuple[str, dict[str, object]]] = [
        ("ISO_IR 100", {"PatientName": "Müller^Jürgen", "OtherPatientNames": ["Ærø^A", "B^Çé"]}),
        ("ISO_IR 192", {"PatientName": "Ødegård^Åse", "InstitutionName": "Hôpital Saint-Éloi"}),
        ("\\ISO 2022 IR 87", {"PatientName": "Yamada^Tarou=山田^太郎=やまだ^たろう"}),
        ("", {"PatientName": "Doe^John", "OperatorsName": ["Smith^A", "Jones^B^^Dr"]}),
    ]
    files = []
    for index, (charset, values) in enumerate(cases):
        ds = Dataset()
        if charset:
            ds.SpecificCharacterSet = charset.split("\\") if "\\" in charset else charset
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        ds.PatientID = f"PID-{index}"
        ds.AccessionNumber = "ACC 4411"
        ds.InstitutionAddress = "1 Harbour Road\\ Port 22"
        other = Dataset()
        other.PatientID = f"OLD-ID-{index}99"
        other.IssuerOfPatientID = "Lakeside"
        ds.OtherPatientIDsSequence = [other]
        path = folder / f"case{index}.dcm"
        ds.save_as(path, implicit_vr=False, little_endian=True)
        files.append(path)
    # Latin-1 bytes under UTF-8: the walk cannot decode them; pydicom reads them its way.
    broken = files[1].read_bytes().replace("Ødegård".encode(), "Ødegård".encode("latin-1") + b"  ")
    files.append(folder / "undecodable.dcm")
    files[-1].write_bytes(broken)
    return files


def test_the_words_of_clean_descriptors_are_the_ones_pydicom_gives(tmp_path: Path) -> None:
    """The identifying values are decoded from their raw bytes as the walk decodes a descriptor
    (pydicom converts only a sequence or a value it cannot decode): the words are the ones
    pydicom's conversion gives, on pydicom's test files (every character set it tests) and on
    hand-built files."""
    bundled = Path(pydicom.data.__file__).parent  # its test files and character-set files
    files = sorted(bundled.glob("*_files/**/*.dcm")) + _hand_built(tmp_path)
    compared = with_words = 0
    for path in files:
        try:
            ds = _read_raw(path)
            expected = _words_by_pydicom(_read_raw(path))
        except Exception:  # not a dataset pydicom converts: nothing to compare with
            continue
        charset = character_set(raw_element(ds, 0x00080005).value if 0x00080005 in ds else None)
        values, names = _identifying_texts(_identity(ds), ds, charset)
        assert identifying_words(values, names=names) == expected, path.name
        compared += 1
        with_words += bool(expected)
    assert compared > 90 and with_words > 50, (compared, with_words)


def test_a_header_read_from_the_first_bytes_is_the_one_read_from_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader parses a header from the first bytes of its file and reads the rest only when
    the header goes on past them: cut anywhere, the headers (and the reasons a file is not
    read) are the ones parsed from the whole file, on pydicom's test files (pixel data of
    every kind, truncated and deflated files, long private headers), synthetic files and
    files with large pixel data."""
    bundled = Path(pydicom.data.__file__).parent
    write_corpus(tmp_path / "synth", 1, seed=5)
    synthetic = sorted((tmp_path / "synth").rglob("*.dcm"))[:12]
    (tmp_path / "pixels").mkdir()
    files = sorted(bundled.glob("*_files/**/*.dcm")) + synthetic
    pixels = [
        Path(shutil.copy(f, tmp_path / "pixels" / f"{i}.dcm")) for i, f in enumerate(synthetic[:3])
    ]
    add_pixel_data(pixels, 512)
    files += pixels

    def whole(handle: limits.Readable, parse: Callable[[limits.Readable], object]) -> object:
        handle.seek(0)
        return parse(limits.header_stream(handle))

    with monkeypatch.context() as patched:
        patched.setattr(reader, "parse_header", whole)
        expected = reader_outcomes(files)
    assert sum(o.startswith("InstanceHeader") for o in expected) > 80
    for first in (140, 333, 1024, 4096, limits.FIRST_BYTES):
        monkeypatch.setattr(limits, "FIRST_BYTES", first)
        assert reader_outcomes(files) == expected, first
