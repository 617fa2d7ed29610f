"""The SSSOM tables of a mapping folder: the attribute table and the value tables, checked
row by row (every problem recorded) and compiled into CONSTRUCT queries."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from fairdicom.errors import MappingError
from fairdicom.namespaces import DCMTAG, FD
from fairdicom.rdf.mapping_terms import (
    DOCUMENTED,
    PREDICATE_NAMES,
    PROPERTY_TYPES,
    USED,
    Tag,
    concept_problem,
    domain,
    justification_problem,
    properties,
    ranges,
    vr_fits,
)
from fairdicom.rdf.sssom import Problems, SssomTable, closest, expand, fail, read_table
from fairdicom.rdf.terms import literal

VALUE = "https://w3id.org/fairdicom/value/"
"""Subjects of value tables: ``VALUE + Keyword + '/' + percent-encoded raw value``."""
ATTRIBUTES_FILE = "attributes.sssom.tsv"
TEMPLATES = Path(__file__).with_name("queries")
LEVELS: dict[str, frozenset[str]] = {
    "series": frozenset({FD + "Series"}),
    "series-or-instance": frozenset({FD + "Series", FD + "Instance"}),
    "study": frozenset({FD + "Study"}),
    "patient": frozenset({FD + "Patient"}),
}
"""Levels (column subject_category) and the classes of the nodes that get the curated triple."""
LEVEL_COLUMNS = ("subject_category", "subject_level")
"""The column of the level: SSSOM's subject_category, or subject_level (an extension slot,
accepted as before; the SSSOM reference tool drops extension columns)."""
LEVEL_CLASSES = frozenset().union(*LEVELS.values())
KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
Removed = Callable[[str, int], str | None]
"""Return why de-identification removes an attribute (keyword, tag), or None when it keeps it."""


@dataclass(frozen=True)
class MappingQuery:
    """One SPARQL CONSTRUCT query compiled from a table or read from a rule file, with the
    IRIs it may write (properties, classes) and the DICOM keywords it reads."""

    name: str
    source: Path
    sparql: str
    writes: frozenset[str] = frozenset()
    reads: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AttributeMapping:
    """One used row of the attribute table: raw attribute, curated property and level (IRIs)."""

    attribute: str
    property: str
    level: str
    line: int = 0


@dataclass(frozen=True)
class ValueMapping:
    """One used row of a value table: attribute, raw value, concept and its label."""

    attribute: str
    value: str
    concept: str
    label: str
    table: str
    line: int


def row_used(table: SssomTable, line: int, row: dict[str, str]) -> bool:
    """Check predicate and justification of a row; return whether the compiler uses it."""
    justification = expand(table, line, row, "mapping_justification")
    problem = justification_problem(justification)
    if problem:
        column = table.column(line, "mapping_justification")
        fail(
            table.path,
            line,
            f"mapping_justification '{row['mapping_justification']}' {problem}",
            column,
        )
    predicate = expand(table, line, row, "predicate_id")
    if predicate not in USED | DOCUMENTED:
        fail(
            table.path,
            line,
            f"predicate_id '{row['predicate_id']}' is not one of "
            "skos:exactMatch, skos:closeMatch, skos:broadMatch (used) or skos:narrowMatch, "
            "skos:relatedMatch (documentation only)"
            + closest(row["predicate_id"], PREDICATE_NAMES),
            table.column(line, "predicate_id"),
        )
    return predicate in USED and row.get("predicate_modifier", "") != "Not"


def compile_template(template: str, rows: dict[str, list[str]]) -> str:
    """Fill the per-level VALUES blocks of a query template in app/fairdicom/rdf/queries/."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for level in LEVELS:
        block = "".join(f"\n      {row}" for row in rows.get(level, []))
        text = text.replace("{{" + level + "}}", block + "\n    " if block else "")
    return text


@dataclass
class Context:
    """What the checks of one mapping directory share."""

    ontology: Graph | None
    tags: dict[str, Tag] | None
    removed: Removed | None
    problems: Problems
    declared: set[str] | None = None

    def keyword_ok(self, keyword: str) -> bool:
        if self.tags is not None:
            return keyword in self.tags
        return bool(KEYWORD.match(keyword))


