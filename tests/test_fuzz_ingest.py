"""Fuzz: 100 good files and 300 mutated ones in ONE ``fairdicom ingest`` run.

Mutations: byte flips, truncations (some below 132 bytes), absurd element lengths (the
BytesLengthException of (0002,0000) included), deeply nested undefined-length sequences,
hostile values, random tails, a zip bomb and a DICOMDIR that points outside its folder. Each
mutated copy gets its own patient, study, series and instance first, so a mutation that leaves
a valid file adds exactly one instance of its own. The run must end with status 1, name every
bad file it did not store, store every good instance, print no traceback, and stay within
generous bounds of time and memory. The figures are printed and written to
tests/artifacts/fuzz-ingest.txt.
"""

from __future__ import annotations

import io
import random
import re
import resource
import struct
import time
import warnings
import zipfile
from pathlib import Path

import pydicom
from fairdicom.dicom.synth import write_corpus

from tests.conftest import ROOT, run_cli
from tests.helpers import export_text
from tests.test_inputs import write_dicomdir

GOOD = 100
SECONDS = 120.0
PEAK_RSS_BYTES = 1.5 * 2**30
ARTIFACT = ROOT / "tests" / "artifacts" / "fuzz-ingest.txt"
LONG_LENGTH_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN"}
LONG_LENGTH_VRS |= {b"UR", b"UT", b"UV"}
INSTANCE = re.compile(r"^(<[^>]*/id/instance/[^>]*>) <[^>]*#inSeries> <[^>]*> <([^>]*)> \.$")


def instances_by_graph(store: Path) -> dict[str, set[str]]:
    """Return the instance IRIs of the store by named graph (raw, quarantine), from its export."""
    found: dict[str, set[str]] = {}
    for line in export_text(store).splitlines():
        match = INSTANCE.match(line)
        if match:
            found.setdefault(match[2].rsplit("/", 1)[-1], set()).add(match[1])
    return found


def reidentified(path: Path, number: int) -> bytes:
    """Return a synthetic file rewritten with a patient, study, series and instance of its own."""
    ds = pydicom.dcmread(path)
    ds.PatientID = f"FUZZ-{number:04d}"

    def uid(level: str) -> pydicom.uid.UID:  # the same on every run: mutations repeat
        return pydicom.uid.generate_uid(entropy_srcs=[f"fuzz {number} {level}"])

    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("study"), uid("series")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("instance")
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def length_fields(data: bytes) -> list[tuple[int, int]]:
    """Return (offset, size) of the length field of each top-level explicit VR LE element."""
    fields, offset = [], 132
    while offset + 8 <= len(data):
        vr = data[offset + 4 : offset + 6]
        if vr in LONG_LENGTH_VRS:
            length = struct.unpack_from("<I", data, offset + 8)[0]
            fields.append((offset + 8, 4))
            if length == 0xFFFFFFFF:
                break  # an undefined-length sequence: stop walking
            offset += 12 + length
        else:
            fields.append((offset + 6, 2))
            offset += 8 + struct.unpack_from("<H", data, offset + 6)[0]
    return fields


def nested_sequences(depth: int) -> bytes:
    """Return RequestAttributesSequence nested `depth` deep, every length undefined."""
    sequence = b"\x40\x00\x75\x02SQ\x00\x00\xff\xff\xff\xff"
    item, item_end = b"\xfe\xff\x00\xe0\xff\xff\xff\xff", b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    end = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    return (sequence + item) * depth + (item_end + end) * depth


def hostile_value(data: bytes, rng: random.Random) -> bytes:
    """Return the file with one value made absurd (huge exponent, huge number, long text)."""
    ds = pydicom.dcmread(io.BytesIO(data))
    keyword, vr, value = rng.choice(
        [
            ("SliceThickness", "DS", "1E999999999"),
            ("PatientWeight", "DS", "-9E-99999999"),
            ("InstanceNumber", "IS", "99999999999"),
            ("SeriesDescription", "LO", "x" * 65_000),
            ("ImageComments", "LT", "\x1b$B" * 20_000),
        ]
    )
    ds.add_new(keyword, vr, value)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    """Return one mutation of a valid file."""
    buffer = bytearray(data)
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            buffer[rng.randrange(len(buffer))] ^= rng.randint(1, 255)
    elif kind == "truncate":
        buffer = buffer[: rng.randrange(len(buffer))]
    elif kind == "short":
        buffer = buffer[: rng.randrange(132)]
    elif kind == "length":
        offset, size = rng.choice(length_fields(data))
        absurd = [0xFFFF, 0xFFFE, 0x7FFF, 3] if size == 2 else [0xFFFFFFF0, 0x7FFFFFFF, 0x3]
        buffer[offset : offset + size] = rng.choice(absurd).to_bytes(size, "little")
    elif kind == "group-length":  # (0002,0000) UL of 3 bytes: pydicom's BytesLengthException
        buffer[138:140] = (3).to_bytes(2, "little")
    elif kind == "nested":
        buffer += nested_sequences(rng.choice([500, 1000, 3000]))
    elif kind == "hostile":
        buffer = bytearray(hostile_value(data, rng))
    elif kind == "tail":
        cut = rng.randrange(132, len(buffer))
        buffer = buffer[:cut] + rng.randbytes(rng.randint(1, 4096))
    return bytes(buffer)


