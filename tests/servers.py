"""A real `fairdicom serve` process on loopback, for the tests that talk HTTP to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"fairdicom serve exited {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"fairdicom serve did not listen within 60 s:\n{log.read_text()}")


@contextmanager
def running_server(work: Path, port: int, settings: dict[str, str]) -> Iterator[str]:
    """Run ``python -m app.cli serve`` with these settings (``store``, ``query_timeout``, ...,
    as FAIRDICOM_* variables and nothing else of the caller's); yield its base URL."""
    config = work / "fairdicom.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    env.update({f"FAIRDICOM_{name.upper()}": value for name, value in settings.items()})
    env.update(PYTHONPATH=str(ROOT), FAIRDICOM_CONFIG=str(config))
    log = work / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
            start_new_session=True,
        )
    try:
        _wait_until_listening(process, port, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
