"""Run an ingest: files are parsed in parallel, grouped into batches of whole series, written.

Workers (one process per core) read and de-identify files and return raw-layer records; this
process batches them at series boundaries, maps, validates and writes each batch in one
transaction, then records the run's provenance.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from app.config import Settings
from app.dicom.deidentify import Profile
from app.dicom.sources import Source, iter_sources
from app.errors import UsageError
from app.ingest.batch import BatchWriter
from app.ingest.provenance import run_record
from app.ingest.secret import resolve_secret
from app.ingest.summary import IngestSummary
from app.ingest.worker import FileWorker, Outcome, init_worker, process_in_worker
from app.namespaces import DataIris
from app.rdf.mapping import load_mappings
from app.rdf.raw import InstanceRecord
from app.rdf.validation import violation_messages
from app.resources import MAPPINGS
from app.store import GraphStore, open_store

SMALL_RUN = 64
"""Below this many files, parse in this process: starting workers costs more than it saves."""
MAX_BATCH_FACTOR = 8
"""A batch waits for the end of its last series up to this many times the batch size."""

Progress = Callable[[int], None]
Problem = Callable[[str, str], None]
BatchDone = Callable[[int, int], None]
"""Called after each batch is committed, with its instances and triples."""


def _ignore(*_: object) -> None:
    return None


WINDOW = 1024
"""Files handed to the workers at a time: two windows are in flight, so memory stays flat
however large the corpus, and the workers never wait for the next window."""


def _windowed(pool: multiprocessing.pool.Pool, sources: Iterable[Source]) -> Iterator[Outcome]:
    remaining = iter(sources)
    in_flight: deque[Iterator[Outcome]] = deque()
    for _ in range(2):
        window = list(islice(remaining, WINDOW))
        if window:
            in_flight.append(pool.imap(process_in_worker, window, chunksize=8))
    while in_flight:
        current = in_flight.popleft()
        window = list(islice(remaining, WINDOW))
        if window:
            in_flight.append(pool.imap(process_in_worker, window, chunksize=8))
        yield from current


@contextmanager
def _outcomes(
    sources: Iterable[Source], count: int, settings: Settings, secret: str
) -> Iterator[Iterable[Outcome]]:
    args = (settings.base_iri, secret, settings.deid)
    workers = min(settings.worker_count, max(1, count // SMALL_RUN))
    if workers <= 1:
        worker = FileWorker(*args)
        yield (worker(source) for source in sources)
        return
    # Fork before the store is opened: a child that inherits an open store hangs on flush.
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=init_worker, initargs=args) as pool:
        yield _windowed(pool, sources)


def ingest(
    inputs: list[Path],
    settings: Settings,
    dataset: str | None = None,
    *,
    progress: Progress = _ignore,
    problem: Problem = _ignore,
    total: Callable[[int], None] = _ignore,
    batch_done: BatchDone = _ignore,
) -> IngestSummary:
    """Ingest files, folders and zip archives into the store; return the summary."""
    dataset = dataset or settings.dataset
    missing = [str(path) for path in inputs if not path.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    started = datetime.now(UTC)
    clock = time.perf_counter()
    secret = resolve_secret(settings)
    count = sum(1 for _ in iter_sources(inputs))  # a cheap first walk, for the progress bar
    total(count)
    summary = IngestSummary()
    iris = DataIris(settings.base_iri)
    with _outcomes(iter_sources(inputs), count, settings, secret) as outcomes:
        mappings = load_mappings(MAPPINGS)  # checked while the workers start parsing
        store = open_store(settings.store)
        try:
            writer = BatchWriter(store, iris, dataset, mappings)
            _run(outcomes, writer, settings.batch_size, summary, progress, problem, batch_done)
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
                summary.skipped += 1
            else:
                summary.rejected += 1
                summary.problems.append((outcome.source, outcome.rejected))
                problem(outcome.source, outcome.rejected)
            continue
        for warning in record.warnings:
            problem(outcome.source, "warning: " + warning)
        if batch and (
            (len(batch) >= batch_size and batch[-1].series != record.series)
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
