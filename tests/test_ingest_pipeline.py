"""The ingest pipeline: curation beside the writer, bulk loads of new series, and a summary that
reports start-up and the catalogue refresh apart from the ingest."""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fairdicom.config import load_settings
from fairdicom.dicom.synth import write_corpus
from fairdicom.ingest import batch, pipeline
from fairdicom.ingest.pipeline import ingest
from fairdicom.rdf.raw import InstanceRecord
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
    monkeypatch.setattr(batch, "BULK_BYTES", 1)  # one load per batch
    written: list[int] = []
    summary = ingest(
        patients[1:],
        load_settings(store=str(store), batch_size=20),
        "t",
        batch_done=lambda instances, _: written.append(instances),
    )
    calls = recorded[0].calls
    assert sum(written) == summary.ingested and len(written) > 1, written
    assert calls["load_nquads(bulk)"] == len(written), calls
    assert not {"select", "ask", "construct", "update", "add"} & set(calls), calls
    assert calls["replace"] == 1, calls  # the run's provenance, once at the end


def test_consecutive_batches_of_new_series_are_loaded_together(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of new series wait to be loaded together, up to BULK_BYTES of N-Quads a call;
    the store is the one that a load per batch gives."""
    one_by_one, together = tmp_path / "one-by-one", tmp_path / "together"
    loads: dict[Path, Counter[str]] = {}
    written: dict[Path, list[int]] = {}
    real_open = pipeline.open_store

    def open_recording(settings: Any, **kwargs: Any) -> Any:
        store = _Recording(real_open(settings, **kwargs))
        loads[Path(settings.store)] = store.calls
        return store

    monkeypatch.setattr(pipeline, "open_store", open_recording)
    # Batches of whole patients: none waits for another to be written (its plan must see
    # what the batches before it write about its patient).
    monkeypatch.setattr(pipeline, "PATIENT_BATCH_FACTOR", pipeline.MAX_BATCH_FACTOR)
    for store, size in ((one_by_one, 1), (together, 2**30)):
        monkeypatch.setattr(batch, "BULK_BYTES", size)
        written[store] = []
        ingest(
            [corpus],
            load_settings(store=str(store), batch_size=20),
            "t",
            batch_done=lambda instances, _, store=store: written[store].append(instances),
        )
    assert len(written[together]) == len(written[one_by_one]) > 2
    assert loads[one_by_one]["load_nquads(bulk)"] == len(written[one_by_one])
    assert loads[together]["load_nquads(bulk)"] == 1, loads
    assert dataset_quads(together) == dataset_quads(one_by_one)


def test_batches_end_with_a_patient() -> None:
    """A batch that has reached its size ends where a patient ends; it waits for the end of a
    study when its patient goes on, and ends anywhere at the cap."""

    def record(patient: str, study: str) -> InstanceRecord:
        return InstanceRecord(patient, study, study + "/series", study + "/i", {})

    p1 = [record("p1", "s1"), record("p1", "s1")]
    assert not pipeline._batch_ends(p1[:1], record("p2", "s2"), 2)  # not full yet
    assert pipeline._batch_ends(p1, record("p2", "s2"), 2)
    assert not pipeline._batch_ends(p1, record("p1", "s1"), 2)
    assert not pipeline._batch_ends(p1, record("p1", "s3"), 2)  # the patient goes on
    long = p1 * pipeline.PATIENT_BATCH_FACTOR
    assert pipeline._batch_ends(long, record("p1", "s3"), 2)  # too long: a study ends
    assert not pipeline._batch_ends(long, record("p1", "s1"), 2)
    capped = p1 * pipeline.MAX_BATCH_FACTOR
    assert pipeline._batch_ends(capped, record("p1", "s1"), 2)


def test_the_ingest_starts_before_its_inputs_are_all_counted(
    corpus: Path, tmp_path: Path
) -> None:
    """The first files size the parsing pool; the rest are counted for the progress bar while
    they are read (a million files take tens of seconds to walk), and the bar gets their
    exact number once."""
    reading, counted = threading.Event(), threading.Event()
    totals: list[tuple[int, bool]] = []

    def total(count: int) -> None:  # holds the count until the first file is read
        totals.append((count, reading.wait(60)))
        counted.set()

    summary = ingest(
        [corpus],
        load_settings(store=str(tmp_path / "store"), workers=1),
        "t",
        progress=lambda _: reading.set(),
        total=total,
    )
    assert summary.files_seen > pipeline.SMALL_RUN  # more than one process's share
    assert counted.wait(60)
    assert totals == [(summary.files_seen, True)]


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


def test_loads_shrink_as_the_input_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the number of files is known, loads run while files are still being handed to the
    writer: each gathers what the files left are expected to write, so they shrink as the
    input ends and the load left after the last file is small (without a known number, with
    no cap, everything waited for the end). The store is the one that a load per batch
    gives."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, patients=12, seed=5)
    seen = [0]
    loads: list[tuple[int, int]] = []  # (files seen by the writer, bytes) per bulk load
    real_open = pipeline.open_store

    def open_recording(settings: Any, **kwargs: Any) -> Any:
        store = real_open(settings, **kwargs)
        if Path(settings.store).name != "shrinking":
            return store
        real_load = store.load_nquads

        def load_nquads(data: bytes, *, bulk: bool = False) -> None:
            loads.append((seen[0], len(data)))
            real_load(data, bulk=bulk)

        monkeypatch.setattr(store, "load_nquads", load_nquads)
        return store

    def progress(files: int) -> None:
        seen[0] += files

    monkeypatch.setattr(pipeline, "open_store", open_recording)
    # Batches of whole patients: none waits for another to be written (which loads what
    # waits before it).
    monkeypatch.setattr(pipeline, "PATIENT_BATCH_FACTOR", pipeline.MAX_BATCH_FACTOR)
    monkeypatch.setattr(batch, "BULK_BYTES", 2**30)  # no cap: the end of the input decides
    monkeypatch.setattr(batch, "LEAST_LOAD_BYTES", 1)
    # One parsing process: the writer curates each batch as it is handed over, so when the
    # loads run depends on the files seen only, not on how fast processes run; the files are
    # all counted before the ingest starts.
    monkeypatch.setattr(pipeline, "SMALL_RUN", 10**6)
    settings = load_settings(store=str(tmp_path / "shrinking"), batch_size=40, workers=1)
    summary = ingest([corpus], settings, "t", progress=progress)
    files = summary.files_seen
    early = sum(size for when, size in loads if when < files)
    late = sum(size for when, size in loads if when == files)
    assert len(loads) >= 3 and early > late, (files, loads)
    assert loads[0][1] > loads[-1][1], loads

    monkeypatch.setattr(batch, "BULK_BYTES", 1)
    ingest([corpus], load_settings(store=str(tmp_path / "per-batch"), batch_size=40), "t")
    assert dataset_quads(tmp_path / "shrinking") == dataset_quads(tmp_path / "per-batch")
