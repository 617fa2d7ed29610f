"""Odd inputs cost themselves only: each is reported with its path and reason, the rest goes in.

One real ``fairdicom ingest -v`` run over a folder that holds good files next to a file cut
below 132 bytes, a README, a FIFO, symbolic-link loops, a broken link, an unreadable file and
folder, a zip archive with good members and bombs, and a DICOMDIR that points outside its
folder. Then: a parsing process that is killed or hangs, and a store that cannot be written.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from fairdicom.config import load_settings
from fairdicom.dicom.sources import Source
from fairdicom.dicom.synth import write_corpus
from fairdicom.ingest import pipeline
from fairdicom.ingest.worker import FileWorker, Outcome, ParsingPool
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from tests.conftest import ROOT, SECRET, run_cli
from tests.helpers import export_text

INSTANCE_IN_SERIES = re.compile(r"^(<[^>]*/id/instance/[^>]*>) <[^>]*#inSeries> ", re.MULTILINE)


def stored_instances(store: Path) -> set[str]:
    """Return the instance IRIs the store holds (raw or quarantined), from its export."""
    return set(INSTANCE_IN_SERIES.findall(export_text(store)))


def distinct_copy(source: Path, target: Path) -> Path:
    """Write a copy of a DICOM file with new patient, study, series and instance identity."""
    ds = pydicom.dcmread(source)
    ds.PatientID = f"ODD-{target.stem}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target)
    return target


def write_dicomdir(path: Path, file_ids: list[list[str]]) -> Path:
    """Write a minimal DICOMDIR whose records reference the given file IDs."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.1.3.10")  # Media Storage Directory
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    records = []
    for parts in file_ids:
        record = Dataset()
        record.DirectoryRecordType = "IMAGE"
        record.ReferencedFileID = parts if len(parts) > 1 else parts[0]
        records.append(record)
    ds.DirectoryRecordSequence = records
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # '..' and '.' are not CS characters: on purpose
        ds.save_as(path, enforce_file_format=True)
    return path


def zip_with_bombs(path: Path, good: list[Path]) -> dict[str, str]:
    """Write a zip archive of good members and two bombs; return bomb member -> kind."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in good:
            archive.write(file, f"good/{file.name}")
        with archive.open("bomb-size.dcm", "w", force_zip64=True) as member:
            member.write(b"\0" * 128 + b"DICM")
            zeros = bytes(2**20)
            for _ in range(300):  # 300 MiB uncompressed, ~300 KiB in the archive
                member.write(zeros)
        with archive.open("bomb-ratio.dcm", "w") as member:
            member.write(b"\0" * 128 + b"DICM" + bytes(8 * 2**20))
    return {"bomb-size.dcm": "MiB uncompressed", "bomb-ratio.dcm": "zip bomb"}


def _without_file_permission_override() -> None:
    """Drop root's right to read any file, so that mode 000 means unreadable (in the child)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_cli_unprivileged(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``fairdicom`` like run_cli, as root without the right to read every file."""
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT / "app")}
    return subprocess.run(
        [sys.executable, "-m", "fairdicom.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
        preexec_fn=_without_file_permission_override if os.geteuid() == 0 else None,
    )


@dataclass
class OddRun:
    """The inputs of the run, its result and what the store holds afterwards."""

    good: list[Path]
    odd: dict[str, tuple[str, str]]
    """name -> (reported path, words the reason must contain)"""
    outside: Path
    result: subprocess.CompletedProcess[str]
    stored: set[str]
    reference: set[str]


def reason_for(result: subprocess.CompletedProcess[str], path: str) -> str:
    """Return the reasons the output gives for a path (stderr lines and summary lines)."""
    reasons = []
    for line in (result.stderr + result.stdout).splitlines():
        for prefix in (f"{path}: ", f"skipped {path}: "):
            if line.startswith(prefix):
                reasons.append(line[len(prefix) :])
    return " | ".join(reasons)


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OddRun]:
    work = tmp_path_factory.mktemp("odd-inputs")
    corpus = work / "corpus"
    write_corpus(corpus, patients=2, seed=23)
    inputs = work / "inputs"
    shutil.copytree(corpus, inputs / "good")
    good = sorted((inputs / "good").rglob("*.dcm"))
    sample = good[0].read_bytes()
    spare = sorted(corpus.rglob("*.dcm"))
    odd: dict[str, tuple[str, str]] = {}

    def add(name: str, path: Path, words: str) -> None:
        odd[name] = (str(path), words)

    (inputs / "short.dcm").write_bytes(sample[:100])
    add("short file", inputs / "short.dcm", "DICOM")
    (inputs / "README.txt").write_text("not an image\n")
    add("not DICOM", inputs / "README.txt", "not a DICOM file")
    os.mkfifo(inputs / "pipe.dcm")
    add("FIFO", inputs / "pipe.dcm", "FIFO")
    (inputs / "self.dcm").symlink_to("self.dcm")
    add("file link loop", inputs / "self.dcm", "symbolic link loop")
    (inputs / "good" / "again").symlink_to("..")
    add("folder link loop", inputs / "good" / "again", "symbolic link loop")
    (inputs / "gone.dcm").symlink_to("nowhere.dcm")
    add("broken link", inputs / "gone.dcm", "broken symbolic link")
    locked_file = distinct_copy(spare[1], inputs / "locked.dcm")
    locked_file.chmod(0)
    add("unreadable file", locked_file, "Permission denied")
    locked_folder = inputs / "locked-folder"
    distinct_copy(spare[2], locked_folder / "inside.dcm")
    locked_folder.chmod(0)
    add("unlistable folder", locked_folder, "cannot list folder: Permission denied")
    archive = inputs / "archive.zip"
    for member, words in zip_with_bombs(archive, good[:3]).items():
        add(f"zip member {member}", Path(f"{archive}!/{member}"), words)
    outside = distinct_copy(spare[3], work / "outside.dcm")
    cd = work / "cd" / "disc" / "one"
    inside = distinct_copy(spare[4], cd / "IMAGES" / "IM1")
    dicomdir = write_dicomdir(
        cd / "DICOMDIR", [["IMAGES", "IM1"], ["..", "..", "..", "outside.dcm"]]
    )
    add("DICOMDIR reference outside", cd / ".." / ".." / ".." / "outside.dcm", "outside")
    config = work / "empty.toml"
    config.write_text("")
    env = {"FAIRDICOM_SECRET": SECRET, "FAIRDICOM_CONFIG": str(config)}
    try:
        result = run_cli_unprivileged(
            "ingest", str(inputs), str(dicomdir), "-v", "--store", str(work / "store"), env=env
        )
    finally:
        locked_file.chmod(0o644)
        locked_folder.chmod(0o755)
    reference = work / "reference"
    references = run_cli("ingest", str(corpus), str(inside), "--store", str(reference), env=env)
    assert references.returncode == 0, references.stderr
    yield OddRun(
        good, odd, outside, result, stored_instances(work / "store"), stored_instances(reference)
    )


