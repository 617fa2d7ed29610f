"""Take-away of a cohort: its series as CSV, TSV or JSON, and its RDF description.

The description is a ``dcat:Dataset`` named by the address that serves it
(``{base}explore/cohort?<selection>``), or, once the admin saved it into the store, by
``{base}id/cohort/<hash of the selection>``: a title, the day it was issued, the selection and
the explorer page that shows it, the SPARQL query of its series, the datasets it draws on and
its counts (each protected: "<5").
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from rdflib import XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, PROV, RDF

from fairdicom.explore.cells import Cell, Counts
from fairdicom.explore.counts import Answer, compact
from fairdicom.explore.facets import BY_KEY, Selection
from fairdicom.namespaces import FD, DataIris

HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
FDNS = Namespace(FD)
COLUMNS = (
    "series",
    "study",
    "patient",
    "dataset",
    "modality",
    "modality_label",
    "body_part",
    "body_part_label",
    "age",
    "sex",
    "sex_label",
    "study_date",
    "instances",
)
_DATASET_GRAPH = re.compile(r"/graph/([^/]+)/curated$")


@dataclass(frozen=True)
class Rows:
    """The series of a cohort, one dict of :data:`COLUMNS` each."""

    rows: list[dict[str, str]]

    @property
    def patients(self) -> int:
        """Return how many patients the rows hold."""
        return len({row["patient"] for row in self.rows})


def read_rows(body: bytes, known: Answer) -> Rows:
    """Read the cohort query's SPARQL JSON answer into rows (labels from the view's values)."""
    bindings: list[dict[str, Any]] = json.loads(body)["results"]["bindings"]

    def text(row: dict[str, Any], name: str) -> str:
        return str(row[name]["value"]) if name in row else ""

    def label(facet: str, param: str) -> str:
        value = known.values.get(facet, {}).get(param)
        return value.label if value is not None else ""

    rows = []
    for row in bindings:
        found = _DATASET_GRAPH.search(text(row, "g"))
        modality = compact(text(row, "modality"))
        part = compact(text(row, "bodyPart"))
        sex = compact(text(row, "sex"))
        rows.append(
            {
                "series": text(row, "series"),
                "study": text(row, "study"),
                "patient": text(row, "patient"),
                "dataset": found.group(1) if found else "",
                "modality": modality,
                "modality_label": label("modality", modality),
                "body_part": part,
                "body_part_label": label("body_part", part),
                "age": text(row, "age"),
                "sex": sex,
                "sex_label": label("sex", sex),
                "study_date": text(row, "date"),
                "instances": text(row, "instances"),
            }
        )
    return Rows(rows)


def rows_document(rows: Rows, fmt: str) -> tuple[str, str]:
    """Return the rows as ``csv``, ``tsv`` or ``json``, with the media type."""
    if fmt == "json":
        return json.dumps({"columns": list(COLUMNS), "series": rows.rows}, indent=1), (
            "application/json"
        )
    out = io.StringIO()
    writer = csv.DictWriter(
        out, COLUMNS, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\r\n"
    )
    writer.writeheader()
    writer.writerows(rows.rows)
    return out.getvalue(), "text/tab-separated-values" if fmt == "tsv" else "text/csv"


def cohort_id(selection: Selection) -> str:
    """Return the stable key of a selection (the same selection, the same cohort IRI)."""
    return hashlib.sha256(urlencode(selection.pairs()).encode()).hexdigest()[:16]


def cohort_title(selection: Selection, known: Answer) -> str:
    """Return a title that says what the selection is."""
    parts = []
    for key, params in selection.values.items():
        facet = BY_KEY[key]
        values = known.values.get(key, {})
        labels = [values[p].label if p in values else p for p in params]
        if facet.kind == "band":
            labels = [next((b.label for b in facet.bands if b.key == p), p) for p in params]
        parts.append(f"{facet.title.lower()} {' or '.join(labels)}")
    for key, (low, high) in selection.ranges.items():
        facet = BY_KEY[key]
        bounds = [f"at least {low}" if low is not None else "", f"at most {high}" if high else ""]
        parts.append(f"{facet.title.lower()} {' and '.join(b for b in bounds if b)} {facet.unit}")
    return "Cohort: " + ("; ".join(parts) if parts else "every series")


def describe(
    selection: Selection,
    known: Answer,
    total: Counts,
    query: str,
    iris: DataIris,
    datasets: Sequence[str],
    page: str,
    node_iri: str,
    issued: date | None = None,
) -> Graph:
    """Return the RDF description of a cohort named ``node_iri``."""
    graph = Graph()
    graph.bind("dcat", DCAT)
    graph.bind("dct", DCTERMS)
    graph.bind("fd", FDNS)
    graph.bind("healthdcatap", HEALTH)
    graph.bind("prov", PROV)
    node = URIRef(node_iri)
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, RDF.type, FDNS.Cohort))
    graph.add((node, DCTERMS.title, Literal(cohort_title(selection, known), lang="en")))
    graph.add(
        (node, DCTERMS.issued, Literal((issued or date.today()).isoformat(), datatype=XSD.date))
    )
    graph.add(
        (
            node,
            DCTERMS.description,
            Literal(
                "A cohort selected in the fairdicom explorer: the series its query selects.",
                lang="en",
            ),
        )
    )
    graph.add((node, FDNS.selection, Literal(urlencode(selection.pairs()))))
    graph.add((node, DCAT.landingPage, URIRef(page)))
    graph.add((node, FDNS.sparqlQuery, Literal(query)))
    for slug in datasets:
        graph.add((node, PROV.wasDerivedFrom, URIRef(iris.dataset(slug))))
    for predicate, cell in _counts(total).items():
        graph.add((node, predicate, _count(cell)))
    return graph


def _counts(total: Counts) -> Mapping[URIRef, Cell]:
    return {
        HEALTH.numberOfUniqueIndividuals: total.patients,
        FDNS.numberOfStudies: total.studies,
        HEALTH.numberOfRecords: total.series,
        FDNS.numberOfInstances: total.instances,
    }


def _count(cell: Cell) -> Literal:
    """Return a count as an integer, or a hidden one as the text "<5"."""
    if cell.value is None:
        return Literal(cell.plain)
    return Literal(cell.value, datatype=XSD.nonNegativeInteger)
