"""Helpers for tests that look into a store."""

from __future__ import annotations

import io
from pathlib import Path

from app.store import EmbeddedStore


def export_text(store: Path) -> str:
    """Return the whole store as N-Quads text."""
    handle = EmbeddedStore(str(store), read_only=True)
    try:
        out = io.BytesIO()
        handle.dump(out, "nquads")
    finally:
        handle.close()
    return out.getvalue().decode("utf-8")


def dataset_quads(store: Path) -> set[str]:
    """Return the N-Quads lines of every graph but provenance (which differs run to run)."""
    lines = export_text(store).splitlines()
    return {line for line in lines if not line.rstrip(" .").endswith("/graph/provenance>")}