def test_the_run_ends_with_status_1_and_no_traceback(odd_run: OddRun) -> None:
    assert odd_run.result.returncode == 1, odd_run.result.stderr
    assert "Traceback" not in odd_run.result.stderr + odd_run.result.stdout


@pytest.mark.parametrize(
    "name",
    [
        "short file",
        "not DICOM",
        "FIFO",
        "file link loop",
        "folder link loop",
        "broken link",
        "unreadable file",
        "unlistable folder",
        "zip member bomb-size.dcm",
        "zip member bomb-ratio.dcm",
        "DICOMDIR reference outside",
    ],
)
def test_an_odd_input_is_reported_with_its_path_and_reason(odd_run: OddRun, name: str) -> None:
    path, words = odd_run.odd[name]
    reason = reason_for(odd_run.result, path)
    assert reason, f"{name}: {path} is not in the output:\n{odd_run.result.stderr}"
    assert words in reason, f"{name}: {reason}"


def test_every_good_file_is_stored_and_nothing_from_outside(odd_run: OddRun) -> None:
    # The reference run holds the good files and the DICOMDIR's file inside its folder: the
    # same instances, and no more (outside.dcm, the locked ones and the bombs are not read).
    assert odd_run.stored == odd_run.reference
    assert len(odd_run.stored) == len(odd_run.good) + 1
    summary = re.search(r"files seen (\d+): ingested (\d+)", odd_run.result.stdout)
    assert summary is not None, odd_run.result.stdout
    assert int(summary[2]) == len(odd_run.good) + 3 + 1  # + the zip's good members + IM1


def test_skipped_inputs_are_listed_in_the_summary(odd_run: OddRun) -> None:
    listed = [line for line in odd_run.result.stdout.splitlines() if line.startswith("skipped ")]
    for name in ("not DICOM", "FIFO", "file link loop", "broken link"):
        path = odd_run.odd[name][0]
        assert any(line.startswith(f"skipped {path}: ") for line in listed), name


# --- A parsing process that is killed or never ends costs the file it held ----------------


class FragileWorker(FileWorker):
    """The real worker, except that it is killed on `*-killed.dcm` and hangs on `*-hangs.dcm`
    (what the out-of-memory killer and a parser loop do to a real worker)."""

    def __call__(self, source: Source) -> Outcome:
        if source.path.endswith("-killed.dcm"):
            os.kill(os.getpid(), signal.SIGKILL)
        if source.path.endswith("-hangs.dcm"):
            threading.Event().wait()
        return super().__call__(source)


