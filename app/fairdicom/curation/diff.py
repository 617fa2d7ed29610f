"""What edited mappings would change in the stored curated layer, per rule, without writing.

The diff rebuilds each dataset as ``mapping apply`` would (:func:`rebuild`) and compares with
what the store holds: the same change apply writes, so the counts agree exactly. Each added
triple is put down to the query of the edited mappings that makes it; each removed triple to
the query of the mapping version in the store's mappings graph that made it (or, without that
graph, to the edited query that writes its predicate).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from fairdicom.config import Settings
from fairdicom.curation.check import load_checked
from fairdicom.curation.layers import dataset_graphs
from fairdicom.curation.rebuild import Progress, rebuild
from fairdicom.curation.remap import chosen_datasets
from fairdicom.curation.vocabulary import stored_queries
from fairdicom.namespaces import DataIris
from fairdicom.rdf.mapping import MappingSet
from fairdicom.store import GraphStore, open_store

NO_RULE = "(no query of these mappings)"


def _ignore(_: int) -> None:
    return None


@dataclass
class QueryChange:
    """The curated triples one query adds and removes."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class DatasetDiff:
    """The change of one dataset, per query, and the series that move in or out of quarantine."""

    dataset: str
    series: int = 0
    queries: dict[str, QueryChange] = field(default_factory=dict)
    entering: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0


@dataclass
class MappingDiff:
    """The change of every dataset, and the two mapping versions compared."""

    version: str
    stored: str | None
    datasets: list[DatasetDiff] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(d.added or d.removed or d.entering or d.released for d in self.datasets)


def _owner(line: str, found: dict[str, set[str]]) -> list[str]:
    return [name for name, lines in found.items() if line in lines]


def _writer(line: str, mappings: MappingSet) -> str:
    predicate = line.split(" ", 2)[1][1:-1]
    return next((q.name for q in mappings.queries if predicate in q.writes), NO_RULE)


def diff_dataset(
    store: GraphStore,
    iris: DataIris,
    dataset: str,
    mappings: MappingSet,
    previous: list[tuple[str, str]],
    progress: Progress = _ignore,
) -> DatasetDiff:
    """Return what applying ``mappings`` would change in one dataset."""
    rebuilt = rebuild(
        store,
        dataset_graphs(iris, dataset),
        mappings,
        iris.base + "id/",
        progress=progress,
        attribute=True,
        previous=previous,
    )
    result = DatasetDiff(dataset, rebuilt.series)
    queries: dict[str, QueryChange] = defaultdict(QueryChange)
    for line in sorted(rebuilt.curated.added):
        for name in _owner(line, rebuilt.by_query) or [NO_RULE]:
            queries[name].added.append(line)
    for line in sorted(rebuilt.curated.removed):
        owners = _owner(line, rebuilt.by_previous) if previous else []
        for name in owners or [_writer(line, mappings)]:
            queries[name].removed.append(line)
    result.queries = dict(sorted(queries.items()))
    result.entering = sorted(rebuilt.entering)
    result.released = sorted(rebuilt.released)
    result.added = len(rebuilt.curated.added)
    result.removed = len(rebuilt.curated.removed)
    return result


def mapping_diff(
    settings: Settings, dataset: str | None = None, *, progress: Progress = _ignore
) -> MappingDiff:
    """Compare the mappings in force with the store's curated layer, dataset by dataset."""
    mappings = load_checked(settings.mappings_folder, settings)
    iris = DataIris(settings.base_iri)
    store = open_store(settings, read_only=True)
    try:
        stored, previous = stored_queries(store, iris)
        result = MappingDiff(mappings.version, stored)
        for slug in chosen_datasets(store, iris, dataset):
            result.datasets.append(diff_dataset(store, iris, slug, mappings, previous, progress))
    finally:
        store.close()
    return result
