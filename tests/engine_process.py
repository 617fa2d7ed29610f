"""A server process for the tests (``oxigraph serve``, ``virtuoso-t``, a Dask scheduler or
worker): its output copied to a log file, started and waited on by the line it prints once it
listens, killed or stopped as a crash or an operator would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import STARTUP_DEADLINE


@dataclass
class EngineProcess:
    """A running server process and the thread that copies its output to its log."""

    process: subprocess.Popen[bytes]
    reader: threading.Thread
    log: Path
    found: str = ""
    """What the ready line said: the pattern's first group (an address), or the whole match."""

    @classmethod
    def start(
        cls,
        command: list[str],
        log: Path,
        ready: str,
        what: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> EngineProcess:
        """Start ``command`` and return once it prints a line that the regular expression
        ``ready`` matches; fail the test with its log when it ends or stays silent instead."""
        pattern = re.compile(ready)
        found: list[str] = []
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        listening = threading.Event()

        def copy() -> None:
            assert process.stdout is not None
            with log.open("ab") as out:
                for line in process.stdout:
                    out.write(line)
                    out.flush()
                    match = pattern.search(line.decode("utf-8", "replace"))
                    if match and not found:
                        found.append(match.group(1) if pattern.groups else match.group(0))
                        listening.set()
            listening.set()  # ended without listening

        reader = threading.Thread(target=copy, daemon=True)
        reader.start()
        started = cls(process, reader, log)
        if not listening.wait(STARTUP_DEADLINE) or process.poll() is not None:
            started.stop()
            pytest.fail(f"{what} did not start:\n{log.read_text(errors='replace')}")
        started.found = found[0]
        return started

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash or a power cut would."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._release()

    def stop(self, timeout: float = 30) -> None:
        """Stop the process (SIGTERM, then SIGKILL after ``timeout`` seconds), and whatever it
        started (its process group)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait()
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._release()

    def _release(self) -> None:
        """Wait for the ended process's output to be copied; close its pipe."""
        self.reader.join(30)
        if self.process.stdout is not None:
            self.process.stdout.close()
