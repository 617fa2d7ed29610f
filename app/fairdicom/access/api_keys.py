"""Static API keys of service accounts, kept as SHA-256 hashes (setting ``api_keys``).

Each entry reads ``NAME:SHA256HEX``; the key itself never sits in a configuration file: an
operator hands the key to the service account and keeps ``printf %s KEY | sha256sum``.
The principal of a key is ``key:NAME``, which grants name with ``key:NAME=SLUG``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from fairdicom.access.principal import Principal
from fairdicom.errors import ConfigError

_ENTRY = re.compile(r"([A-Za-z0-9._-]+):([0-9a-fA-F]{64})")


class ApiKeys:
    """Recognise the API keys of the site by their hashes."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._hashes: list[tuple[str, bytes]] = []
        for entry in entries:
            found = _ENTRY.fullmatch(entry.strip())
            if found is None:
                raise ConfigError(
                    f"api_keys: the entry of {entry.split(':', 1)[0][:40]!r} is not "
                    "NAME:SHA256HEX (its value is not shown); hash the key with "
                    "`printf %s KEY | sha256sum` and write NAME:<the 64 hex digits>"
                )
            self._hashes.append((found.group(1), bytes.fromhex(found.group(2))))

    def principal(self, token: str) -> Principal | None:
        """Return the service account whose key ``token`` is, or None."""
        digest = hashlib.sha256(token.encode()).digest()
        name = None
        for candidate, known in self._hashes:  # compare all: the time says nothing
            if hmac.compare_digest(digest, known):
                name = candidate
        return None if name is None else Principal(f"key:{name}")
