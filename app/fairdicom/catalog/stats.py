"""What the store tells about one dataset: counts, age and date ranges, concepts, run dates."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from fairdicom.namespaces import DataIris
from fairdicom.rdf.sssom import expand, read_table
from fairdicom.rdf.terms import Iri, Term, lexical, parse_term
from fairdicom.resources import MAPPINGS
from fairdicom.sparql_files import sparql
from fairdicom.store import GraphStore


@dataclass
class DatasetStats:
    """Figures computed from a dataset's graphs and the provenance graph."""

    patients: int = 0
    studies: int = 0
    series: int = 0
    instances: int = 0
    min_age: int | None = None
    max_age: int | None = None
    first_date: str | None = None
    last_date: str | None = None
    issued: str | None = None
    modified: str | None = None
    modalities: dict[str, str] = field(default_factory=dict)
    body_parts: dict[str, str] = field(default_factory=dict)
    manufacturers: list[str] = field(default_factory=list)


def dataset_slugs(store: GraphStore, iris: DataIris) -> list[str]:
    """Return the slugs of the datasets that have a raw or curated graph, sorted."""
    pattern = re.compile(re.escape(iris.base) + r"graph/([^/]+)/(?:raw|curated)$")
    return sorted({m.group(1) for g in store.graphs() if (m := pattern.match(g))})


def dataset_stats(
    store: GraphStore, iris: DataIris, slug: str, mappings: Path = MAPPINGS
) -> DatasetStats:
    """Compute the figures of one dataset with the queries in ``queries/``; concepts are
    labelled from the value tables of the ``mappings`` folder."""

    def run(name: str) -> list[dict[str, Term]]:
        text = (
            sparql(__file__, name)
            .replace("$RAW", f"<{iris.graph(slug, 'raw')}>")
            .replace("$CURATED", f"<{iris.graph(slug, 'curated')}>")
            .replace("$PROVENANCE", f"<{iris.provenance_graph}>")
            .replace("$DATASET", f"<{iris.dataset(slug)}>")
        )
        return store.select(text)

    stats = DatasetStats()
    for row in run("counts"):
        stats.patients = int(_value(row["patients"]))
        stats.studies = int(_value(row["studies"]))
        stats.series = int(_value(row["seriesCount"]))
        stats.instances = int(_value(row["instances"]))
    for row in run("ranges"):
        stats.min_age = int(_value(row["minAge"])) if "minAge" in row else None
        stats.max_age = int(_value(row["maxAge"])) if "maxAge" in row else None
        stats.first_date = _value(row["firstDate"]) if "firstDate" in row else None
        stats.last_date = _value(row["lastDate"]) if "lastDate" in row else None
    for row in run("runs"):
        stats.issued = _value(row["issued"]) if "issued" in row else None
        stats.modified = _value(row["modified"]) if "modified" in row else None
    labels = concept_labels(mappings)
    for row in run("concepts"):
        kind, term = _value(row["kind"]), parse_term(row["value"])
        if kind == "manufacturer":
            stats.manufacturers.append(term.value)
        elif isinstance(term, Iri):
            concept = term.value
            label = labels.get(concept) or concept.rstrip("/").rsplit("/", 1)[-1]
            (stats.modalities if kind == "modality" else stats.body_parts)[concept] = label
    return stats


def _value(term: Term) -> str:
    """Return the lexical form of a literal."""
    return lexical(term)


def concept_labels(mappings: Path = MAPPINGS) -> dict[str, str]:
    """Return concept IRI -> label from the value mapping tables (object_id, object_label)."""
    labels: dict[str, str] = {}
    for path in sorted(mappings.glob("*.sssom.tsv")):
        table = read_table(path)
        if "object_label" not in table.columns:
            continue
        for line, row in table.rows:
            if row.get("object_label"):
                labels.setdefault(expand(table, line, row, "object_id"), row["object_label"])
    return labels
