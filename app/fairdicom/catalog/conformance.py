"""Validate the catalogue against the official DCAT-AP 3.0.1 and HealthDCAT-AP release 8 shapes.

pyshacl runs in :mod:`fairdicom.rdf.validation`, its one owner. The shapes are
local copies (``shapes/reference/``, see its PROVENANCE.md), so no network is needed: the
``owl:imports`` of the HealthDCAT-AP files name the DCAT-AP 3.0.0 shapes and ranges; they are
not fetched: the DCAT-AP 3.0.1 copies stand in for them, because 3.0.1 is the errata release
of 3.0.0 and fixes ``dcat:byteSize`` (3.0.0 demands ``xsd:decimal``, 3.0.1
``xsd:nonNegativeInteger``: no literal satisfies both). HealthDCAT-AP has one shapes file per
access level, each demanding its own ``dct:accessRights`` value, so each level is checked on
the catalogue with only the datasets of that level.

Known defect of the release 8 shapes: ``:Dataset_Shape`` has an ``sh:property`` without
``sh:path`` (the hasStructuredData / hasVariables ``sh:or``), which pyshacl refuses as not a
well-formed property shape. As the PROVENANCE note says, the ``sh:or`` is hoisted onto the
node shape that owns it before validating; the constraint it states is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, SH

from fairdicom.catalog.descriptions import ACCESS_LEVELS, ACCESS_RIGHT
from fairdicom.catalog.served import subset
from fairdicom.rdf.validation import validate_graph
from fairdicom.resources import REFERENCE_SHAPES

REFERENCE = REFERENCE_SHAPES
DCAT_AP = ("dcat-ap-3.0.1/shapes.ttl", "dcat-ap-3.0.1/range.ttl")
HEALTH_IMPORTS = DCAT_AP
HEALTH = ("healthdcat-ap-r8/graph-guard.ttl", "healthdcat-ap-r8/range.ttl")
HEALTH_LEVEL = {
    level: f"healthdcat-ap-r8/{level.lower().replace('_', '-')}-shapes.ttl"
    for level in ACCESS_LEVELS
}


@dataclass(frozen=True)
class Conformance:
    """The verdict of one profile: conforms, the number of violations and the report text."""

    profile: str
    conforms: bool
    violations: int
    text: str


def shapes_graph(files: tuple[str, ...], reference: Path = REFERENCE) -> Graph:
    """Load shape files from the reference directory, with the path-less sh:or hoisted."""
    shapes = Graph()
    shapes += _loaded(files, reference)  # a copy: the parsed files are read once per process
    return shapes


@cache
def _loaded(files: tuple[str, ...], reference: Path) -> Graph:
    shapes = Graph()
    for name in files:
        shapes.parse(reference / name, format="turtle")
    hoist_pathless_properties(shapes)
    return shapes


def hoist_pathless_properties(shapes: Graph) -> int:
    """Move each ``sh:property`` that has no ``sh:path`` onto its node shape; return how many."""
    moved = 0
    for shape, prop in list(shapes.subject_objects(SH.property)):
        if (prop, SH.path, None) in shapes:
            continue
        shapes.remove((shape, SH.property, prop))
        for p, o in list(shapes.predicate_objects(prop)):
            if p in (SH["or"], SH["and"], SH["xone"], SH["not"]):
                shapes.add((shape, p, o))
        moved += 1
    return moved


def validate_catalog(catalog: Graph, reference: Path = REFERENCE) -> list[Conformance]:
    """Validate against DCAT-AP 3.0.1, then HealthDCAT-AP for each access level present."""
    results = [_run("DCAT-AP 3.0.1", catalog, shapes_graph(DCAT_AP, reference))]
    for level in ACCESS_LEVELS:
        part = level_graph(catalog, level)
        if part is None:
            continue
        files = (*HEALTH_IMPORTS, *HEALTH, HEALTH_LEVEL[level])
        results.append(_run(f"HealthDCAT-AP r8 {level}", part, shapes_graph(files, reference)))
    return results


def validate_pages(pages: list[Graph], reference: Path = REFERENCE) -> list[Conformance]:
    """Validate each page of the catalogue as ``/catalog`` serves it (see
    :func:`validate_catalog`); verdicts name their page when there is more than one."""
    results = []
    for number, page in enumerate(pages, start=1):
        for result in validate_catalog(page, reference):
            name = f"{result.profile}, page {number}" if len(pages) > 1 else result.profile
            results.append(Conformance(name, result.conforms, result.violations, result.text))
    return results


def level_graph(catalog: Graph, level: str) -> Graph | None:
    """Return the catalogue with only the datasets of one access level, their records and
    what they lead to (None if it has none)."""
    rights = URIRef(ACCESS_RIGHT + level)
    datasets = set(catalog.subjects(RDF.type, DCAT.Dataset))
    chosen = {d for d in datasets if (d, DCTERMS.accessRights, rights) in catalog}
    if not chosen:
        return None
    part = Graph()
    for cat in set(catalog.subjects(RDF.type, DCAT.Catalog)):
        part += subset(catalog, cat, chosen)
    return part


def _run(profile: str, data: Graph, shapes: Graph) -> Conformance:
    conforms, results, text = validate_graph(data, shapes)
    violations = sum(1 for _ in results.subjects(SH.resultSeverity, SH.Violation))
    return Conformance(profile, bool(conforms) and violations == 0, violations, str(text))


def report(results: list[Conformance]) -> str:
    """Return a readable report: one verdict line per profile, then the violations."""
    lines = []
    for result in results:
        verdict = "conforms" if result.conforms else f"{result.violations} violation(s)"
        lines.append(f"{result.profile}: {verdict}")
    for result in results:
        if not result.conforms:
            lines += ["", f"--- {result.profile} ---", result.text.rstrip()]
    return "\n".join(lines) + "\n"
