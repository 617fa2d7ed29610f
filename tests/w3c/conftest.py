"""A real ``fairdicom serve`` process on loopback with a fresh store, for the W3C tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.w3c.harness import TOKEN, Server

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
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


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Start ``python -m app.cli serve`` on a free loopback port with a fresh store."""
    work = tmp_path_factory.mktemp("w3c")
    port = _free_port()
    base = f"http://127.0.0.1:{port}/"
    (work / "fairdicom.toml").write_text("")
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        FAIRDICOM_CONFIG=str(work / "fairdicom.toml"),
        FAIRDICOM_STORE=str(work / "store"),
        FAIRDICOM_SECRET="w3c-secret",
        FAIRDICOM_ADMIN_TOKEN=TOKEN,
        FAIRDICOM_BASE_IRI=base,
        FAIRDICOM_QUERY_WORKERS="1",
    )
    log = work / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
        )
    try:
        _wait_until_listening(process, port, log)
        yield Server(base, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
