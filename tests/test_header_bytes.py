"""The usual header read from its bytes in one pass is the dataset ``dcmread`` gives, element
for element, and a file that is not the usual case is left to ``dcmread``: on pydicom's test
files (every transfer syntax, truncated, deflated and odd files), the hostile files, synthetic
files with and without pixel data, all of them cut short at several lengths, and files changed
byte by byte into the cases the one pass must leave alone."""

from __future__ import annotations

import io
import shutil
import struct
import warnings
from pathlib import Path

import pydicom
import pydicom.data
import pytest
from fairdicom.dicom import header_bytes, reader
from fairdicom.dicom.header_bytes import read_explicit_little
from fairdicom.dicom.limits import DEFER_BYTES, FIRST_BYTES
from fairdicom.dicom.synth import add_pixel_data, write_corpus
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from tests import hostile
from tests.helpers import reader_outcomes

CUTS = (140, 333, 1024, 4096, FIRST_BYTES)


def _elements(ds: Dataset) -> list[tuple[object, ...]]:
    """Return a dataset's elements as read: raw ones whole, converted ones by value."""
    found: list[tuple[object, ...]] = []
    for _, element in ds.items():  # as stored: nothing converted here
        if isinstance(element, DataElement):
            found.append(("converted", element.tag, element.VR, repr(element.value)))
        else:
            found.append(tuple(element))
    return found


def _dcmread(data: bytes) -> tuple[list[tuple[object, ...]], object, object, int] | str:
    """Return what dcmread gives for the bytes (elements, encoding, character set, where it
    stopped), or the type of its error."""
    stream = io.BytesIO(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(
                stream, defer_size=DEFER_BYTES, stop_before_pixels=True, force=True
            )
        except Exception as exc:
            return type(exc).__name__
    return _elements(ds), ds.original_encoding, ds.original_character_set, stream.tell()


def _compared(data: bytes) -> bool:
    """Assert that the one pass gives what dcmread gives, when it reads the bytes at all;
    return whether it did."""
    read = read_explicit_little(data, DEFER_BYTES)
    if read is None:
        return False
    ds, end = read
    assert (_elements(ds), ds.original_encoding, ds.original_character_set, end) == _dcmread(
        data
    )
    return True


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("headers")
    bundled = Path(pydicom.data.__file__).parent
    write_corpus(folder / "synth", 2, seed=11)
    synthetic = sorted((folder / "synth").rglob("*.dcm"))
    (folder / "pixels").mkdir()
    pixels = [
        Path(shutil.copy(f, folder / "pixels" / f"{i}.dcm")) for i, f in enumerate(synthetic[:4])
    ]
    add_pixel_data(pixels, 512)
    planted = [p.path for p in hostile.build_all(folder / "hostile")]
    hostile.byte_flipped(folder / "flipped.dcm")
    hostile.deeply_nested(folder / "nested.dcm")
    found = sorted(p for p in bundled.glob("*_files/**/*") if p.is_file())
    return found + synthetic + pixels + planted + [folder / "flipped.dcm", folder / "nested.dcm"]


def test_the_one_pass_gives_what_dcmread_gives(files: list[Path]) -> None:
    read = declined = 0
    for path in files:
        data = path.read_bytes()
        for cut in (*CUTS, len(data)):
            if _compared(data[:cut]):
                read += 1
            elif cut == len(data):
                declined += 1
    # The one pass is taken on the usual files, and left to dcmread on the others (pydicom's
    # implicit VR, big endian, deflated and preamble-less files among them).
    assert read > 700 and declined > 40, (read, declined)
    synthetic = [p for p in files if "synth" in p.parts or "pixels" in p.parts]
    assert all(read_explicit_little(p.read_bytes(), DEFER_BYTES) for p in synthetic)


def _variants(data: bytes) -> dict[str, bytes]:
    """Return a usual file changed into the cases the one pass must leave to dcmread (or read
    as dcmread does)."""
    ds = pydicom.dcmread(io.BytesIO(data))
    meta_end = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    syntax = data.index(b"1.2.840.10008.1.2.1\x00")
    sequence = (  # (0040,0275) of one item, both of undefined length
        struct.pack("<HH2sHL", 0x0040, 0x0275, b"SQ", 0, 0xFFFFFFFF)
        + struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
        + struct.pack("<HH2sH", 0x0040, 0x0007, b"LO", 4)
        + b"Scan"
        + struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
        + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    )
    return {
        "trailing bytes": data + b"\x00\x00\x00",
        "a value past the end": data[:-1],
        "an unknown VR": data[:meta_end] + b"\x08\x00\x16\x00ZZ" + data[meta_end + 6 :],
        "implicit VR after an explicit meta": data[:meta_end]
        + struct.pack("<HHL", 0x0008, 0x0016, 4)
        + b"1.2\x00",
        "implicit VR little endian said": data[:syntax] + b"1.2.840.10008.1.2\x00\x00\x00"
        + data[syntax + 20 :],
        "a command set": data[:meta_end] + struct.pack("<HH2sH", 0, 0x0100, b"US", 2)
        + b"\x01\x00"
        + data[meta_end:],
        "a sequence of undefined length": data + sequence,
        "a value longer than the deferral size": data
        + struct.pack("<HH2sHL", 0x0009, 0x1010, b"OB", 0, DEFER_BYTES + 2)
        + bytes(DEFER_BYTES + 2),
        "no preamble": data[132:],
        "a group length of 3 bytes": data[:138] + b"\x03\x00" + data[140:143] + data[144:],
    }


def test_a_long_file_meta_value_is_read_and_not_remembered(tmp_path: Path) -> None:
    """The conversions of the file meta are remembered across files, short values only: a
    file meta whose lowest tag holds 1 MiB is read as dcmread reads it, and only its transfer
    syntax is remembered."""
    write_corpus(tmp_path, 1, seed=3)
    data = sorted(tmp_path.rglob("*.dcm"))[0].read_bytes()
    long_value = bytes(2**20)
    version = struct.pack("<HH2sHL", 0x0002, 0x0001, b"OB", 0, len(long_value)) + long_value
    # (0002,0000) and (0002,0001) replaced by the long (0002,0001): it is the lowest tag now
    variant = data[:132] + version + data[data.index(b"\x02\x00\x02\x00", 132) :]
    header_bytes._remembered.cache_clear()
    assert _compared(variant)
    assert header_bytes._remembered.cache_info().currsize == 1


def test_what_the_one_pass_leaves_to_dcmread(tmp_path: Path) -> None:
    write_corpus(tmp_path, 1, seed=3)
    data = sorted(tmp_path.rglob("*.dcm"))[0].read_bytes()
    assert _compared(data)
    for name, variant in _variants(data).items():
        assert not _compared(variant), name


def test_the_reader_gives_the_same_headers_either_way(
    files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """De-identified headers, and the reasons files are not read, are the same when every file
    is parsed by dcmread."""
    with monkeypatch.context() as patched:
        patched.setattr(reader, "read_explicit_little", lambda data, defer: None)
        expected = reader_outcomes(files)
    assert sum(o.startswith("InstanceHeader") for o in expected) > 100
    assert reader_outcomes(files) == expected
