"""Write one batch of complete series: raw layer, curated layer, validation, quarantine.

A batch is written in one transaction. Writing the same series again replaces it, so a
re-ingest gives the same triples and a re-run after a crash completes the store.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from app.namespaces import FD, DataIris
from app.rdf.mapping import MappingSet
from app.rdf.raw import InstanceRecord, records_from_store, series_triples
from app.rdf.terms import iri, literal, triple
from app.rdf.validation import validate_curated
from app.sparql_files import sparql
from app.store import GraphStore, MemoryStore

REPORT = iri(FD + "validationReport")


@dataclass
class BatchResult:
    """What one batch wrote."""

    triples: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    """Quarantined series IRI -> number of its instances in the batch."""
    reports: dict[str, str] = field(default_factory=dict)


def curate(mappings: MappingSet, raw_lines: list[str]) -> list[str]:
    """Run every mapping query over the raw triples of complete series; return curated lines."""
    memory = MemoryStore()
    memory.load_lines(raw_lines)
    curated: dict[str, None] = {}
    for query in mappings.queries:
        curated.update(dict.fromkeys(memory.construct(query.sparql)))
    return list(curated)


class BatchWriter:
    """Write batches of instance records of one dataset into a store."""

    def __init__(
        self, store: GraphStore, iris: DataIris, dataset: str, mappings: MappingSet
    ) -> None:
        self.store = store
        self.mappings = mappings
        self.raw = iris.graph(dataset, "raw")
        self.curated = iris.graph(dataset, "curated")
        self.quarantine = iris.graph(dataset, "quarantine")

    def _stored(self, series: list[str]) -> bool:
        """Return whether the store has any of these series already (raw or quarantined)."""
        query = (
            sparql(__file__, "stored_series")
            .replace("$SERIES", " ".join(series))
            .replace("$GRAPHS", f"<{self.raw}> <{self.quarantine}>")
        )
        return self.store.ask(query)

    def _with_stored(self, by_series: dict[str, list[InstanceRecord]]) -> None:
        """Add to each series the instances already stored that this batch does not carry."""
        query = (
            sparql(__file__, "series_state")
            .replace("$SERIES", " ".join(by_series))
            .replace("$RAW", f"<{self.raw}>")
        )
        rows: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for row in self.store.select(query):
            rows[row["series"]].append((row["s"], row["p"], row["o"]))
        for series, stored in rows.items():
            present = {r.instance for r in by_series[series]}
            by_series[series] += [
                r for r in records_from_store(series, stored) if r.instance not in present
            ]

    def write(self, records: list[InstanceRecord]) -> BatchResult:
        """Write complete series (merged with what the store has of them) in one transaction."""
        by_series: dict[str, list[InstanceRecord]] = defaultdict(list)
        for record in records:
            by_series[record.series].append(record)
        stored = self._stored(list(by_series))
        if stored:
            self._with_stored(by_series)
        raw = {series: series_triples(group) for series, group in by_series.items()}
        curated = curate(self.mappings, [line for lines in raw.values() for line in lines])
        # Instances get their two curated triples from one rule (hierarchy.rq), so validation,
        # the costly step, looks at series, studies, patients and equipment; `fairdicom
        # validate` checks instances too.
        instances = {r.instance for group in by_series.values() for r in group}
        verdict = validate_curated(
            "".join(c for c in curated if c.split(" ", 1)[0] not in instances)
        )
        bad = {iri(s) for s in verdict.failing_series} & raw.keys()
        result = BatchResult()
        owners = _owners(by_series)
        held: list[str] = []
        kept: list[str] = []
        for line in curated:
            owner = owners.get(line.split(" ", 1)[0])
            (held if owner and owner <= bad else kept).append(line)
        quarantine_lines = [line for s in bad for line in raw[s]] + held
        for series in sorted(bad):
            mine = [c for c in curated if series in owners.get(c.split(" ", 1)[0], {series})]
            report = validate_curated("".join(mine)).report_text
            result.reports[series] = report
            result.quarantined[series] = len(by_series[series])
            quarantine_lines.append(triple(series, REPORT, literal(report)))
        subjects = list(raw) + [r.instance for group in by_series.values() for r in group]
        inserts = {
            self.raw: [line for s, lines in raw.items() if s not in bad for line in lines],
            self.curated: kept,
            self.quarantine: quarantine_lines,
        }
        if stored:
            self.store.replace({g: subjects for g in inserts}, inserts)
        else:  # nothing to replace: a plain load, still one transaction, and much faster
            self.store.add(inserts)
        # Flush RocksDB's memtables after each batch: memory stays flat on long ingests.
        self.store.flush()
        result.triples = sum(len(v) for v in inserts.values())
        return result


def _owners(by_series: dict[str, list[InstanceRecord]]) -> dict[str, set[str]]:
    """Map each resource term of the batch to the series it belongs to."""
    owners: dict[str, set[str]] = defaultdict(set)
    for series, group in by_series.items():
        owners[series].add(series)
        for record in group:
            owners[record.instance].add(series)
            owners[record.study].add(series)
            owners[record.patient].add(series)
    return owners
