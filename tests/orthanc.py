"""A real Orthanc with its DICOMweb plugin on loopback, for the DICOMweb harvesting tests.

Each :class:`Orthanc` has its own storage folder and generated configuration: HTTP on a free
port of 127.0.0.1, no DICOM port, no remote access, basic authentication when users are given,
and ``--verbose-http``, so that its log names every request it answered (the tests count the
WADO-RS metadata requests there: an oracle independent of fairdicom's own counts). Starting
waits on events: the log line "Orthanc has started", then ``/system`` answering.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests

from tests.servers import free_port, gone, wait_until

ORTHANC = shutil.which("Orthanc")
PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
STARTUP_DEADLINE = 120.0
MISSING = (
    "Orthanc and its DICOMweb plugin are not installed (Debian packages `orthanc` and "
    "`orthanc-dicomweb`; .ci/run installs them)"
)
needs_orthanc = pytest.mark.skipif(ORTHANC is None or not PLUGIN.exists(), reason=MISSING)
_METADATA = re.compile(r"\(http\) GET /dicom-web/studies/([0-9.]+)/series/([0-9.]+)/metadata")


class Orthanc:
    """One Orthanc process (it can be killed and started again on the same storage and port)."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.users = users or {}
        self.storage = folder / "storage"
        self.config = folder / "orthanc.json"
        self.log = folder / "orthanc.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._write_config()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def source(self) -> str:
        """The ``dicomweb+http://`` URL fairdicom ingests from."""
        return f"dicomweb+http://127.0.0.1:{self.port}/dicom-web"

    def _write_config(self) -> None:
        config = {
            "Name": "fairdicom-test",
            "StorageDirectory": str(self.storage),
            "IndexDirectory": str(self.storage),
            "HttpPort": self.port,
            "HttpBindAddress": "127.0.0.1",
            "DicomServerEnabled": False,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": bool(self.users),
            "RegisteredUsers": self.users,
            "HttpTimeout": 60,
            "Plugins": [str(PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        }
        self.config.write_text(json.dumps(config, indent=1))

    def start(self) -> None:
        """Start Orthanc; return once its HTTP port answers ``/system``."""
        assert ORTHANC is not None
        started = threading.Event()
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [ORTHANC, "--verbose-http", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = self.process

        def copy() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                log.flush()
                if b"Orthanc has started" in line:
                    started.set()
            log.close()
            started.set()  # it ended without starting

        threading.Thread(target=copy, daemon=True).start()
        if not started.wait(STARTUP_DEADLINE) or process.poll() is not None:
            pytest.fail(f"Orthanc did not start:\n{self.log.read_text(errors='replace')}")
        answer = requests.get(f"{self.url}/system", auth=self._auth(), timeout=30)
        answer.raise_for_status()

    def kill(self) -> None:
        """Kill Orthanc with SIGKILL (as a crash would) and wait until it is gone."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)
        pid = self.process.pid
        wait_until(lambda: gone(pid), "the killed Orthanc is gone")
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def stop(self) -> None:
        """Stop Orthanc (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=60)
        self.kill()

    def _auth(self) -> tuple[str, str] | None:
        return next(iter(self.users.items())) if self.users else None

    def upload(self, files: Iterable[Path]) -> int:
        """Store files through Orthanc's REST API; return how many."""
        count = 0
        with requests.Session() as session:
            session.auth = self._auth()
            for path in files:
                answer = session.post(f"{self.url}/instances", data=path.read_bytes(), timeout=60)
                answer.raise_for_status()
                count += 1
        return count

    def delete_study(self, study_uid: str) -> None:
        """Delete a study (by its StudyInstanceUID) through the REST API."""
        found = requests.post(
            f"{self.url}/tools/lookup", data=study_uid, auth=self._auth(), timeout=60
        )
        found.raise_for_status()
        ids = [item["ID"] for item in found.json() if item["Type"] == "Study"]
        assert ids, f"study {study_uid} is not in Orthanc"
        requests.delete(f"{self.url}/studies/{ids[0]}", auth=self._auth(), timeout=60)

    def metadata_requests(self) -> list[str]:
        """Return the StudyInstanceUID of every WADO-RS series metadata request answered so
        far (from Orthanc's own log), in order."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [match[1] for match in _METADATA.finditer(text)]


@contextmanager
def running_orthanc(folder: Path, users: dict[str, str] | None = None) -> Iterator[Orthanc]:
    """Run an Orthanc with an empty storage folder until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    orthanc = Orthanc(folder, users)
    orthanc.start()
    try:
        yield orthanc
    finally:
        orthanc.stop()
