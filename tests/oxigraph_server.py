"""A real Oxigraph server (``oxigraph serve`` of the PyPI package ``oxigraph``) on loopback, for
the tests of the remote store; started and waited on by the line it prints once it listens."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import STARTUP_DEADLINE, free_port

READY = "Listening for requests at "
"""What ``oxigraph serve`` prints on standard error once its socket listens."""


def oxigraph_command() -> str | None:
    """Return the ``oxigraph`` program beside this Python (the venv's), or on the PATH."""
    beside = Path(sys.executable).with_name("oxigraph")
    return str(beside) if beside.exists() else shutil.which("oxigraph")


@dataclass
class OxigraphServer:
    """An ``oxigraph serve`` process on a directory, that can be killed and started again."""

    directory: Path
    log: Path
    port: int = field(default_factory=free_port)
    timeout: int = 10
    """Seconds the server lets a query run (its ``--timeout-s``): it stops it then, whether or
    not its client is still there."""
    process: subprocess.Popen[bytes] | None = None
    reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the server's base URL (``--store`` for fairdicom)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and return once it listens (the line it prints, then a connect)."""
        command = oxigraph_command()
        if command is None:
            pytest.skip("the oxigraph server is missing: pip install -e '.[test]' installs it")
        process = subprocess.Popen(
            [
                command,
                "serve",
                "--location",
                str(self.directory),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout-s",
                str(self.timeout),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        ready = threading.Event()

        def copy() -> None:
            assert process.stderr is not None
            with self.log.open("ab") as out:
                for line in process.stderr:
                    out.write(line)
                    out.flush()
                    if line.decode("utf-8", "replace").startswith(READY):
                        ready.set()
            ready.set()  # ended without listening

        self.reader = threading.Thread(target=copy, daemon=True)
        self.reader.start()
        self.process = process
        if not ready.wait(STARTUP_DEADLINE) or process.poll() is not None:
            self.stop()
            pytest.fail(f"oxigraph serve did not start:\n{self.log.read_text(errors='replace')}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=30):
            pass

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash or a power cut would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._release()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._release()

    def _release(self) -> None:
        """Wait for the ended process's output to be copied; close its pipe."""
        if self.process is None:
            return
        if self.reader is not None:
            self.reader.join(30)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None


@contextmanager
def oxigraph_serving(directory: Path) -> Iterator[OxigraphServer]:
    """Run ``oxigraph serve --location DIRECTORY`` on a free loopback port until the block ends."""
    server = OxigraphServer(directory, directory.with_name(directory.name + ".log"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
