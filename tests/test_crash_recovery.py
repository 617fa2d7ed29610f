"""A process killed with SIGKILL in the middle of an ingest leaves a store that opens, and a
re-run completes with the same content as an uninterrupted run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from fairdicom.store import EmbeddedStore

from tests.conftest import ROOT, run_cli
from tests.helpers import dataset_quads
from tests.servers import group_gone, wait_until

FD = "https://w3id.org/fairdicom/ontology#"


def _assert_whole_batches(quads: set[str]) -> None:
    """Every series in the raw graph is curated, with as many instances as the raw graph
    holds: what a kill leaves is whole batches (each written all or nothing)."""
    raw: Counter[str] = Counter()
    counted: dict[str, int] = {}
    for quad in quads:
        subject, predicate, rest = quad.split(" ", 2)
        if predicate == f"<{FD}inSeries>" and rest.endswith("/raw> ."):
            raw[rest.split(" ", 1)[0]] += 1
        elif predicate == f"<{FD}numberOfInstances>" and rest.endswith("/curated> ."):
            counted[subject] = int(rest.split('"', 2)[1])
    assert raw, "nothing was written before the kill"
    assert counted == dict(raw)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def test_sigkill_mid_ingest_then_rerun_completes(corpus: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app"), "FAIRDICOM_BATCH_SIZE": "5"}
    store = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-m", "fairdicom.cli", "ingest", str(corpus), "--store", str(store), "-v"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    # Events, not time: the third "batch committed" line, then the whole process group gone.
    # The watchdog only ends a run that never gets there (its stderr then ends too).
    watchdog = threading.Timer(300, _kill_group, (child.pid,))
    watchdog.start()
    committed = 0
    assert child.stderr is not None
    try:
        for line in child.stderr:
            committed += line.startswith("batch committed")
            if committed == 3:
                break
        assert committed == 3, "the ingest ended before it could be killed mid-way"
        os.killpg(child.pid, signal.SIGKILL)  # the command and its parsing workers
    finally:
        watchdog.cancel()
    child.wait(timeout=60)
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    wait_until(lambda: group_gone(child.pid), "the killed ingest's workers are gone")

    opened = EmbeddedStore(str(store))  # opens (RocksDB recovers its log)
    partial = opened.quad_count()
    opened.close()
    assert partial > 0
    _assert_whole_batches(dataset_quads(store))

    rerun = run_cli("ingest", str(corpus), "--store", str(store), env={"FAIRDICOM_BATCH_SIZE": "5"})
    assert rerun.returncode == 0, rerun.stderr
    clean = tmp_path / "clean"
    uninterrupted = run_cli("ingest", str(corpus), "--store", str(clean))
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    assert dataset_quads(store) == dataset_quads(clean)
