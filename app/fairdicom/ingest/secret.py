"""The pseudonymisation key: from settings or env, else a random key kept beside the store."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fairdicom.config import Settings
from fairdicom.errors import ConfigError

KEY_FILE = "pseudonym.key"


def resolve_secret(settings: Settings) -> str:
    """Return the configured secret, or the store's own key (made on first use, mode 0600)."""
    if settings.secret:
        return settings.secret
    if settings.store.startswith(("http://", "https://")):
        raise ConfigError(
            "a remote store needs an explicit pseudonym key: set FAIRDICOM_SECRET or `secret`"
        )
    path = Path(settings.store) / KEY_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
