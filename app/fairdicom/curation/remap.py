"""Apply edited mappings to the store: rebuild each dataset's curated layer from its raw layer.

No DICOM file is read: the raw layer inside the store is the source. Each dataset is rebuilt
in memory, by the fast path (:mod:`fairdicom.curation.quick_rebuild`: one pass, only what
changes validated) where it applies, else by the full rebuild
(:mod:`fairdicom.curation.rebuild`); then its change, the lines to remove from and
add to its curated, quarantine and raw graphs, and the provenance of the remap go into the
store in one update: a reader sees the old graphs or the new ones, never a mix. Series that
fail validation with the new mappings go to quarantine and series that pass come out, as in
an ingest. Then the vocabulary and mappings graphs are replaced and the catalogue refreshed.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fairdicom.catalog.build import refresh_catalog
from fairdicom.config import Settings
from fairdicom.curation.check import load_checked
from fairdicom.curation.layers import Member, dataset_graphs, members
from fairdicom.curation.quick_rebuild import quick_rebuild
from fairdicom.curation.rebuild import GraphChange, Progress, Rebuilt, rebuild
from fairdicom.curation.versions import (
    MappingVersion,
    RemapRecord,
    git_commit,
    remap_lines,
    remap_update,
)
from fairdicom.curation.vocabulary import publish, stored_queries
from fairdicom.errors import FairdicomError, UsageError
from fairdicom.namespaces import DataIris
from fairdicom.rdf.mapping import MappingSet
from fairdicom.rdf.terms import iris_in
from fairdicom.store import GraphStore, open_store


def _ignore(_: int) -> None:
    return None


@dataclass
class DatasetRemap:
    """What the remap of one dataset changed."""

    dataset: str
    series: int = 0
    added: int = 0
    removed: int = 0
    entering: list[str] = field(default_factory=list)
    """Series that went to quarantine."""
    released: list[str] = field(default_factory=list)
    """Series that came out of quarantine."""
    seconds: float = 0.0
    written: set[str] = field(default_factory=set, repr=False)
    """The IRIs of the lines the remap added (for the vocabulary graph)."""
    unchanged: dict[str, str] = field(default_factory=dict, repr=False)
    """Graph IRI -> digest of the graphs read whole that the remap left as they were (their
    dump members are kept)."""
    quick: bool = False
    """Whether the fast path rebuilt the dataset (see fairdicom.curation.quick_rebuild)."""


@dataclass
class RemapSummary:
    """What a remap did, dataset by dataset."""

    version: MappingVersion
    datasets: list[DatasetRemap] = field(default_factory=list)
    catalog: str = ""
    seconds: float = 0.0


def datasets_in(store: GraphStore, iris: DataIris) -> list[str]:
    """Return the slugs of the datasets that have a raw or quarantine graph."""
    pattern = re.compile(re.escape(iris.base) + r"graph/([^/]+)/(?:raw|quarantine)$")
    return sorted({m.group(1) for g in store.graphs() if (m := pattern.match(g))})


def chosen_datasets(store: GraphStore, iris: DataIris, dataset: str | None) -> list[str]:
    """Return the datasets to work on: all, or the one named (which must be in the store)."""
    slugs = datasets_in(store, iris)
    if dataset is None:
        return slugs
    if dataset not in slugs:
        known = ", ".join(slugs) or "none"
        raise UsageError(f"dataset '{dataset}' is not in the store (datasets: {known})")
    return [dataset]


def _data(graph: str, lines: set[str]) -> str:
    return f"GRAPH <{graph}> {{\n{''.join(sorted(lines))}}}\n" if lines else ""


def change_update(rebuilt: Rebuilt) -> str:
    """Return the update that applies a rebuild's change (DELETE DATA, then INSERT DATA)."""
    parts = []
    updates: list[tuple[str, GraphChange]] = rebuilt.updates()
    removed = "".join(_data(graph, change.removed) for graph, change in updates)
    added = "".join(_data(graph, change.added) for graph, change in updates)
    if removed:
        parts.append(f"DELETE DATA {{\n{removed}}}")
    if added:
        parts.append(f"INSERT DATA {{\n{added}}}")
    return " ;\n".join(parts)


