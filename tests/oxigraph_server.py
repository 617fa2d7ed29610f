"""A real Oxigraph server (``oxigraph serve`` of the PyPI package ``oxigraph``) on loopback, for
the tests of the remote store; started and waited on by the line it prints once it listens."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.engine_process import EngineProcess
from tests.servers import free_port

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
    running: EngineProcess | None = None

    @property
    def url(self) -> str:
        """Return the server's base URL (``--store`` for fairdicom)."""
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, str]:
        """Return fairdicom's settings for this server beyond its URL (none: the defaults are
        Oxigraph server's endpoints)."""
        return {}

    def start(self) -> None:
        """Start the server and return once it listens (the line it prints, then a connect)."""
        command = oxigraph_command()
        if command is None:
            pytest.skip("the oxigraph server is missing: pip install -e '.[test]' installs it")
        self.running = EngineProcess.start(
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
            self.log,
            READY,
            "oxigraph serve",
        )
        with socket.create_connection(("127.0.0.1", self.port), timeout=30):
            pass

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash or a power cut would."""
        if self.running is not None:
            self.running.kill()
            self.running = None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.running is not None:
            self.running.stop()
            self.running = None


@contextmanager
def oxigraph_serving(directory: Path) -> Iterator[OxigraphServer]:
    """Run ``oxigraph serve --location DIRECTORY`` on a free loopback port until the block ends."""
    server = OxigraphServer(directory, directory.with_name(directory.name + ".log"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
