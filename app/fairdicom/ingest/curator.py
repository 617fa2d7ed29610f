"""Curate and validate planned batches beside the writer, in worker processes.

The writer plans a batch (index lookups in the store) and hands the plan to a
:class:`CurationPool`; a curation process turns it into the batch's raw lines, runs the mapping
queries, validates with SHACL, routes failing series to quarantine and sends back ready
N-Quads. Meanwhile the writer writes the batches before it and the parsing processes read the
files after it, so the three overlap; only the write itself is serial.
"""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context, parent_process
from multiprocessing.connection import wait
from typing import TypeVar

from fairdicom.errors import FairdicomError
from fairdicom.ingest.curate import curate, owners_of, route, subject_of
from fairdicom.ingest.forked import own_standard_streams
from fairdicom.ingest.plan import BatchGraphs, BatchPlan
from fairdicom.rdf.mapping import MappingSet
from fairdicom.rdf.raw import series_triples
from fairdicom.rdf.validation import validate_curated


@dataclass
class CuratedBatch:
    """A batch ready to write: its lines per graph (to replace stored series) or N-Quads (to
    load), and the series that went to quarantine."""

    inserts: dict[str, list[str]] = field(default_factory=dict)
    """Graph IRI -> N-Triples lines; only for a batch that replaces stored series."""
    nquads: bytes = b""
    """Every line in N-Quads; only for a batch whose series are all new."""
    triples: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    """Quarantined series IRI -> number of its instances in the batch."""
    reports: dict[str, str] = field(default_factory=dict)
    """Quarantined series IRI -> its SHACL report."""


def curate_plan(plan: BatchPlan, mappings: MappingSet, graphs: BatchGraphs) -> CuratedBatch:
    """Return the raw, curated and quarantined lines of a planned batch, validated."""
    raw = {series: series_triples(group) for series, group in plan.by_series.items()}
    lines = [line for group in raw.values() for line in group]
    context = plan.context_series
    curated = [
        line
        for line in curate(mappings, lines + plan.context)
        if subject_of(line) not in context
    ]
    instances = {s: [r.instance for r in group] for s, group in plan.by_series.items()}
    owners = owners_of(plan.by_series, curated, plan.context_owners)
    routed = route(raw, curated, owners, instances)
    inserts = {
        graphs.raw: routed.raw,
        graphs.curated: routed.curated,
        graphs.quarantine: routed.quarantine,
    }
    batch = CuratedBatch(
        triples=sum(len(v) for v in inserts.values()),
        quarantined=routed.quarantined,
        reports=routed.reports,
    )
    if plan.replacing:
        batch.inserts = inserts
    else:
        # Every line ends with " .\n" and holds no other newline (N-Triples escapes it), so
        # naming its graph is one replacement over a graph's lines joined.
        batch.nquads = "".join(
            "".join(group).replace(" .\n", f" <{graph}> .\n") for graph, group in inserts.items()
        ).encode()
    return batch


T = TypeVar("T")


def finished(future: Future[T]) -> T:
    """Wait for a curation; a curation process that died ends the run with a clear message."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise FairdicomError(
            "a curation process ended unexpectedly (out of memory?); the batches written "
            "so far are kept: run the same command again to complete the store"
        ) from None


_job: tuple[MappingSet, BatchGraphs] | None = None
"""The mappings and graphs of this curation process (set when it starts)."""


def _start(mappings: MappingSet, graphs: BatchGraphs) -> None:
    """Prepare a curation process: keep the mappings, parse the shapes once, and end with the
    process that started it."""
    global _job
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the pool
    own_standard_streams()
    parent = parent_process()
    if parent is not None:  # a killed ingest never says stop: its death is the signal
        threading.Thread(target=_end_with, args=(parent.sentinel,), daemon=True).start()
    _job = (mappings, graphs)
    validate_curated("")


def _end_with(sentinel: int) -> None:
    """Wait until the parent process has ended, then end this one at once."""
    wait([sentinel])
    os._exit(1)


def _ready() -> bool:
    return _job is not None


def _curate_in_worker(plan: BatchPlan) -> CuratedBatch:
    assert _job is not None, "the curation process was not started"
    return curate_plan(plan, *_job)


class CurationPool:
    """Curate planned batches in ``size`` processes (0: in this process, one at a time).

    The processes are forked when the pool is made, so make it before the store is opened (a
    child that inherits an open store hangs on flush).
    """

    def __init__(self, size: int, mappings: MappingSet, graphs: BatchGraphs) -> None:
        self._mappings = mappings
        self._graphs = graphs
        self._executor: ProcessPoolExecutor | None = None
        if size > 0:
            self._executor = ProcessPoolExecutor(
                size,
                mp_context=get_context("fork"),
                initializer=_start,
                initargs=(mappings, graphs),
            )
            # Submitting forks every process now (the fork method starts them all at once).
            finished(self._executor.submit(_ready))

    def submit(self, plan: BatchPlan) -> Future[CuratedBatch]:
        """Start curating a planned batch; return its future."""
        if self._executor is not None:
            return self._executor.submit(_curate_in_worker, plan)
        future: Future[CuratedBatch] = Future()
        try:
            future.set_result(curate_plan(plan, self._mappings, self._graphs))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def close(self) -> None:
        """Stop the processes (batches not started yet are dropped)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
