"""A process forked from the ingest writes to stderr even when another thread of the ingest
held stderr's lock at the instant of the fork (the progress bar's thread, the one counting the
inputs): the child's copy of that lock would stay held for ever, and the parsing process's
file would be rejected after its timeout, or a curation process would hang the ingest.

The held lock is made for real: a thread of this process writes more than a pipe holds to
stderr, so it blocks inside the write, holding the lock, until the test drains the pipe after
the fork. multiprocessing flushes the standard streams just before it forks, which would wait
for that thread; another thread can take the lock between that flush and the fork, and the
tests stand for that by skipping the flush.
"""

from __future__ import annotations

import fcntl
import multiprocessing.util
import os
import select
import sys
import threading
from concurrent.futures import Future

import pytest
from fairdicom.config import load_settings
from fairdicom.dicom.sources import Source
from fairdicom.ingest import curator
from fairdicom.ingest.curator import CuratedBatch, CurationPool
from fairdicom.ingest.plan import BatchGraphs
from fairdicom.ingest.worker import Outcome, ParsingPool
from fairdicom.rdf.mapping import MappingSet

from tests.conftest import SECRET

SECONDS = 30.0
"""How long a forked process may take over a file or a batch before the test fails."""
MARK = "written by the forked process"


class _PrintingWorker:
    """A parsing worker that writes a line to stderr for every file."""

    def __init__(self, *_: object) -> None:
        pass

    def __call__(self, source: Source) -> Outcome:
        print(MARK, source, file=sys.stderr)
        return Outcome(str(source), skipped="written to stderr")


def _printing_curation(*_: object) -> CuratedBatch:
    print(MARK, file=sys.stderr)
    return CuratedBatch()


class HeldStderr:
    """sys.stderr made a pipe whose lock a thread holds, blocked writing to the full pipe
    (made in the test itself: pytest sets sys.stderr again between a fixture and its test)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._read_end, write_end = os.pipe()
        self._stream = open(write_end, "w", buffering=1)  # noqa: SIM115 - closed in text()
        self._stderr = sys.stderr
        monkeypatch.setattr(sys, "stderr", self._stream)
        monkeypatch.setattr(multiprocessing.util, "_flush_std_streams", lambda: None)
        capacity = fcntl.fcntl(self._read_end, fcntl.F_GETPIPE_SZ)
        self._writer = threading.Thread(
            target=self._stream.write, args=("x" * 2 * capacity + "\n",), daemon=True
        )
        self._writer.start()
        # Data in the pipe: the thread is inside its write, which holds the stream's lock until
        # all of it is written, and the pipe holds half of it at most.
        if not select.select([self._read_end], [], [], SECONDS)[0]:
            pytest.fail("the thread wrote nothing")
        self._read: list[bytes] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)

    def _drain(self) -> None:
        while data := os.read(self._read_end, 1 << 16):
            self._read.append(data)

    def release(self) -> None:
        """Read the pipe from now on: the thread's write ends."""
        self._reader.start()

    def text(self) -> str:
        """Return what was written to the pipe, once every process that could write has
        ended (this one's stream is closed here)."""
        self._writer.join(SECONDS)
        sys.stderr = self._stderr
        self._stream.close()
        self._reader.join(SECONDS)
        os.close(self._read_end)
        return b"".join(self._read).decode()


def test_a_parsing_process_writes_to_stderr_held_at_its_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(secret=SECRET)
    args = (settings.base_iri, SECRET, settings.deid)
    held_stderr = HeldStderr(monkeypatch)
    with ParsingPool(1, args, factory=_PrintingWorker, timeout=SECONDS) as pool:
        held_stderr.release()  # after the fork
        outcomes = list(pool.outcomes([Source("one.dcm"), Source("two.dcm")]))
    written = held_stderr.text()
    assert [(o.source, o.skipped, o.rejected) for o in outcomes] == [
        ("one.dcm", "written to stderr", ""),
        ("two.dcm", "written to stderr", ""),
    ]
    assert f"{MARK} one.dcm" in written


def test_a_curation_process_writes_to_stderr_held_at_its_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(curator, "curate_plan", _printing_curation)
    mappings = MappingSet(queries=[], version="", files=[], attributes=[])
    held_stderr = HeldStderr(monkeypatch)
    pool = CurationPool(1, mappings, BatchGraphs("urn:raw", "urn:curated", "urn:quarantine"))
    future: Future[CuratedBatch] = pool.submit(None)  # type: ignore[arg-type]
    try:
        held_stderr.release()  # after the fork
        assert future.result(timeout=SECONDS) == CuratedBatch()
    finally:
        if not future.done():  # a hung process: closing the pool would wait for it
            for process in pool._executor._processes.values():  # type: ignore[union-attr]
                process.kill()
        pool.close()
    assert MARK in held_stderr.text()