def _level_column(table: SssomTable) -> str:
    column = next((c for c in LEVEL_COLUMNS if c in table.columns), None)
    if column is None:
        fail(table.path, table.header_line, "missing column subject_category in the header row")
    return column


def _attribute_row(
    table: SssomTable, line: int, row: dict[str, str], level_column: str, context: Context
) -> AttributeMapping | None:
    """Check one row of the attribute table; return it when the compiler uses it."""
    path = table.path
    subject = expand(table, line, row, "subject_id")
    target = expand(table, line, row, "object_id")
    keyword = subject[len(DCMTAG) :]
    if not subject.startswith(DCMTAG) or not context.keyword_ok(keyword):
        fail(
            path,
            line,
            f"subject_id '{row['subject_id']}' is not a DICOM attribute "
            "(dcmtag:<Keyword> of the data dictionary)" + closest(keyword, context.tags or ()),
            table.column(line, "subject_id"),
        )
    tag = context.tags.get(keyword) if context.tags else None
    if context.removed is not None and tag is not None and "x" not in tag.tag:
        reason = context.removed(keyword, int(tag.tag, 16))
        if reason:
            fail(
                path,
                line,
                f"{keyword} never reaches the raw layer: de-identification removes it ({reason})",
                table.column(line, "subject_id"),
            )
    level = row.get(level_column, "")
    if level not in LEVELS:
        fail(
            path,
            line,
            f"{level_column} '{level}' is not one of: {', '.join(LEVELS)}" + closest(level, LEVELS),
            table.column(line, level_column),
        )
    where = table.column(line, "object_id")
    ontology = context.ontology
    if ontology is not None:
        if not set(ontology.objects(URIRef(target), RDF.type)) & PROPERTY_TYPES:
            local = target.rpartition("#")[2]
            names = (p.rpartition("#")[2] for p in properties(ontology) if p.startswith(FD))
            fail(
                path,
                line,
                f"object_id '{row['object_id']}' is not a property declared "
                "in ontologies/fairdicom.ttl" + closest(local, names),
                where,
            )
        classes = domain(ontology, target)
        if classes & LEVEL_CLASSES and not LEVELS[level] <= classes:
            fail(
                path,
                line,
                f"{level_column} '{level}' does not fit the rdfs:domain of "
                f"{row['object_id']} ({', '.join(sorted(classes))})",
                table.column(line, level_column),
            )
    elif not target.startswith(FD):
        fail(path, line, f"object_id '{row['object_id']}' is not an fd: property", where)
    if not row_used(table, line, row):
        return None
    return AttributeMapping(subject, target, level, line)


def attributes_table(path: Path, context: Context) -> dict[str, AttributeMapping]:
    """Check the attribute table; return its used rows by attribute IRI."""
    table = read_table(path, context.problems)
    level_column = _level_column(table)
    mappings: dict[str, AttributeMapping] = {}
    for line, row in table.rows:
        with context.problems.collecting():
            mapping = _attribute_row(table, line, row, level_column, context)
            if mapping is None:
                continue
            earlier = mappings.get(mapping.attribute)
            if earlier is not None and earlier.property != mapping.property:
                fail(
                    path,
                    line,
                    f"{row['subject_id']} is already mapped to "
                    f"<{earlier.property}> on line {earlier.line}",
                    table.column(line, "subject_id"),
                )
            mappings[mapping.attribute] = mapping
    return mappings


