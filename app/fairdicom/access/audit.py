"""The audit log of record-level reads of non-public datasets: JSON lines, rotated.

One line per answered request that could read a non-public dataset (a SPARQL query, a Graph
Store read, an ``/id/`` page): when, who, which datasets its scope opened, what was asked (the
SHA-256 of the query text or of the path, never the text: a query may quote identifiers), and
how many rows or triples went back. The file rotates by size (``logging.handlers``), keeping
``BACKUPS`` old files; :meth:`AuditLog.read` returns the newest entries for the admin.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 9


class AuditLog:
    """Append audit entries to a rotated JSON-lines file and read them back."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._logger = logging.Logger(f"fairdicom.audit.{path}")
        self._logger.propagate = False
        self._logger.addHandler(self._handler)
        self._lock = threading.Lock()

    def record(
        self, principal: str, datasets: tuple[str, ...], what: str, digest: str, rows: int | None
    ) -> None:
        """Write one entry."""
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "principal": principal,
            "datasets": list(datasets),
            "request": what,
            "query_sha256": digest,
            "rows": rows,
        }
        with self._lock:
            self._logger.info(json.dumps(entry, sort_keys=True))
            self._handler.close()  # on disk now, and no file left open (reopened on the next)

    def _files(self) -> Iterator[Path]:
        """Yield the log's files, newest first."""
        yield self.path
        for number in range(1, self._handler.backupCount + 1):
            yield self.path.with_name(f"{self.path.name}.{number}")

    def read(
        self, limit: int = 1000, principal: str | None = None, dataset: str | None = None
    ) -> list[dict[str, Any]]:
        """Return up to ``limit`` newest entries, newest first, filtered if asked."""
        found: list[dict[str, Any]] = []
        with self._lock:
            for file in self._files():
                if not file.exists():
                    continue
                lines = file.read_text(encoding="utf-8").splitlines()
                for line in reversed(lines):
                    entry = json.loads(line)
                    if principal is not None and entry["principal"] != principal:
                        continue
                    if dataset is not None and dataset not in entry["datasets"]:
                        continue
                    found.append(entry)
                    if len(found) >= limit:
                        return found
        return found

    def close(self) -> None:
        """Close the file."""
        self._handler.close()
