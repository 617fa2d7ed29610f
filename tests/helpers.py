"""Helpers for tests that look into a store, or at what the reader makes of files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from fairdicom.config import DeidOptions, load_settings
from fairdicom.dicom.deidentify import Profile, Pseudonymizer
from fairdicom.dicom.reader import read_instance
from fairdicom.dicom.sources import Source
from fairdicom.ingest.pipeline import ingest
from fairdicom.store import EmbeddedStore


def export_text(store: Path) -> str:
    """Return the whole store as N-Quads text."""
    handle = EmbeddedStore(str(store), read_only=True)
    try:
        out = io.BytesIO()
        handle.dump(out, "nquads")
    finally:
        handle.close()
    return out.getvalue().decode("utf-8")


def select_rows(store: Path, query: str) -> list[dict[str, str]]:
    """Return the rows of a SELECT over the store, each value as its N-Triples term."""
    handle = EmbeddedStore(str(store), read_only=True)
    try:
        return [{k: str(v) for k, v in row.items()} for row in handle.select(query)]
    finally:
        handle.close()


def dataset_quads(store: Path) -> set[str]:
    """Return the N-Quads lines of every graph but provenance and the catalogue (which differ
    run to run: times of the runs and of the refresh)."""
    lines = export_text(store).splitlines()
    return {
        line
        for line in lines
        if not line.rstrip(" .").endswith(("/graph/provenance>", "/graph/catalog>"))
    }


def ingest_isolated(folder: Path, store: Path, dataset: str, secret: str) -> None:
    """Ingest a folder into a new store, away from the user's settings (for module fixtures,
    which cannot use the function-scoped environment fixture)."""
    with pytest.MonkeyPatch.context() as env:
        for name in [name for name in os.environ if name.startswith("FAIRDICOM_")]:
            env.delenv(name)
        empty = store.parent / "empty-fairdicom.toml"
        empty.write_text("")
        env.setenv("FAIRDICOM_CONFIG", str(empty))
        ingest([folder], load_settings(store=str(store), secret=secret, workers=1), dataset)


def reader_outcomes(files: list[Path]) -> list[str]:
    """Return what the reader makes of each file: its de-identified header, or why it was not
    read."""
    outcomes = []
    pseudonyms, profile = Pseudonymizer("s3cret"), Profile(DeidOptions())
    for path in files:
        try:
            outcomes.append(repr(read_instance(Source(str(path)), profile, pseudonyms)))
        except Exception as exc:
            outcomes.append(f"{type(exc).__name__}: {exc}")
    return outcomes
