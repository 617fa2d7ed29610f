"""The ingest pipeline: curation beside the writer, bulk loads of new series, and a summary that
reports start-up and the catalogue refresh apart from the ingest."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fairdicom.config import load_settings
from fairdicom.ingest import pipeline
from fairdicom.ingest.pipeline import ingest
from fairdicom.store import GraphStore

from tests.conftest import run_cli
from tests.helpers import dataset_quads


def test_curation_processes_write_what_the_writer_alone_writes(
    corpus: Path, tmp_path: Path
) -> None:
    """Two parsing processes come with a curation process; one parsing process leaves curation
    to the writer. Both give the same store, batch after batch (small batches, so series and
    patients are spread over batches that are curated while others are written)."""
    alone, beside = tmp_path / "alone", tmp_path / "beside"
    first = ingest([corpus], load_settings(store=str(alone), workers=1, batch_size=20), "t")
    second = ingest([corpus], load_settings(store=str(beside), workers=2, batch_size=20), "t")
    assert first.ingested == second.ingested > 0
    assert dataset_quads(beside) == dataset_quads(alone)


class _Recording:
    """The real store, with a count of the calls the ingest makes (and how it loads)."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            label = name + ("(bulk)" if kwargs.get("bulk") else "")
            self.calls[label] += 1
            return attribute(*args, **kwargs)

        return call


def test_new_series_are_bulk_loaded_without_any_query(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding new patients to a store that holds others plans every batch with index lookups
    and writes it with one bulk load: no SPARQL query or update, however large the store."""
    store = tmp_path / "store"
    patients = sorted(p for p in corpus.iterdir() if p.is_dir())
    assert len(patients) >= 2
    ingest(patients[:1], load_settings(store=str(store)), "t")
    recorded: list[_Recording] = []
    real_open = pipeline.open_store

    def open_recording(location: str, **kwargs: Any) -> Any:
        recorded.append(_Recording(real_open(location, **kwargs)))
        return recorded[-1]

    monkeypatch.setattr(pipeline, "open_store", open_recording)
    summary = ingest(patients[1:], load_settings(store=str(store), batch_size=20), "t")
    calls = recorded[0].calls
    batches = calls["load_nquads(bulk)"]
    assert batches >= summary.ingested // (20 * 8) and batches > 1, calls
    assert not {"select", "ask", "construct", "update", "add"} & set(calls), calls
    assert calls["replace"] == 1, calls  # the run's provenance, once at the end


def test_summary_reports_start_up_and_catalogue_refresh_apart(
    corpus: Path, tmp_path: Path
) -> None:
    result = run_cli("ingest", str(corpus), "--store", str(tmp_path / "store"))
    assert result.returncode == 0, result.stderr
    timing = re.search(
        r"time ([\d.]+) s \(\d+ files/s\), of which start-up ([\d.]+) s", result.stdout
    )
    assert timing and 0 < float(timing[2]) <= float(timing[1]), result.stdout
    refresh = re.search(
        r"catalogue refreshed: 1 dataset\(s\) published in ([\d.]+) s "
        r"\(figures ([\d.]+) s, dumps ([\d.]+) s\)",
        result.stdout,
    )
    assert refresh, result.stdout
    assert float(refresh[2]) + float(refresh[3]) <= float(refresh[1]) + 0.1
