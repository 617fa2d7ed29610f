"""Write one batch of complete series: plan, curate, validate, persist.

A batch is written in one transaction. Writing a series again replaces every triple derived
from it: its raw and curated triples, what it contributed to its study, patient, equipment and
sequence items (the curated triples of a study or patient are computed again from all of
their series), and what it left in quarantine. So a re-ingest gives the same triples, a
mapping change plus a re-ingest leaves exactly the new values, and a re-run after a crash
completes the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fairdicom.ingest.curate import curate, owners_of, route, subject_of
from fairdicom.ingest.plan import BatchGraphs, plan_batch
from fairdicom.namespaces import DataIris
from fairdicom.rdf.mapping import MappingSet
from fairdicom.rdf.raw import InstanceRecord, series_triples
from fairdicom.store import GraphStore


@dataclass
class BatchResult:
    """What one batch wrote."""

    triples: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    """Quarantined series IRI -> number of its instances in the batch."""
    reports: dict[str, str] = field(default_factory=dict)


class BatchWriter:
    """Write batches of instance records of one dataset into a store."""

    def __init__(
        self, store: GraphStore, iris: DataIris, dataset: str, mappings: MappingSet
    ) -> None:
        self.store = store
        self.mappings = mappings
        self.data_prefix = iris.base + "id/"
        self.graphs = BatchGraphs(
            iris.graph(dataset, "raw"),
            iris.graph(dataset, "curated"),
            iris.graph(dataset, "quarantine"),
        )

    def write(self, records: list[InstanceRecord]) -> BatchResult:
        """Write complete series (merged with what the store has of them) in one transaction."""
        plan = plan_batch(self.store, self.graphs, records, self.data_prefix)
        raw = {series: series_triples(group) for series, group in plan.by_series.items()}
        lines = [line for group in raw.values() for line in group]
        context = plan.context_series
        curated = [
            line
            for line in curate(self.mappings, lines + plan.context)
            if subject_of(line) not in context
        ]
        instances = {s: [r.instance for r in group] for s, group in plan.by_series.items()}
        owners = owners_of(plan.by_series, curated, plan.context_owners)
        routed = route(raw, curated, owners, instances)
        inserts = {
            self.graphs.raw: routed.raw,
            self.graphs.curated: routed.curated,
            self.graphs.quarantine: routed.quarantine,
        }
        if plan.replacing:
            members = list(plan.by_series) + [i for group in instances.values() for i in group]
            shared = sorted(
                {n for g in plan.by_series.values() for r in g for n in (r.study, r.patient)}
            )
            deletes = {
                self.graphs.raw: members,
                self.graphs.curated: members + shared,  # curated again from all their series
                self.graphs.quarantine: members + shared,  # held again if still failing
            }
            orphans = dict.fromkeys(self.graphs.all, plan.orphan_levels)
            self.store.replace(deletes, inserts, orphans)
        else:  # nothing to replace: a plain load, still one transaction, and much faster
            self.store.add(inserts)
        # Flush RocksDB's memtables after each batch: memory stays flat on long ingests.
        self.store.flush()
        return BatchResult(
            sum(len(v) for v in inserts.values()), routed.quarantined, routed.reports
        )
