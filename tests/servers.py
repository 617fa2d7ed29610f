"""A real `fairdicom serve` process on loopback, for the tests that talk HTTP to it, and waits
on processes (a line they print, a pid gone, CPU time used) instead of sleeps."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STARTUP_DEADLINE = 120.0
"""Seconds a server may take to listen: an overall deadline on a busy machine, not a bound."""
ANNOUNCEMENT = re.compile(r"^fairdicom serving .*: SPARQL (http://\S+/)sparql")
"""The line `fairdicom serve` prints once its socket listens (waitress binds before it)."""


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    """A running ``fairdicom serve``: its base URL, its pid and the file with its output."""

    url: str
    pid: int
    log: Path


class _Output(threading.Thread):
    """Copy a process's output into a log file; signal when it announces its URL or ends."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.log = log
        self.url = ""
        self.announced = threading.Event()

    def run(self) -> None:
        assert self.process.stdout is not None
        with self.log.open("wb") as out:
            for line in self.process.stdout:
                out.write(line)
                out.flush()
                found = ANNOUNCEMENT.match(line.decode("utf-8", "replace"))
                if found and not self.url:
                    self.url = found.group(1)
                    self.announced.set()
        self.announced.set()  # the process ended (or closed its output) without announcing


@contextmanager
def serving(work: Path, port: int, settings: dict[str, str]) -> Iterator[Server]:
    """Run ``python -m fairdicom.cli serve`` with these settings (``store``, ``query_timeout``, ...,
    as FAIRDICOM_* variables and nothing else of the caller's) until the block ends.

    ``port`` 0 lets the system choose a free port (no race with other processes); the server's
    output goes to ``work/server.log``, complete once the block has ended.
    """
    config = work / "fairdicom.toml"
    # Most tests read datasets that have no description (NON_PUBLIC, closed by the default
    # access control) anonymously; tests/test_access.py turns access control on. Pages whose
    # figures are computed in the background (/explore, /mappings) wait for them instead of
    # answering 202 "computing" on a loaded machine; tests/test_page_computing.py sets 0.
    config.write_text("access_control = false\npage_wait = 600\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    env.update({f"FAIRDICOM_{name.upper()}": value for name, value in settings.items()})
    env.update(PYTHONPATH=str(ROOT / "app"), FAIRDICOM_CONFIG=str(config))
    log = work / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "fairdicom.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=work,
        start_new_session=True,
    )
    output = _Output(process, log)
    output.start()
    try:
        # An event, not a poll: the line comes once the socket listens, EOF if it never will.
        if not output.announced.wait(STARTUP_DEADLINE) or not output.url:
            output.join(5)
            how = f"exited {process.poll()}" if process.poll() is not None else "is silent"
            pytest.fail(f"fairdicom serve {how} instead of listening:\n{_read(log)}")
        address = urllib.parse.urlsplit(output.url)
        with socket.create_connection((address.hostname, address.port), timeout=30):
            pass  # it listens: the kernel accepts the connection into its backlog at once
        yield Server(output.url, process.pid, log)
    finally:
        stop(process)
        output.join(30)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def running_server(work: Path, port: int, settings: dict[str, str]) -> Iterator[str]:
    """Run ``fairdicom serve`` like :func:`serving`; yield its base URL."""
    with serving(work, port, settings) as server:
        yield server.url


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session, and every process of its group."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Its query workers and forkserver are in its process group: none may outlive it.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _read(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else "(no output)"


# Waiting on processes ---------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], what: str, deadline: float = 60.0) -> None:
    """Wait until ``condition()`` holds, checking it often; fail after an overall deadline.

    For states only the kernel reports (a read, a pid gone); the deadline is a last resort on
    a busy machine, never what a test measures.
    """
    give_up = time.monotonic() + deadline
    pause = 0.001
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"waited {deadline:g} s in vain until {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def gone(pid: int) -> bool:
    """Return True when no process (zombies included) has this pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a zombie still answers kill(0) until its parent reaps it
        return _stat(pid)[0] in ("Z", "X")
    except OSError:
        return True


def group_gone(pgid: int) -> bool:
    """Return True when no live process is left in this process group (zombies aside)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                state, _, group = _stat(int(entry))
            except OSError:
                continue
            if group == pgid and state not in ("Z", "X"):
                return False
    return True


def cpu_ticks(pid: int) -> int:
    """Return the CPU time a process has used so far, in clock ticks (user and system)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def children(pid: int) -> list[int]:
    """Return the pids of a process's live children."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                state, parent, _ = _stat(int(entry))
            except OSError:
                continue
            if parent == pid and state not in ("Z", "X"):
                found.append(int(entry))
    return sorted(found)


def query_workers(server_pid: int, lane: str = "query") -> list[int]:
    """Return the pids of a server's workers of one lane (``query``: heavy queries, ``fast``,
    ``write``): the children of its forkserver that name themselves ``fairdicom-<lane>``."""
    workers: list[int] = []
    for child in children(server_pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in command:
            workers += [pid for pid in children(child) if process_name(pid) == f"fairdicom-{lane}"]
    return workers


def process_name(pid: int) -> str:
    """Return the name a process gave itself ("" when it is gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[str, int, int]:
    """Return the state, parent pid and process group of a process (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2])
