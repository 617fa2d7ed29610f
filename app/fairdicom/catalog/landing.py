"""What the HTML pages of the catalogue show, read from the catalogue graph, and schema.org."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, SKOS

from fairdicom.catalog.graph import HEALTH, SPDX, catalog_iri
from fairdicom.namespaces import DataIris

PREFERRED = ("en", None)


@dataclass
class DatasetView:
    """The facts of one dataset as the landing page prints them."""

    iri: str
    slug: str
    title: str
    description: str
    catalog: str
    catalog_title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    licence: str | None = None
    publisher: str | None = None
    download: str | None = None
    byte_size: str | None = None
    sha256: str | None = None
    endpoint: str | None = None
    temporal: tuple[str, str] | None = None
    modified: str | None = None
    age_range: tuple[str, str] | None = None
    breakdown: dict[str, list[Breakdown]] = field(default_factory=dict)


@dataclass(frozen=True)
class Breakdown:
    """The figures of one modality or body part of a dataset."""

    concept: str
    label: str
    patients: int
    studies: int
    series: int
    instances: int


BREAKDOWN_KINDS = {"modality": "modality", "bodyPart": "body part"}
"""The kinds of concept the landing page counts by (``?kind`` of the query), with their names."""


def breakdown(bindings: list[dict[str, dict[str, str]]]) -> dict[str, list[Breakdown]]:
    """Return the per-modality and per-body-part figures of SPARQL JSON rows, by kind name."""
    found: dict[str, list[Breakdown]] = {name: [] for name in BREAKDOWN_KINDS.values()}
    for row in bindings:
        concept = row["concept"]["value"]
        label = row.get("label", {}).get("value") or concept.rstrip("/").rsplit("/", 1)[-1]
        figures = [int(row[name]["value"]) for name in BREAKDOWN_FIGURES]
        found[BREAKDOWN_KINDS[row["kind"]["value"]]].append(Breakdown(concept, label, *figures))
    return found


BREAKDOWN_FIGURES = ("patients", "studies", "seriesCount", "instances")


def text(graph: Graph, node: URIRef, prop: URIRef) -> str:
    """Return the English (or untagged, or any) text of a property."""
    values = [o for o in graph.objects(node, prop) if isinstance(o, Literal)]
    for lang in PREFERRED:
        for value in values:
            if value.language == lang:
                return str(value)
    return str(values[0]) if values else ""


def catalog_rows(graph: Graph, datasets: list[URIRef]) -> list[tuple[str, str, str]]:
    """Return (slug, title, description) of each dataset of a page."""
    rows = []
    for node in datasets:
        slug = text(graph, node, DCTERMS.identifier)
        rows.append(
            (slug, text(graph, node, DCTERMS.title), text(graph, node, DCTERMS.description))
        )
    return rows


def dataset_view(graph: Graph, node: URIRef, iris: DataIris) -> DatasetView:
    """Collect what the landing page of one dataset shows."""
    cat = URIRef(catalog_iri(iris))
    view = DatasetView(
        iri=str(node),
        slug=text(graph, node, DCTERMS.identifier),
        title=text(graph, node, DCTERMS.title),
        description=text(graph, node, DCTERMS.description),
        catalog=str(cat),
        catalog_title=text(graph, cat, DCTERMS.title),
    )
    names = {HEALTH.numberOfUniqueIndividuals: "patients", HEALTH.numberOfRecords: "studies"}
    for prop, label in names.items():
        value = graph.value(node, prop)
        if value is not None:
            view.figures.append((label, str(value)))
    youngest, oldest = (
        graph.value(node, HEALTH.minTypicalAge),
        graph.value(node, HEALTH.maxTypicalAge),
    )
    if youngest is not None and oldest is not None:
        view.age_range = (str(youngest), str(oldest))
    view.keywords = sorted({str(k) for k in graph.objects(node, DCAT.keyword)})
    licence = graph.value(node, DCTERMS.license) or _first_licence(graph, node)
    view.licence = str(licence) if licence else None
    publisher = graph.value(node, DCTERMS.publisher)
    if isinstance(publisher, URIRef):
        view.publisher = text(graph, publisher, FOAF.name)
    period = graph.value(node, DCTERMS.temporal)
    if isinstance(period, URIRef):
        start, end = graph.value(period, DCAT.startDate), graph.value(period, DCAT.endDate)
        if start is not None and end is not None:
            view.temporal = (str(start), str(end))
    modified = graph.value(node, DCTERMS.modified)
    view.modified = str(modified) if modified is not None else None
    for dist in graph.objects(node, DCAT.distribution):
        download = graph.value(dist, DCAT.downloadURL)
        if download is not None:
            view.download = str(download)
            size = graph.value(dist, DCAT.byteSize)
            view.byte_size = str(size) if size is not None else None
            checksum = graph.value(dist, SPDX.checksum)
            if checksum is not None:
                view.sha256 = str(graph.value(checksum, SPDX.checksumValue))
        elif graph.value(dist, DCAT.accessService) is not None:
            view.endpoint = str(graph.value(dist, DCAT.accessURL))
    themes = [graph.value(t, SKOS.prefLabel) for t in graph.objects(node, HEALTH.healthTheme)]
    view.figures.append(("modalities and body parts", ", ".join(sorted(map(str, themes)))))
    return view


def _first_licence(graph: Graph, node: URIRef) -> object:
    for dist in graph.objects(node, DCAT.distribution):
        licence = graph.value(dist, DCTERMS.license)
        if licence is not None:
            return licence
    return None


def schema_org(view: DatasetView) -> str:
    """Return the schema.org Dataset JSON-LD of a landing page, safe inside a <script>."""
    data: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": view.iri,
        "name": view.title,
        "description": view.description,
        "identifier": view.slug,
        "url": view.iri,
        "keywords": view.keywords,
        "includedInDataCatalog": {
            "@type": "DataCatalog",
            "name": view.catalog_title,
            "url": view.catalog,
        },
    }
    if view.licence:
        data["license"] = view.licence
    if view.publisher:
        data["publisher"] = {"@type": "Organization", "name": view.publisher}
    if view.temporal:
        data["temporalCoverage"] = f"{view.temporal[0]}/{view.temporal[1]}"
    if view.modified:
        data["dateModified"] = view.modified
    if view.download:
        data["distribution"] = [
            {
                "@type": "DataDownload",
                "contentUrl": view.download,
                "encodingFormat": "application/n-quads",
                "contentSize": f"{view.byte_size} B",
            }
        ]
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