def check_datatypes(
    path: Path, mapping: AttributeMapping, with_table: set[str], context: Context
) -> None:
    """Check that the property of a used attribute row fits the values it will get."""
    ontology = context.ontology
    if ontology is None:
        return
    kind = properties(ontology).get(mapping.property)
    name = mapping.attribute[len(DCMTAG) :]
    prop = mapping.property.rpartition("#")[2]
    if mapping.attribute in with_table:
        if kind == "datatype":
            fail(
                path,
                mapping.line,
                f"{name} has a value table, so fd:{prop} gets concepts (IRIs), but it is an "
                "owl:DatatypeProperty in ontologies/fairdicom.ttl",
            )
        return
    tag = context.tags.get(name) if context.tags else None
    if kind == "object" and (tag is None or tag.vr != "SQ"):
        fail(
            path,
            mapping.line,
            f"fd:{prop} is an owl:ObjectProperty but {name} has no value table, so it would "
            "get literals: add a value table for its values, or map it to a datatype property",
        )
    wanted = ranges(ontology, mapping.property)
    if tag is not None and not vr_fits(tag.vr, wanted):
        shown = ", ".join(sorted(w.rpartition("#")[2] for w in wanted))
        fail(
            path,
            mapping.line,
            f"{name} (VR {tag.vr}) does not give values of the rdfs:range of fd:{prop} "
            f"({shown}): choose a property whose range fits the VR",
        )


def _value_row(
    table: SssomTable,
    line: int,
    row: dict[str, str],
    attributes: dict[str, AttributeMapping],
    context: Context,
) -> tuple[AttributeMapping, str, str]:
    """Check one row of a value table; return its attribute mapping, subject and concept."""
    path = table.path
    subject = expand(table, line, row, "subject_id")
    concept = expand(table, line, row, "object_id")
    keyword, slash, raw = subject[len(VALUE) :].partition("/")
    if not subject.startswith(VALUE) or not slash or not raw or not KEYWORD.match(keyword):
        fail(
            path,
            line,
            f"subject_id '{row['subject_id']}' is not a value IRI {VALUE}<Keyword>/<value>",
            table.column(line, "subject_id"),
        )
    mapping = attributes.get(DCMTAG + keyword)
    if mapping is None:
        fail(
            path,
            line,
            f"dcmtag:{keyword} has no used row in {ATTRIBUTES_FILE}, so its "
            "values cannot be mapped",
            table.column(line, "subject_id"),
        )
    problem = concept_problem(concept, context.declared)
    if problem:
        fail(
            path, line, f"object_id '{row['object_id']}' {problem}", table.column(line, "object_id")
        )
    return mapping, subject, concept


def value_table(
    path: Path,
    attributes: dict[str, AttributeMapping],
    seen: dict[str, tuple[Path, int, str]],
    with_table: set[str],
    context: Context,
    found: list[ValueMapping],
) -> MappingQuery:
    """Check one value table and compile it into one query (``seen``: subjects so far)."""
    table = read_table(path, context.problems)
    rows: dict[str, list[str]] = {}
    writes: set[str] = set()
    for line, row in table.rows:
        with context.problems.collecting():
            mapping, subject, concept = _value_row(table, line, row, attributes, context)
            with_table.add(mapping.attribute)
            if not row_used(table, line, row):
                continue
            earlier = seen.get(subject)
            if earlier is not None and earlier[2] != concept:
                fail(
                    path,
                    line,
                    f"{row['subject_id']} is already mapped to <{earlier[2]}> in "
                    f"{earlier[0].name} line {earlier[1]}",
                    table.column(line, "subject_id"),
                )
            seen[subject] = (path, line, concept)
            raw = unquote(subject[len(VALUE) :].partition("/")[2])
            label = row.get("object_label", "")
            found.append(ValueMapping(mapping.attribute, raw, concept, label, path.name, line))
            writes.add(mapping.property)
            rows.setdefault(mapping.level, []).append(
                f"(<{mapping.attribute}> <{mapping.property}> {literal(raw)} <{concept}>)"
            )
    name = path.name.removesuffix(".sssom.tsv")
    reads = frozenset(
        m.attribute[len(DCMTAG) :] for m in attributes.values() if m.property in writes
    )
    return MappingQuery(name, path, compile_template("values.rq", rows), frozenset(writes), reads)


def table_labels(paths: list[Path]) -> dict[str, str]:
    """Return IRI -> object_label of every row of the tables that parse."""
    labels: dict[str, str] = {}
    for path in paths:
        try:
            table = read_table(path, Problems())
        except MappingError:  # reported by the checks
            continue
        if "object_label" not in table.columns:
            continue
        for line, row in table.rows:
            if row.get("object_label"):
                try:
                    labels.setdefault(expand(table, line, row, "object_id"), row["object_label"])
                except MappingError:
                    continue
    return labels
