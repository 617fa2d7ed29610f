"""Run an ingest: files are parsed in parallel, grouped into batches of whole series, written.

Workers (one process per core) read and de-identify files and return raw-layer records; this
process batches them at series boundaries, maps, validates and writes each batch in one
transaction, then records the run's provenance.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from fairdicom.config import Settings
from fairdicom.dicom.deidentify import Profile
from fairdicom.dicom.sources import Source, iter_sources
from fairdicom.errors import StoreError, UsageError
from fairdicom.ingest.batch import BatchWriter
from fairdicom.ingest.provenance import run_record
from fairdicom.ingest.secret import resolve_secret
from fairdicom.ingest.summary import IngestSummary
from fairdicom.ingest.worker import Outcome, ParsingPool
from fairdicom.namespaces import DataIris
from fairdicom.rdf.mapping import load_mappings
from fairdicom.rdf.raw import InstanceRecord
from fairdicom.rdf.validation import violation_messages
from fairdicom.resources import MAPPINGS
from fairdicom.store import GraphStore, open_store, query_form

SMALL_RUN = 64
"""Files per parsing process at least: starting one costs more than it saves below that."""
MAX_BATCH_FACTOR = 8
"""A batch waits for the end of its last study up to this many times the batch size. A study
written in one batch is curated and validated from
values of one ingest, even when a re-ingest changes them."""

Progress = Callable[[int], None]
Problem = Callable[[str, str], None]
BatchDone = Callable[[int, int], None]
"""Called after each batch is committed, with its instances and triples."""


def _ignore(*_: object) -> None:
    return None


@contextmanager
def _outcomes(
    sources: Iterable[Source], count: int, settings: Settings, secret: str
) -> Iterator[Iterable[Outcome]]:
    """Parse in worker processes, even a few files: whatever one file does to its process
    (a crash, the out-of-memory killer, a parser that never ends) costs that file only."""
    args = (settings.base_iri, secret, settings.deid)
    workers = min(settings.worker_count, max(1, count // SMALL_RUN))
    # Fork before the store is opened: a child that inherits an open store hangs on flush.
    # The pool forks its workers now; replacements come from a fork server.
    with ParsingPool(workers, args) as pool:
        yield pool.outcomes(sources)


def ingest(
    inputs: list[Path],
    settings: Settings,
    dataset: str | None = None,
    *,
    progress: Progress = _ignore,
    problem: Problem = _ignore,
    total: Callable[[int], None] = _ignore,
    batch_done: BatchDone = _ignore,
    skipped: Problem = _ignore,
) -> IngestSummary:
    """Ingest files, folders and zip archives into the store; return the summary.

    A file that cannot be read is reported (``problem``, or ``skipped`` when it is plainly
    not DICOM or not a file) with its path and reason, and the run goes on; only a store
    that cannot be opened or written stops it (StoreError).
    """
    dataset = dataset or settings.dataset
    missing = [str(path) for path in inputs if not path.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    started = datetime.now(UTC)
    clock = time.perf_counter()
    try:
        secret = resolve_secret(settings)
    except OSError as exc:
        raise StoreError(
            f"cannot keep the pseudonym key in the store {settings.store}: {exc.strerror}"
        ) from None
    count = sum(1 for _ in iter_sources(inputs))  # a cheap first walk, for the progress bar
    total(count)
    summary = IngestSummary()
    iris = DataIris(settings.base_iri)
    with _outcomes(iter_sources(inputs), count, settings, secret) as outcomes:
        mappings = load_mappings(MAPPINGS, query_form)  # checked while the workers start parsing
        store = open_store(settings.store)
        try:
            writer = BatchWriter(store, iris, dataset, mappings)
            _run(
                outcomes,
                writer,
                settings.batch_size,
                summary,
                progress,
                problem,
                batch_done,
                skipped,
            )
            summary.seconds = time.perf_counter() - clock
            method = Profile(settings.deid).method_codes()
            lines = run_record(
                iris,
                uuid.uuid4().hex,
                dataset,
                started,
                datetime.now(UTC),
                summary,
                mappings.version,
                method,
            )
            store.replace({}, {iris.provenance_graph: lines})
            summary.store_quads = store.quad_count()
        finally:
            store.close()
    return summary


def _run(
    outcomes: Iterable[Outcome],
    writer: BatchWriter,
    batch_size: int,
    summary: IngestSummary,
    progress: Progress,
    problem: Problem,
    batch_done: BatchDone,
    skipped: Problem = _ignore,
) -> None:
    batch: list[InstanceRecord] = []
    members: dict[str, tuple[str, str]] = {}  # series -> (patient, study)
    quarantined: set[str] = set()

    def flush() -> None:
        if not batch:
            return
        result = writer.write(batch)
        summary.triples_written += result.triples
        for series, count in result.quarantined.items():
            quarantined.add(series)
            summary.quarantined_series += 1
            summary.quarantined_instances += count
            summary.ingested -= count
            reason = "quarantined: " + " ".join(violation_messages(result.reports[series]))
            summary.problems.append((series.strip("<>"), reason))
            problem(series.strip("<>"), reason)
        batch_done(len(batch), result.triples)
        batch.clear()

    for outcome in outcomes:
        summary.files_seen += 1
        progress(1)
        record = outcome.record
        if record is None:
            if outcome.skipped:
                summary.skip(outcome.source, outcome.skipped)
                skipped(outcome.source, outcome.skipped)
            else:
                summary.rejected += 1
                summary.problems.append((outcome.source, outcome.rejected))
                problem(outcome.source, outcome.rejected)
            continue
        for warning in record.warnings:
            problem(outcome.source, "warning: " + warning)
        if batch and (
            (len(batch) >= batch_size and batch[-1].study != record.study)
            or len(batch) >= batch_size * MAX_BATCH_FACTOR
        ):
            flush()
        batch.append(record)
        summary.ingested += 1
        members[record.series] = (record.patient, record.study)
    flush()
    kept = [pair for series, pair in members.items() if series not in quarantined]
    summary.instances = summary.ingested
    summary.series = len(kept)
    summary.patients = len({patient for patient, _ in kept})
    summary.studies = len({study for _, study in kept})


def open_for_reading(settings: Settings) -> GraphStore:
    """Open the configured store read-only (for export, stats, validate)."""
    return open_store(settings.store, read_only=True)
