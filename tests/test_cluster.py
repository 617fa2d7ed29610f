"""Parsing on a Dask cluster: a real scheduler and two real workers on 127.0.0.1, each its own
process, and `fairdicom ingest --cluster` against them; the store must be the local ingest's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
from fairdicom.dicom.synth import write_corpus

from tests.conftest import ROOT
from tests.engine_process import EngineProcess
from tests.helpers import dataset_quads
from tests.servers import free_port, wait_until

distributed = pytest.importorskip(
    "distributed",
    reason="Dask's distributed package is not installed: pip install -e '.[test]' (or "
    "'fairdicom[cluster]')",
)

SECRET = "cluster-secret-5e0c41d9"
"""A key no log, output or store may show (the workers get it in memory only)."""
DATASET = "cluster"
DEADLINE = 120.0
"""Seconds a scheduler or worker may take to start: a last resort on a busy machine."""
SCHEDULER_LINE = r"Scheduler at:\s+(tcp://\S+)"
PROBLEM = re.compile(r"^(\S+): (.+)$", re.MULTILINE)


@dataclass
class Cluster:
    """A running Dask scheduler and its workers (processes), their logs."""

    address: str
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())


def _environment(work: Path) -> dict[str, str]:
    """Return the environment of the cluster's processes: no FAIRDICOM_* (no secret), no key
    file within reach, Dask's own configuration isolated."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAIRDICOM_", "DASK_"))}
    # The checkout too: functions of this module that a test runs on the workers are
    # pickled by reference.
    path = os.pathsep.join([str(ROOT / "app"), str(ROOT)])
    env.update(PYTHONPATH=path, DASK_CONFIG=str(work / "dask-config"))
    return env


def _start(command: list[str], work: Path, name: str, ready: str) -> EngineProcess:
    """Start ``python -m dask COMMAND`` in the cluster's environment; return once it prints
    a line that ``ready`` matches."""
    return EngineProcess.start(
        [sys.executable, "-m", "dask", *command],
        work / f"{name}.log",
        ready,
        f"the Dask {name}",
        cwd=work,
        env=_environment(work),
    )


@contextmanager
def dask_cluster(work: Path, workers: int = 2) -> Iterator[Cluster]:
    """Run ``dask scheduler`` and ``workers`` ``dask worker`` processes (one thread each, no
    nanny) on 127.0.0.1 until the block ends; wait until the scheduler sees every worker."""
    work.mkdir(parents=True, exist_ok=True)
    processes: list[EngineProcess] = []
    try:
        scheduler = _start(
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            work,
            "scheduler",
            SCHEDULER_LINE,
        )
        processes.append(scheduler)
        cluster = Cluster(scheduler.found, logs=[scheduler.log])
        for number in range(workers):
            folder = work / f"worker{number}"
            folder.mkdir()
            worker = _start(
                [
                    "worker",
                    cluster.address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(folder),
                    "--name",
                    f"w{number}",
                ],
                work,
                f"worker{number}",
                "Registered to",
            )
            processes.append(worker)
            cluster.workers.append(worker.process)
            cluster.logs.append(worker.log)
        with distributed.Client(cluster.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=DEADLINE)
        yield cluster
    finally:
        for process in reversed(processes):
            process.stop()


