"""Refresh the catalogue: compute each described dataset's figures and dump, write the graph.

``fairdicom catalog`` runs :func:`refresh_catalog`, and so does the ``ingest`` command after
every ingest (the ingest library function stays independent of the catalogue). Both read the
site's descriptions (the ``descriptions`` setting) and concept labels (``mappings``) and write
the dumps into the site's data folder (``data_dir``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rdflib import Graph

from fairdicom.catalog.descriptions import generated_description, load_descriptions
from fairdicom.catalog.dump import write_dump
from fairdicom.catalog.graph import DatasetEntry, build_catalog, catalog_graph_iri
from fairdicom.catalog.served import served_catalog
from fairdicom.catalog.stats import dataset_slugs, dataset_stats
from fairdicom.config import Settings
from fairdicom.errors import ConfigError
from fairdicom.namespaces import DataIris
from fairdicom.store import GraphStore, open_store

T = TypeVar("T")


@dataclass
class CatalogSummary:
    """What a refresh did: the graph as built and as served (read back from the store), the
    published slugs, those published with a generated description, the triples written."""

    graph: Graph
    served: Graph = field(default_factory=Graph)
    published: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)
    """Slugs the descriptions file lacks: published with a generated minimal description."""
    missing: list[str] = field(default_factory=list)
    triples: int = 0
    figures_seconds: float = 0.0
    """Time spent computing the datasets' figures (queries over their graphs)."""
    dumps_seconds: float = 0.0
    """Time spent writing the dumps."""
    seconds: float = 0.0
    """Time the whole refresh took."""


def refresh_catalog(
    settings: Settings,
    descriptions: Path | None = None,
    known: Mapping[str, str] | None = None,
) -> CatalogSummary:
    """Rebuild the catalogue graph and the dumps of every dataset in the store, described by
    ``descriptions`` (default: the ``descriptions`` setting) or, for a dataset it lacks, by a
    generated minimal description (see :func:`generated_description`).

    ``known``: graph IRI -> digest of graphs the caller has just read whole (see
    :func:`fairdicom.catalog.dump.write_dump`): their dump members are kept when unchanged.
    """
    clock = time.perf_counter()
    timings = {"figures": 0.0, "dumps": 0.0}

    def timed(part: str, compute: Callable[..., T], *args: Any) -> T:
        start = time.perf_counter()
        try:
            return compute(*args)
        finally:
            timings[part] += time.perf_counter() - start

    described = load_descriptions(descriptions or settings.descriptions_file)
    iris = DataIris(settings.base_iri)
    data_folder, mappings = settings.data_folder, settings.mappings_folder
    store = open_store(settings)
    try:
        slugs = dataset_slugs(store, iris)
        try:
            entries = [
                DatasetEntry(
                    described.datasets.get(slug) or generated_description(slug, described.catalog),
                    timed("figures", dataset_stats, store, iris, slug, mappings),
                    timed("dumps", write_dump, store, iris, slug, data_folder, known),
                )
                for slug in slugs
            ]
        except OSError as exc:
            raise ConfigError(
                f"cannot write the dumps into the data folder {data_folder}: "
                f"{exc.strerror or exc}; make it writable or set data_dir to another folder"
            ) from None
        graph = build_catalog(iris, described.catalog, entries)
        lines = graph.serialize(format="nt")
        target = f"<{catalog_graph_iri(iris)}>"
        store.update(
            f"DROP SILENT GRAPH {target} ;\nINSERT DATA {{ GRAPH {target} {{\n{lines}}} }}"
        )
        store.flush()
        served = served_catalog(stored_catalog(store, iris))
    finally:
        store.close()
    return CatalogSummary(
        graph,
        served,
        published=[e.description.slug for e in entries],
        generated=[slug for slug in slugs if slug not in described.datasets],
        missing=sorted(set(described.datasets) - set(slugs)),
        triples=len(graph),
        figures_seconds=timings["figures"],
        dumps_seconds=timings["dumps"],
        seconds=time.perf_counter() - clock,
    )


def stored_catalog(store: GraphStore, iris: DataIris) -> Graph:
    """Return the catalogue graph as the store gives it back (with its canonical literals)."""
    out = io.BytesIO()
    graph = catalog_graph_iri(iris)
    if graph in store.graphs():
        store.dump(out, "ntriples", graph)
    return Graph().parse(data=out.getvalue().decode("utf-8"), format="nt")