MUTATIONS = (
    ["flip"] * 80
    + ["truncate"] * 40
    + ["short"] * 12
    + ["length"] * 60
    + ["group-length"] * 8
    + ["nested"] * 30
    + ["hostile"] * 30
    + ["tail"] * 36
)


def write_bad_inputs(
    bases: list[Path], folder: Path, work: Path
) -> tuple[list[Path], list[str], Path]:
    """Write the mutated files and a zip with bombs into folder, a DICOMDIR beside it; return
    (mutated files, reported paths of the bombs and the outside reference, the DICOMDIR)."""
    rng = random.Random(7)
    folder.mkdir(parents=True)
    files = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the values we break on purpose
        for number, kind in enumerate(MUTATIONS):
            data = reidentified(bases[number % len(bases)], number)
            path = folder / f"{number:03d}-{kind}.dcm"
            path.write_bytes(mutate(data, kind, rng))
            files.append(path)
    archive = folder / "bombs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("size.dcm", "w", force_zip64=True) as member:
            member.write(b"\0" * 128 + b"DICM")
            zeros = bytes(2**20)
            for _ in range(512):  # 512 MiB of zeros after a preamble, 0.5 MiB zipped
                member.write(zeros)
        with zf.open("ratio.dcm", "w") as member:
            member.write(b"\0" * 128 + b"DICM" + bytes(16 * 2**20))
    disc = work / "disc" / "a" / "b"
    inside = disc / "IM1"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(mutate(reidentified(bases[0], 9_000), "flip", rng))
    files.append(inside)
    (work / "outside.dcm").write_bytes(reidentified(bases[1], 9_001))
    dicomdir = write_dicomdir(disc / "DICOMDIR", [["IM1"], ["..", "..", "..", "outside.dcm"]])
    reported = [f"{archive}!/size.dcm", f"{archive}!/ratio.dcm", str(disc / "../../../outside.dcm")]
    return files, reported, dicomdir


def not_ingested(output: str) -> dict[str, str]:
    """Return path -> reason for every input the output says was not ingested."""
    named: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith("skipped "):
            line = line[len("skipped ") :]
        path, sep, reason = line.partition(": ")
        if sep and not reason.startswith("warning:"):
            named.setdefault(path, reason)
    return named


def test_one_run_of_good_and_mutated_files(tmp_path: Path) -> None:
    good_corpus, base_corpus = tmp_path / "good-corpus", tmp_path / "base-corpus"
    write_corpus(good_corpus, patients=8, seed=41, instances_per_series=(3, 6))
    good = sorted(good_corpus.rglob("*.dcm"))[:GOOD]
    assert len(good) == GOOD
    bases = sorted(write_corpus(base_corpus, patients=3, seed=43).files)
    inputs = tmp_path / "inputs"
    for path in good:
        copy = inputs / "good" / path.relative_to(good_corpus)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
    bad, reported, dicomdir = write_bad_inputs(bases, inputs / "bad", tmp_path)

    # ru_maxrss of RUSAGE_CHILDREN (KiB) is the largest process among the children waited
    # for: the CLI or one of its parsing processes, unless an earlier child was larger.
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    started = time.perf_counter()
    result = run_cli("ingest", str(inputs), str(dicomdir), "-v", "--store", str(tmp_path / "s"))
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    peak = after if after > before else None

    output = result.stderr + result.stdout
    named = not_ingested(output)
    summary = re.search(r"files seen (\d+): ingested (\d+).*rejected (\d+)", result.stdout)
    assert summary is not None, output[-3000:]
    stored = instances_by_graph(tmp_path / "s")
    reference = tmp_path / "reference"
    assert run_cli("ingest", *map(str, good), "--store", str(reference)).returncode == 0
    good_instances = instances_by_graph(reference)["raw"]
    all_stored = set().union(*stored.values())
    unnamed_bad = [path for path in bad if str(path) not in named]
    figures = (
        f"files {summary[1]} (good {GOOD}, mutated {len(bad)}, zip bombs 2, outside "
        f"reference 1), rejected {summary[3]}, skipped+rejected named {len(named)}, "
        f"stored instances {len(all_stored)} (good {len(good_instances)}, from mutated files "
        f"{len(all_stored - good_instances)}), seconds {seconds:.1f}, peak RSS "
        + (f"{peak / 2**20:.0f} MiB" if peak else f"<= {before / 2**20:.0f} MiB")
    )
    print("\nfuzz ingest:", figures)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(figures + "\n")

    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    for name in reported:
        assert name in named, f"{name} not reported"
    assert good_instances <= stored["raw"], "a good instance is missing from the raw graph"
    # A mutated file that is not named went in: it adds exactly one instance of its own.
    assert len(all_stored - good_instances) == len(unnamed_bad), (unnamed_bad, named)
    assert int(summary[3]) >= len(bad) // 3  # the mutations bite
    assert seconds < SECONDS
    assert after < PEAK_RSS_BYTES or before >= PEAK_RSS_BYTES  # else: not measurable here