def remap_dataset(
    store: GraphStore,
    iris: DataIris,
    dataset: str,
    mappings: MappingSet,
    version: MappingVersion,
    progress: Progress = _ignore,
    found: list[Member] | None = None,
    *,
    full: bool = False,
) -> DatasetRemap:
    """Rebuild one dataset and write its change and provenance in one transaction (``full``:
    never take the fast path of :mod:`fairdicom.curation.quick_rebuild`)."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    graphs = dataset_graphs(iris, dataset)
    found = members(store, graphs) if found is None else found
    quick = None if full else quick_rebuild(store, iris, dataset, graphs, mappings, found, progress)
    rebuilt = quick or rebuild(
        store, graphs, mappings, iris.base + "id/", progress=progress, found=found
    )
    for _, change in rebuilt.updates():
        if any(line.startswith("_:") or " _:" in line for line in change.removed):
            raise FairdicomError(
                f"the graphs of dataset '{dataset}' hold blank nodes, which a remap cannot "
                "remove one by one: make the mapping rules write IRIs, then ingest again"
            )
    record = RemapRecord(
        uuid.uuid4().hex,
        dataset,
        started,
        datetime.now(UTC),
        len(rebuilt.curated.added),
        len(rebuilt.curated.removed),
    )
    triples = remap_lines(iris, record, version, graphs.all)
    changed = {graph for graph, change in rebuilt.updates() if change}
    update = change_update(rebuilt)
    provenance = remap_update(iris, triples, graphs.all)
    store.update(f"{update} ;\n{provenance}" if update else provenance)
    store.flush()
    return DatasetRemap(
        dataset,
        rebuilt.series,
        record.added,
        record.removed,
        sorted(rebuilt.entering),
        sorted(rebuilt.released),
        time.perf_counter() - clock,
        {i for _, change in rebuilt.updates() for line in change.added for i in iris_in(line)},
        {g: d for g, d in rebuilt.digests.items() if g not in changed},
        quick is not None,
    )


def remap(
    settings: Settings,
    dataset: str | None = None,
    *,
    total: Callable[[int], None] = _ignore,
    progress: Progress = _ignore,
    refresh: bool = True,
    full: bool = False,
) -> RemapSummary:
    """Apply the mappings in force to every dataset of the store (or one), from the raw layer.

    ``total`` is called once with the number of series, ``progress`` with each chunk's.
    The vocabulary and mappings graphs are replaced, and the catalogue refreshed (``refresh``),
    when a curated triple changed. ``full``: rebuild and validate every series of every
    dataset (no fast path).
    """
    clock = time.perf_counter()
    folder = settings.mappings_folder
    mappings = load_checked(folder, settings)
    version = MappingVersion(mappings.version, git_commit(folder))
    iris = DataIris(settings.base_iri)
    summary = RemapSummary(version)
    changed = False
    store = open_store(settings)
    try:
        slugs = chosen_datasets(store, iris, dataset)
        found = {slug: members(store, dataset_graphs(iris, slug)) for slug in slugs}
        total(sum(len(series) for series in found.values()))
        for slug in slugs:
            summary.datasets.append(
                remap_dataset(
                    store, iris, slug, mappings, version, progress, found[slug], full=full
                )
            )
        changed = any(d.added or d.removed for d in summary.datasets)
        if changed or stored_queries(store, iris)[0] != version.version:
            written = set().union(*(d.written for d in summary.datasets))
            publish(store, iris, mappings, version, written)
        store.flush()
    finally:
        store.close()
    if refresh and not changed:
        summary.catalog = "catalogue unchanged (no curated triple changed)"
    elif refresh:
        try:
            unchanged = {g: d for r in summary.datasets for g, d in r.unchanged.items()}
            published = refresh_catalog(settings, known=unchanged).published
            summary.catalog = f"catalogue refreshed: {len(published)} dataset(s) published"
        except FairdicomError as exc:
            summary.catalog = (
                f"catalogue not refreshed: {exc} (fix it, then run `fairdicom catalog`)"
            )
    summary.seconds = time.perf_counter() - clock
    return summary
