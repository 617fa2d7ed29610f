"""Refresh the catalogue: compute each described dataset's figures and dump, write the graph.

``fairdicom catalog`` runs :func:`refresh_catalog`; the ingest command does not (ingest stays
independent of the catalogue), so run ``fairdicom catalog`` after an ingest to publish it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph

from fairdicom.catalog.descriptions import load_descriptions
from fairdicom.catalog.dump import write_dump
from fairdicom.catalog.graph import DatasetEntry, build_catalog, catalog_graph_iri
from fairdicom.catalog.stats import dataset_slugs, dataset_stats
from fairdicom.config import Settings
from fairdicom.namespaces import DataIris
from fairdicom.resources import DESCRIPTIONS
from fairdicom.store import open_store


@dataclass
class CatalogSummary:
    """What a refresh did: the published slugs, the undescribed ones, the triples written."""

    graph: Graph
    published: list[str] = field(default_factory=list)
    undescribed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    triples: int = 0


def refresh_catalog(settings: Settings, descriptions: Path = DESCRIPTIONS) -> CatalogSummary:
    """Rebuild the catalogue graph and the dumps of the described datasets in the store."""
    described = load_descriptions(descriptions)
    iris = DataIris(settings.base_iri)
    store = open_store(settings.store)
    try:
        slugs = dataset_slugs(store, iris)
        entries = [
            DatasetEntry(
                described.datasets[slug],
                dataset_stats(store, iris, slug),
                write_dump(store, iris, slug),
            )
            for slug in slugs
            if slug in described.datasets
        ]
        graph = build_catalog(iris, described.catalog, entries)
        lines = graph.serialize(format="nt")
        target = f"<{catalog_graph_iri(iris)}>"
        store.update(
            f"DROP SILENT GRAPH {target} ;\nINSERT DATA {{ GRAPH {target} {{\n{lines}}} }}"
        )
        store.flush()
    finally:
        store.close()
    return CatalogSummary(
        graph,
        published=[e.description.slug for e in entries],
        undescribed=[slug for slug in slugs if slug not in described.datasets],
        missing=sorted(set(described.datasets) - set(slugs)),
        triples=len(graph),
    )
