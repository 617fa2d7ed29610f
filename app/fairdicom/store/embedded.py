"""Where an embedded store is: its directory, its generation token, and how to open it.

The generation changes whenever the store changes, whoever writes it: it hashes the names,
sizes and modification times of the RocksDB files that every write touches (``CURRENT``,
``MANIFEST-*`` and the write-ahead logs ``*.log``). A few ``stat`` calls, so callers compute it
afresh for every request.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from fairdicom.store.base import GraphStore
from fairdicom.store.oxigraph_store import EmbeddedStore


@dataclass(frozen=True)
class EmbeddedLocation:
    """An Oxigraph store in a directory on this machine."""

    location: str

    @property
    def local(self) -> bool:
        """Return True: the store is files on this machine."""
        return True

    def generation(self) -> str:
        """Return a stamp of the directory's state (its RocksDB write-ahead logs, numbered
        ``NNNNNN.log``, and manifest files: not the site's files, such as the audit log, kept
        in the same folder when it is the data folder)."""
        digest = hashlib.blake2b(digest_size=8)
        try:
            with os.scandir(self.location) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    name = entry.name
                    wal = name.endswith(".log") and name[:-4].isdigit()
                    if name == "CURRENT" or name.startswith("MANIFEST-") or wal:
                        stat = entry.stat()
                        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        except FileNotFoundError:
            digest.update(b"missing")
        return digest.hexdigest()

    def open(self, *, read_only: bool = False) -> GraphStore:
        """Open the store (read-write: create it when the directory has none)."""
        return EmbeddedStore(self.location, read_only=read_only)
