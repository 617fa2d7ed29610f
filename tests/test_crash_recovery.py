"""A process killed with SIGKILL in the middle of an ingest leaves a store that opens, and a
re-run completes with the same content as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.store import EmbeddedStore
from tests.conftest import ROOT, run_cli
from tests.helpers import dataset_quads


def test_sigkill_mid_ingest_then_rerun_completes(corpus: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAIRDICOM_BATCH_SIZE": "5"}
    store = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "ingest", str(corpus), "--store", str(store), "-v"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    committed = 0
    deadline = time.monotonic() + 120
    assert child.stderr is not None
    while committed < 3 and time.monotonic() < deadline:
        line = child.stderr.readline()
        if not line:
            break
        committed += line.startswith("batch committed")
    assert committed == 3, "the ingest ended before it could be killed mid-way"
    os.killpg(child.pid, signal.SIGKILL)  # the command and its parsing workers
    child.wait(timeout=30)
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    opened = EmbeddedStore(str(store))  # opens (RocksDB recovers its log)
    partial = opened.quad_count()
    opened.close()
    assert partial > 0

    rerun = run_cli("ingest", str(corpus), "--store", str(store), env={"FAIRDICOM_BATCH_SIZE": "5"})
    assert rerun.returncode == 0, rerun.stderr
    clean = tmp_path / "clean"
    uninterrupted = run_cli("ingest", str(corpus), "--store", str(clean))
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    assert dataset_quads(store) == dataset_quads(clean)
