"""The pseudonymisation key: from settings or env, else a random key kept in the data folder.

The key file is ``<data_dir>/pseudonym.key`` (mode 0600); ``data_dir`` defaults to the store's
directory, so a store made before ``data_dir`` existed keeps its key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fairdicom.config import Settings
from fairdicom.errors import ConfigError, StoreError

KEY_FILE = "pseudonym.key"


def key_file(settings: Settings) -> Path:
    """Return where the site's own pseudonym key is kept."""
    return settings.data_folder / KEY_FILE


def resolve_secret(settings: Settings) -> str:
    """Return the configured secret, or the site's own key (made on first use, mode 0600)."""
    if settings.secret:
        return settings.secret
    path = key_file(settings)
    try:
        if path.exists():
            return _read_key(path)
        _refuse_a_second_key(settings, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        return key
    except OSError as exc:
        raise StoreError(
            f"cannot keep the pseudonym key in {path}: {exc.strerror or exc}; make the data "
            "folder writable (data_dir), or set the key with FAIRDICOM_SECRET"
        ) from None


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii", errors="replace").strip()
    if not key:
        raise ConfigError(
            f"the pseudonym key file {path} is empty: restore it from a backup (another key "
            "gives the same files other IRIs), or set FAIRDICOM_SECRET"
        )
    return key


def _refuse_a_second_key(settings: Settings, path: Path) -> None:
    """Refuse to make a new key while the store's directory holds the key it was written with
    (``data_dir`` set later): a new key would give the same files other IRIs."""
    if settings.store.startswith(("http://", "https://")):
        return
    earlier = Path(settings.store) / KEY_FILE
    if earlier != path and earlier.exists():
        raise ConfigError(
            f"the store's pseudonym key is {earlier}, but data_dir is {settings.data_folder}: "
            f"move the key there (mv {earlier} {path}) so that the same files keep their IRIs"
        )