def test_a_killed_or_hung_parsing_process_costs_only_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, patients=2, seed=29)
    files = sorted(corpus.rglob("*.dcm"))
    doomed = {
        distinct_copy(files[0], corpus / "a-killed.dcm"): "killed (SIGKILL",
        distinct_copy(files[1], corpus / "m-killed.dcm"): "killed (SIGKILL",
        distinct_copy(files[2], corpus / "q-hangs.dcm"): "longer than",
    }
    pool = functools.partial(ParsingPool, factory=FragileWorker, timeout=8.0)
    monkeypatch.setattr(pipeline, "ParsingPool", pool)
    problems: dict[str, str] = {}

    def problem(path: str, reason: str) -> None:
        problems[path] = reason

    settings = load_settings(store=str(tmp_path / "store"), workers=2)
    summary = pipeline.ingest([corpus], settings, "test", problem=problem)
    for path, words in doomed.items():
        assert words in problems.get(str(path), ""), problems
    assert summary.rejected == len(doomed) and summary.ingested == len(files)
    reference = tmp_path / "reference"
    monkeypatch.setattr(pipeline, "ParsingPool", ParsingPool)
    pipeline.ingest(files, load_settings(store=str(reference)), "test")
    assert stored_instances(tmp_path / "store") == stored_instances(reference)


def test_parsing_processes_end_when_the_ingest_is_killed(big_corpus: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app"), "FAIRDICOM_BATCH_SIZE": "20"}
    env["FAIRDICOM_WORKERS"] = "2"
    store = big_corpus.parent / "killed-store"
    command = [sys.executable, "-m", "fairdicom.cli", "ingest", str(big_corpus), "-v", "--store"]
    child = subprocess.Popen(
        [*command, str(store)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert child.stderr is not None
    while not child.stderr.readline().startswith("batch committed"):
        assert child.poll() is None, "the ingest ended before it could be killed"
    children = Path(f"/proc/{child.pid}/task/{child.pid}/children").read_text().split()
    assert children, "no parsing process"
    watches = [os.pidfd_open(int(pid)) for pid in children]
    child.kill()  # the command only: its workers are left to notice
    child.wait()
    child.stderr.close()
    try:
        for watch in watches:
            ended, _, _ = select.select([watch], [], [], 60)
            assert ended, "a parsing process outlived the ingest"
    finally:
        for watch in watches:
            os.close(watch)


# --- A store that cannot be written ends the run cleanly; a re-run completes it ----------


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (root only): a real disk that fills up during an ingest (bulk-loaded
    batches take less room than transactions did: 2 MiB now hold the whole corpus)."""
    disk = tmp_path / "disk"
    if os.geteuid() != 0 or shutil.which("mount") is None or not _mount_tmpfs(disk, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the file size limit test runs")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("big-corpus")
    write_corpus(out, patients=6, seed=31, instances_per_series=(20, 30))
    return out


def _assert_clean_store_error(result: subprocess.CompletedProcess[str], store: Path) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot write to the store {store}" in result.stderr, result.stderr


def test_a_full_disk_ends_with_a_message_and_a_rerun_completes(
    small_disk: Path, big_corpus: Path, tmp_path: Path
) -> None:
    store = small_disk / "store"
    full = run_cli("ingest", str(big_corpus), "--store", str(store))
    _assert_clean_store_error(full, store)
    assert "disk is full" in full.stderr
    remount = ["mount", "-o", "remount,size=256m", str(small_disk)]
    subprocess.run(remount, check=True)
    again = run_cli("ingest", str(big_corpus), "--store", str(store))
    assert again.returncode == 0, again.stderr
    clean = tmp_path / "clean"
    assert run_cli("ingest", str(big_corpus), "--store", str(clean)).returncode == 0
    assert stored_instances(store) == stored_instances(clean)


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_file_size_limit_ends_with_a_message_and_a_rerun_completes(
    big_corpus: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app"), "FAIRDICOM_SECRET": SECRET}
    limited = subprocess.run(
        [sys.executable, "-m", "fairdicom.cli", "ingest", str(big_corpus), "--store", str(store)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
        preexec_fn=_file_size_limit(128 * 1024),  # Python ignores SIGXFSZ: writes fail (EFBIG)
    )
    _assert_clean_store_error(limited, store)
    again = run_cli("ingest", str(big_corpus), "--store", str(store))
    assert again.returncode == 0, again.stderr
    clean = tmp_path / "clean"
    assert run_cli("ingest", str(big_corpus), "--store", str(clean)).returncode == 0
    assert stored_instances(store) == stored_instances(clean)
