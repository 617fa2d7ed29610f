"""Run an ingest: files are parsed in parallel, grouped into batches of whole series, written.

Parsing processes (one per core) read and de-identify files and return raw-layer records; this
process groups them into batches that end at study boundaries and plans each against the
store; curation processes map and validate the planned batches and hand back ready N-Quads,
which this process writes, one transaction a batch, in order; then it records the run's
provenance. Parsing, curation and writing overlap (see :mod:`fairdicom.ingest.batch`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from fairdicom.config import Settings
from fairdicom.dicom.deidentify import Profile
from fairdicom.dicom.sources import Source, iter_sources
from fairdicom.errors import UsageError
from fairdicom.ingest.batch import BatchQueue, BatchResult, BatchWriter, FileCount, not_known
from fairdicom.ingest.cluster import ClusterPool, ParserSettings
from fairdicom.ingest.curator import CurationPool
from fairdicom.ingest.plan import BatchGraphs
from fairdicom.ingest.provenance import run_record
from fairdicom.ingest.secret import resolve_secret
from fairdicom.ingest.summary import IngestSummary
from fairdicom.ingest.worker import Outcome, ParsingPool
from fairdicom.namespaces import DataIris
from fairdicom.rdf.mapping import load_mappings
from fairdicom.rdf.raw import InstanceRecord
from fairdicom.rdf.validation import violation_messages
from fairdicom.resources import CORE_ONTOLOGY, TAG_VOCABULARY
from fairdicom.store import GraphStore, open_store, query_form

COMPACT_SHARE = 10
"""An ingest that wrote at least 1/COMPACT_SHARE of the store's quads compacts the store at the
end of the command (:func:`compact_after`)."""
SMALL_RUN = 64
"""Files per parsing process at least: starting one costs more than it saves below that."""
MAX_BATCH_FACTOR = 8
"""A batch waits for the end of its last study up to this many times the batch size. A study
written in one batch is curated and validated from
values of one ingest, even when a re-ingest changes them."""
PATIENT_BATCH_FACTOR = 2
"""A batch waits for the end of its last patient up to this many times the batch size: a
batch that shares a patient with a batch still in flight waits until that one is written
(its plan must see it), so batches that end with a patient keep the writer busy."""

Progress = Callable[[int], None]
Problem = Callable[[str, str], None]
BatchDone = Callable[[int, int], None]
"""Called after each batch is committed, with its instances and triples."""
AfterBatch = Callable[[GraphStore], None]
"""Called after each batch is committed, with the store: what a caller keeps beside the
batches (a harvest's state) is written then."""


def _ignore(*_: object) -> None:
    return None


def _parsing_processes(count: int, settings: Settings) -> int:
    """Return how many processes parse ``count`` files."""
    return min(settings.worker_count, max(1, count // SMALL_RUN))


def _curation_processes(parsing: int) -> int:
    """Return how many processes curate beside ``parsing`` parsing processes (0: the writer
    curates, for small runs): curating a file costs a fraction of parsing it."""
    return 0 if parsing < 2 else max(1, parsing // 2)


@contextmanager
def _outcomes(
    sources: Iterable[Source], workers: int, settings: Settings, secret: str, cluster: str = ""
) -> Iterator[Iterable[Outcome]]:
    """Parse in worker processes, even a few files: whatever one file does to its process
    (a crash, the out-of-memory killer, a parser that never ends) costs that file only; or,
    given a Dask scheduler's address, on that cluster's workers."""
    if cluster:
        parser = ParserSettings(settings.base_iri, secret, settings.deid)
        with ClusterPool(cluster, parser) as remote:
            yield remote.outcomes(sources)
        return
    args = (settings.base_iri, secret, settings.deid)
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
    missing = [str(path) for path in inputs if not path.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    clock = time.perf_counter()
    counted: list[int] = []  # every input's number, once the walk that counts them ends

    def known(number: int) -> None:
        counted.append(number)
        total(number)

    count = _count_inputs(inputs, settings.worker_count * SMALL_RUN, known)
    walk = time.perf_counter() - clock
    summary = ingest_sources(
        iter_sources(inputs),
        count,
        settings,
        dataset,
        progress=progress,
        problem=problem,
        batch_done=batch_done,
        skipped=skipped,
        cluster=settings.cluster,
        expected=lambda: counted[0] if counted else None,
    )
    summary.seconds += walk
    summary.startup_seconds += walk
    return summary


def _count_inputs(inputs: list[Path], enough: int, total: Callable[[int], None]) -> int:
    """Count the inputs for the progress bar (``total``, once, with their number): the first
    ``enough`` now, as they size the parsing pool, the rest in a thread while the ingest runs
    (walking a million files takes tens of seconds); return the number counted now."""
    sources = iter_sources(inputs)
    count = sum(1 for _ in islice(sources, enough))
    if count < enough:
        total(count)
    else:
        rest = threading.Thread(
            target=lambda: total(count + sum(1 for _ in sources)), name="count", daemon=True
        )
        rest.start()
    return count


def ingest_sources(
    sources: Iterable[Source],
    count: int,
    settings: Settings,
    dataset: str | None = None,
    *,
    progress: Progress = _ignore,
    problem: Problem = _ignore,
    batch_done: BatchDone = _ignore,
    skipped: Problem = _ignore,
    after_batch: AfterBatch = _ignore,
    cluster: str = "",
    expected: FileCount = not_known,
) -> IngestSummary:
    """Ingest sources (files, or instances fetched over DICOMweb) as :func:`ingest` does;
    ``count`` is their number (or an estimate: it sizes the parsing pool); ``expected``
    returns their exact number once it is known (None before); ``cluster``, a Dask
    scheduler's address, parses them on that cluster (the files on a shared filesystem)."""
    dataset = dataset or settings.dataset
    started = datetime.now(UTC)
    clock = time.perf_counter()
    secret = resolve_secret(settings)  # the configured key, or the data folder's key file
    summary = IngestSummary()
    iris = DataIris(settings.base_iri)
    workers = _parsing_processes(count, settings)
    with _outcomes(sources, workers, settings, secret, cluster) as outcomes:
        # The site's mappings, checked against the bundled ontology and tag vocabulary while
        # the workers start parsing.
        mappings = load_mappings(
            settings.mappings_folder, query_form, CORE_ONTOLOGY, TAG_VOCABULARY
        )
        # Curation processes fork now too, before the store is opened.
        curation = CurationPool(
            _curation_processes(workers), mappings, BatchGraphs.of(iris, dataset)
        )
        try:
            store = open_store(settings)
        except BaseException:
            curation.close()
            raise
        try:
            writer = BatchWriter(store, iris, dataset, mappings)
            _run(
                outcomes,
                writer,
                curation,
                settings.batch_size,
                clock,
                summary,
                progress,
                problem,
                batch_done,
                skipped,
                after_batch,
                expected,
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
                operator=settings.operator,
            )
            store.replace({}, {iris.provenance_graph: lines})
            summary.store_quads = store.quad_count()
        finally:
            curation.close()
            store.close()
    return summary


def _run(
    outcomes: Iterable[Outcome],
    writer: BatchWriter,
    curation: CurationPool,
    batch_size: int,
    started: float,
    summary: IngestSummary,
    progress: Progress,
    problem: Problem,
    batch_done: BatchDone,
    skipped: Problem = _ignore,
    after_batch: AfterBatch = _ignore,
    expected: FileCount = not_known,
) -> None:
    batch: list[InstanceRecord] = []
    members: dict[str, tuple[str, str]] = {}  # series -> (patient, study)
    quarantined: set[str] = set()

    def written(instances: int, result: BatchResult) -> None:
        summary.triples_written += result.triples
        for series, count in result.quarantined.items():
            quarantined.add(series)
            summary.quarantined_series += 1
            summary.quarantined_instances += count
            summary.ingested -= count
            reason = "quarantined: " + " ".join(violation_messages(result.reports[series]))
            summary.problems.append((series.strip("<>"), reason))
            problem(series.strip("<>"), reason)
        batch_done(instances, result.triples)
        after_batch(writer.store)

    def remaining() -> int | None:
        number = expected()
        return None if number is None else max(0, number - summary.files_seen)

    queue = BatchQueue(writer, curation, written, remaining=remaining)

    def flush() -> None:
        if batch:
            queue.put(list(batch))
            batch.clear()

    for outcome in outcomes:
        if not summary.files_seen:
            summary.startup_seconds = time.perf_counter() - started
        queue.write_ready()
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
        if batch and _batch_ends(batch, record, batch_size):
            flush()
        batch.append(record)
        summary.ingested += 1
        members[record.series] = (record.patient, record.study)
    flush()
    queue.drain()
    kept = [pair for series, pair in members.items() if series not in quarantined]
    summary.instances = summary.ingested
    summary.series = len(kept)
    summary.patients = len({patient for patient, _ in kept})
    summary.studies = len({study for _, study in kept})


def _batch_ends(batch: list[InstanceRecord], record: InstanceRecord, batch_size: int) -> bool:
    """Return True when ``record`` starts a new batch: at the end of a patient, else of a
    study when the batch has grown too long waiting for its patient, else anywhere."""
    size, last = len(batch), batch[-1]
    if size < batch_size:
        return False
    if last.patient != record.patient:
        return True
    if size >= batch_size * PATIENT_BATCH_FACTOR and last.study != record.study:
        return True
    return size >= batch_size * MAX_BATCH_FACTOR


def compact_after(settings: Settings, summary: IngestSummary) -> float | None:
    """Compact the store after a run that wrote at least 1/COMPACT_SHARE of it (and after the
    catalogue refresh that follows it); return the seconds it took, or None when not needed.

    Queries read a store left with one small file per batch (or per later small write) up to
    1.5 times slower than a compacted one; compacting costs a fraction of the run's time."""
    if summary.triples_written * COMPACT_SHARE < summary.store_quads:
        return None
    clock = time.perf_counter()
    store = open_store(settings)
    try:
        store.optimize()
    finally:
        store.close()
    return time.perf_counter() - clock


def open_for_reading(settings: Settings) -> GraphStore:
    """Open the configured store read-only (for export, stats, validate)."""
    return open_store(settings, read_only=True)
