"""Write batches of complete series: plan, curate and validate (beside), persist, in order.

A batch is written in one transaction. Writing a series again replaces every triple derived
from it: its raw and curated triples, what it contributed to its study, patient, equipment and
sequence items (the curated triples of a study or patient are computed again from all of
their series), and what it left in quarantine. So a re-ingest gives the same triples, a
mapping change plus a re-ingest leaves exactly the new values, and a re-run after a crash
completes the store.

:class:`BatchQueue` keeps a few batches in flight: each is planned against the store, curated
in a curation process while the writer writes the ones before it, and written in the order
it was planned. A batch that shares a series or a patient with a batch in flight waits until
that one is written, so its plan sees it. Consecutive batches of new series are loaded
together, in one call of the bulk loader per :data:`BULK_BYTES` of N-Quads, or less near the
end of the input (:meth:`BatchQueue.load_bytes`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from fairdicom.ingest.curator import CuratedBatch, CurationPool, curate_plan, finished
from fairdicom.ingest.plan import BatchGraphs, BatchPlan, plan_batch
from fairdicom.namespaces import DataIris
from fairdicom.rdf.mapping import MappingSet
from fairdicom.rdf.raw import InstanceRecord
from fairdicom.store import GraphStore

IN_FLIGHT = 3
"""Batches planned and being curated while the writer writes: enough to keep the curation
processes and the writer busy, few enough to keep memory flat."""
BULK_BYTES = 16 * 2**20
"""N-Quads of consecutive batches of new series loaded in one call of the bulk loader (about
4,000 instances). Each call has a fixed cost besides its data (about 60 ms: an index file per
index, added to the store), and each file it adds is merged by RocksDB's compactions in the
background, on the cores the parsing needs; the loader's memory grows with the data of a call.
Measured on 100,209 files (docs/performance.md): 4 MiB 807 files/s and 215 MiB peak RSS,
8 MiB 1,022 and 256 MiB, 16 MiB 1,081 and 319 MiB, 32 MiB 1,059 and 457 MiB."""
LEAST_LOAD_BYTES = 2**20
"""Near the end of the input a load gathers at least this much (about one batch)."""


@dataclass
class BatchResult:
    """What one batch wrote."""

    triples: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    """Quarantined series IRI -> number of its instances in the batch."""
    reports: dict[str, str] = field(default_factory=dict)


class BatchWriter:
    """Plan and persist batches of instance records of one dataset in a store."""

    def __init__(
        self, store: GraphStore, iris: DataIris, dataset: str, mappings: MappingSet
    ) -> None:
        self.store = store
        self.mappings = mappings
        self.data_prefix = iris.base + "id/"
        self.graphs = BatchGraphs.of(iris, dataset)

    def plan(self, records: list[InstanceRecord]) -> BatchPlan:
        """Plan a batch against what the store holds now (index lookups only)."""
        return plan_batch(self.store, self.graphs, records, self.data_prefix)

    def write(self, records: list[InstanceRecord]) -> BatchResult:
        """Plan, curate and persist complete series in this process, in one transaction."""
        plan = self.plan(records)
        return self.persist(plan, curate_plan(plan, self.mappings, self.graphs))

    def persist(self, plan: BatchPlan, curated: CuratedBatch) -> BatchResult:
        """Write a curated batch in one transaction (merged with what the store has)."""
        if not plan.replacing:
            return self.load([curated])[0]
        members = list(plan.by_series)
        members += [r.instance for group in plan.by_series.values() for r in group]
        shared = sorted(
            {n for g in plan.by_series.values() for r in g for n in (r.study, r.patient)}
        )
        deletes = {
            self.graphs.raw: members,
            self.graphs.curated: members + shared,  # curated again from all their series
            self.graphs.quarantine: members + shared,  # held again if still failing
        }
        orphans = dict.fromkeys(self.graphs.all, plan.orphan_levels)
        self.store.replace(deletes, curated.inserts, orphans)
        # An update goes through RocksDB's memtables: flushing them after each one keeps
        # the memory of a long re-ingest flat.
        self.store.flush()
        return _result(curated)

    def load(self, batches: list[CuratedBatch]) -> list[BatchResult]:
        """Load curated batches of new series in one call of the bulk loader, which writes
        their index files and adds them to the store at once (all or none), without the
        memtables."""
        self.store.load_nquads(b"".join(batch.nquads for batch in batches), bulk=True)
        return [_result(batch) for batch in batches]


def _result(curated: CuratedBatch) -> BatchResult:
    return BatchResult(curated.triples, curated.quarantined, curated.reports)


Written = Callable[[int, BatchResult], None]
"""Called after each batch is written, with its number of instances and what it wrote."""
FileCount = Callable[[], int | None]
"""Returns a number of input files, or None while it is not known."""


def not_known() -> int | None:
    return None


@dataclass
class _InFlight:
    future: Future[CuratedBatch]
    plan: BatchPlan
    keys: set[str]
    instances: int


class BatchQueue:
    """Batches being curated, written in the order they were planned; ``remaining`` returns
    the number of input files the writer has not seen yet, when it is known."""

    def __init__(
        self,
        writer: BatchWriter,
        curation: CurationPool,
        written: Written,
        depth: int = IN_FLIGHT,
        remaining: FileCount = not_known,
    ) -> None:
        self.writer = writer
        self.curation = curation
        self.written = written
        self.depth = depth
        self.remaining = remaining
        self._new_bytes = 0  # N-Quads of the batches of new series so far, and their instances
        self._new_instances = 0
        self._pending: deque[_InFlight] = deque()
        self._loading: list[tuple[_InFlight, CuratedBatch]] = []
        """Curated batches of new series waiting to be loaded together, in order."""
        self._loading_bytes = 0

    def put(self, records: list[InstanceRecord]) -> None:
        """Plan a batch and hand it to curation (writing older batches when too many wait)."""
        keys = {r.series for r in records} | {r.patient for r in records}
        waiting = [*self._pending, *(batch for batch, _ in self._loading)]
        if any(keys & batch.keys for batch in waiting):
            self.drain()  # its plan must see what those batches write
        plan = self.writer.plan(records)
        self._pending.append(_InFlight(self.curation.submit(plan), plan, keys, len(records)))
        while len(self._pending) > self.depth:
            self._write_oldest()

    def write_ready(self) -> None:
        """Write the oldest batches whose curation is done (never waits)."""
        while self._pending and self._pending[0].future.done():
            self._write_oldest()

    def drain(self) -> None:
        """Write every batch in flight."""
        while self._pending:
            self._write_oldest()
        self._load()

    def _write_oldest(self) -> None:
        waiting = self._pending.popleft()
        curated = finished(waiting.future)
        if waiting.plan.replacing:
            self._load()  # the batches before it first
            self.written(waiting.instances, self.writer.persist(waiting.plan, curated))
            return
        self._loading.append((waiting, curated))
        self._loading_bytes += len(curated.nquads)
        self._new_bytes += len(curated.nquads)
        self._new_instances += waiting.instances
        if self._loading_bytes >= self.load_bytes():
            self._load()

    def load_bytes(self) -> int:
        """Return the N-Quads to gather before a load: :data:`BULK_BYTES`, or, when the
        number of files left is known, no more than those files are expected to write (at
        least :data:`LEAST_LOAD_BYTES`). The load left when the last file is parsed runs
        alone on the machine; so the loads shrink as the input ends, and run while the
        parsing goes on (on 5,000 files, all of a run's N-Quads were loaded at the end)."""
        left = self.remaining()
        if left is None or not self._new_instances:
            return BULK_BYTES
        expected = left * self._new_bytes // self._new_instances
        return min(BULK_BYTES, max(LEAST_LOAD_BYTES, expected))

    def _load(self) -> None:
        """Load the batches of new series waiting to be loaded, in one call."""
        if not self._loading:
            return
        batches, self._loading, self._loading_bytes = self._loading, [], 0
        results = self.writer.load([curated for _, curated in batches])
        for (waiting, _), result in zip(batches, results, strict=True):
            self.written(waiting.instances, result)