def _cli(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``fairdicom`` as a user would, with the test's secret and nothing else of ours."""
    config = work / "empty.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    env.update(PYTHONPATH=str(ROOT / "app"), FAIRDICOM_SECRET=SECRET, FAIRDICOM_CONFIG=str(config))
    return subprocess.run(
        [sys.executable, "-m", "fairdicom.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        check=False,
        timeout=600,
    )


def _parsing_tasks(dask_worker: distributed.Worker) -> int:
    """Run on a worker: return how many of fairdicom's parsing tasks it has run."""
    keys = {entry[0] for entry in dask_worker.state.log}
    return sum(1 for key in keys if str(key).startswith("fairdicom-parse-"))


def _problems(output: str) -> dict[str, str]:
    """Return the reported inputs of an ingest's output and their reasons."""
    return {
        path: reason
        for path, reason in PROBLEM.findall(output)
        if path.startswith(("corpus", "/")) and not path.startswith("//")
    }


@dataclass(frozen=True)
class Corpus:
    """A synthetic corpus with a zip archive, a bad file and a stray text file, and what a
    local ingest of it gave."""

    folder: Path
    identities: frozenset[str]
    local_quads: frozenset[str]
    local_problems: dict[str, str]
    local_status: int


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    work = tmp_path_factory.mktemp("cluster-corpus")
    folder = work / "corpus"
    write_corpus(folder, patients=16, seed=3)
    files = sorted(folder.rglob("*.dcm"))
    identities = set()
    for path in files:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        identities |= {str(header.PatientName), str(header.PatientID)}
    with zipfile.ZipFile(folder / "patient0002.zip", "w") as archive:
        for path in sorted((folder / "patient0002").rglob("*.dcm")):
            archive.write(path, path.relative_to(folder).as_posix())
    shutil.rmtree(folder / "patient0002")
    (folder / "truncated.dcm").write_bytes(files[0].read_bytes()[:700])
    (folder / "notes.txt").write_text("not DICOM\n")
    local = _cli(work, "ingest", "corpus", "--store", "local", "--dataset", DATASET, "-v")
    assert local.returncode == 1, local.stderr  # the truncated file is rejected
    return Corpus(
        folder,
        frozenset(i for i in identities if len(i) >= 4),
        frozenset(dataset_quads(work / "local")),
        _problems(local.stderr),
        local.returncode,
    )


def test_a_cluster_ingest_gives_the_local_store(corpus: Corpus, tmp_path: Path) -> None:
    shutil.copytree(corpus.folder, tmp_path / "corpus")
    with dask_cluster(tmp_path / "dask") as cluster:
        done = _cli(
            tmp_path,
            "ingest",
            "corpus",
            "--store",
            "remote-parsed",
            "--dataset",
            DATASET,
            "-v",
            "--cluster",
            cluster.address,
        )
        with distributed.Client(cluster.address, timeout=30, set_as_default=False) as client:
            ran = client.run(_parsing_tasks)
    assert done.returncode == corpus.local_status, done.stderr
    assert "Traceback" not in done.stderr
    assert dataset_quads(tmp_path / "remote-parsed") == corpus.local_quads
    # Rejected and skipped inputs: the same names, the same fixed reasons as locally.
    problems = _problems(done.stderr)
    assert problems == corpus.local_problems
    assert "missing" in problems["corpus/truncated.dcm"]
    assert "not a DICOM file" in problems["corpus/notes.txt"]
    # Both workers parsed; none needed the key on disk, and no log shows it or a patient.
    assert len(ran) == 2 and all(count > 0 for count in ran.values()), ran
    for text in (cluster.log_text(), done.stdout, done.stderr):
        assert SECRET not in text
        assert not [name for name in corpus.identities if name in text]


def test_a_worker_lost_mid_task_costs_nothing(corpus: Corpus, tmp_path: Path) -> None:
    shutil.copytree(corpus.folder, tmp_path / "corpus")
    config = tmp_path / "empty.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    env.update(PYTHONPATH=str(ROOT / "app"), FAIRDICOM_SECRET=SECRET, FAIRDICOM_CONFIG=str(config))
    errors = tmp_path / "ingest.err"
    with dask_cluster(tmp_path / "dask") as cluster, errors.open("wb") as err:
        command = ["ingest", "corpus", "--store", "remote-parsed", "--dataset", DATASET, "-v"]
        ingest = subprocess.Popen(
            [sys.executable, "-m", "fairdicom.cli", *command, "--cluster", cluster.address],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=tmp_path,
        )
        try:
            with distributed.Client(cluster.address, timeout=30, set_as_default=False) as client:
                workers = client.scheduler_info()["workers"]
                victim = next(address for address, w in workers.items() if w["name"] == "w0")

                def holds_a_task() -> bool:
                    if ingest.poll() is not None:
                        pytest.fail("the ingest ended before a worker could be killed mid-task")
                    return any(
                        str(key).startswith("fairdicom-parse-")
                        for key in client.processing([victim]).get(victim, ())
                    )

                wait_until(holds_a_task, "a worker holds a parsing task", DEADLINE)
                cluster.workers[0].kill()  # SIGKILL: no goodbye to the scheduler
                ingest.wait(timeout=600)
                survivors = client.scheduler_info()["workers"]
        finally:
            if ingest.poll() is None:
                ingest.kill()
                ingest.wait()
    output = errors.read_text()
    assert victim not in survivors and len(survivors) == 1
    assert ingest.returncode == corpus.local_status, output
    assert "Traceback" not in output
    assert _problems(output) == corpus.local_problems
    assert dataset_quads(tmp_path / "remote-parsed") == corpus.local_quads


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    done = _cli(
        tmp_path, "ingest", str(ROOT / "data" / "sample"), "--store", "s", "--cluster", address
    )
    assert done.returncode == 2
    assert f"cannot reach the Dask scheduler at {address}" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_distributed_the_error_says_what_to_install(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "distributed"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('distributed is not installed')\n")
    config = tmp_path / "empty.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    env.update(
        PYTHONPATH=f"{tmp_path / 'shadow'}{os.pathsep}{ROOT / 'app'}",
        FAIRDICOM_SECRET=SECRET,
        FAIRDICOM_CONFIG=str(config),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fairdicom.cli",
            "ingest",
            str(ROOT / "data" / "sample"),
            "--store",
            str(tmp_path / "s"),
            "--cluster",
            "tcp://127.0.0.1:8786",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert done.returncode == 2
    assert "pip install 'fairdicom[cluster]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_dicomweb_harvest_is_not_sent_to_a_cluster(tmp_path: Path) -> None:
    done = _cli(
        tmp_path,
        "ingest",
        "dicomweb+http://127.0.0.1:9/dicom-web",
        "--cluster",
        "tcp://127.0.0.1:8786",
    )
    assert done.returncode == 2
    assert "--cluster is for files and folders" in done.stderr


@pytest.mark.parametrize("address", ["scheduler", "tcp://127.0.0.1", "http://scheduler:8786"])
def test_a_malformed_address_is_refused(tmp_path: Path, address: str) -> None:
    done = _cli(
        tmp_path, "ingest", str(ROOT / "data" / "sample"), "--store", "s", "--cluster", address
    )
    assert done.returncode == 2
    assert f"{address!r} is not a Dask scheduler address" in done.stderr
    assert "tcp://HOST:PORT" in done.stderr
    assert "Traceback" not in done.stderr
