"""Coverage: what each dataset's raw layer holds and how much of it the mappings use.

For each dataset: every DICOM attribute of its raw layer (raw and quarantine graphs) with the
series and instances that have it and the queries that read it (none: not mapped); for each
attribute with a value table, each raw value with its series and its concept (none: a coded
value without a concept mapping), and the nodes left without the curated property; for each
coded sequence item (Code Value + Coding Scheme Designator), whether its concept is in the
curated layer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from fairdicom.config import Settings
from fairdicom.curation.check import load_checked
from fairdicom.curation.layers import dataset_graphs
from fairdicom.curation.remap import chosen_datasets
from fairdicom.curation.vocabulary import SCHEMES
from fairdicom.ingest.plan import BatchGraphs
from fairdicom.namespaces import DCMTAG, FD, DataIris
from fairdicom.rdf.mapping import MappingSet
from fairdicom.rdf.terms import integer, lexical
from fairdicom.sparql_files import sparql
from fairdicom.store import GraphStore, open_store

LEVEL_CLASS = {
    "series": FD + "Series",
    "series-or-instance": FD + "Series",
    "study": FD + "Study",
    "patient": FD + "Patient",
}


@dataclass(frozen=True)
class AttributeCount:
    """One attribute of the raw layer: series and instances with it, and what reads it."""

    keyword: str
    series: int
    instances: int
    mapped_by: tuple[str, ...]


@dataclass(frozen=True)
class ValueCount:
    """One raw value of an attribute that has a value table."""

    keyword: str
    value: str
    series: int
    concept: str | None


@dataclass(frozen=True)
class CodeCount:
    """One coded value of a top-level sequence."""

    keyword: str
    scheme: str
    code: str
    meaning: str
    series: int
    concept: str | None
    """The concept IRI of the code when its scheme is a known vocabulary."""
    mapped: bool
    """The concept is a value in the dataset's curated graph."""


@dataclass
class DatasetCoverage:
    """The coverage of one dataset."""

    dataset: str
    attributes: list[AttributeCount] = field(default_factory=list)
    values: list[ValueCount] = field(default_factory=list)
    codes: list[CodeCount] = field(default_factory=list)
    without: dict[str, int] = field(default_factory=dict)
    """Curated property -> nodes of its level that have no value of it."""

    @property
    def unmapped(self) -> list[AttributeCount]:
        return [a for a in self.attributes if not a.mapped_by]

    @property
    def unmapped_values(self) -> list[ValueCount]:
        return [v for v in self.values if v.concept is None]

    @property
    def unmapped_codes(self) -> list[CodeCount]:
        return [c for c in self.codes if not c.mapped]


def _keyword(term: str) -> str:
    value = lexical(term)
    return value[len(DCMTAG) :] if value.startswith(DCMTAG) else value


def readers(mappings: MappingSet) -> dict[str, list[str]]:
    """Return DICOM keyword -> the names of the queries that read it."""
    found: dict[str, list[str]] = defaultdict(list)
    for query in mappings.queries:
        for keyword in sorted(query.reads):
            found[keyword].append(query.name)
    return found


def dataset_coverage(
    store: GraphStore, graphs: BatchGraphs, dataset: str, mappings: MappingSet
) -> DatasetCoverage:
    """Return the coverage of one dataset with these mappings."""

    def run(name: str, **slots: str) -> list[dict[str, str]]:
        text = (
            sparql(__file__, name)
            .replace("$RAW", f"<{graphs.raw}>")
            .replace("$QUARANTINE", f"<{graphs.quarantine}>")
            .replace("$CURATED", f"<{graphs.curated}>")
        )
        for slot, value in slots.items():
            text = text.replace("$" + slot, value)
        return [{k: str(v) for k, v in row.items()} for row in store.select(text)]

    result = DatasetCoverage(dataset)
    read = readers(mappings)
    for row in run("attribute_counts"):
        keyword = _keyword(row["attribute"])
        result.attributes.append(
            AttributeCount(
                keyword,
                integer(row["seriesCount"]),
                integer(row["instances"]),
                tuple(read.get(keyword, ())),
            )
        )
    tables: dict[str, dict[str, str]] = defaultdict(dict)
    for entry in mappings.values:
        tables[entry.attribute][entry.value] = entry.concept
    levels = {m.attribute: m for m in mappings.attributes}
    for attribute, concepts in sorted(tables.items()):
        keyword = attribute[len(DCMTAG) :]
        for row in run("attribute_values", ATTRIBUTE=f"<{attribute}>"):
            value = lexical(row["value"])
            result.values.append(
                ValueCount(keyword, value, integer(row["seriesCount"]), concepts.get(value))
            )
        mapping = levels[attribute]
        cls = LEVEL_CLASS[mapping.level]
        rows = run("nodes_without", CLASS=f"<{cls}>", PROPERTY=f"<{mapping.property}>")
        result.without[mapping.property] = integer(rows[0]["n"]) if rows else 0
    used = {lexical(row["concept"]) for row in run("curated_objects")}
    for row in run("codes"):
        scheme, code = lexical(row["scheme"]), lexical(row["code"])
        namespace = SCHEMES.get(scheme.strip().upper())
        concept = namespace + code.strip() if namespace else None
        result.codes.append(
            CodeCount(
                _keyword(row["attribute"]),
                scheme,
                code,
                lexical(row["meaning"]) if "meaning" in row else "",
                integer(row["seriesCount"]),
                concept,
                concept in used,
            )
        )
    return result


def coverage(settings: Settings, dataset: str | None = None) -> list[DatasetCoverage]:
    """Return the coverage of every dataset of the store (or one) with the mappings in force."""
    mappings = load_checked(settings.mappings_folder, settings)
    iris = DataIris(settings.base_iri)
    store = open_store(settings, read_only=True)
    try:
        return [
            dataset_coverage(store, dataset_graphs(iris, slug), slug, mappings)
            for slug in chosen_datasets(store, iris, dataset)
        ]
    finally:
        store.close()
