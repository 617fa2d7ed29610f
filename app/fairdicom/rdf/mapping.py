"""Check the curator-editable mapping files and compile them into SPARQL CONSTRUCT queries.

``ontologies/mappings/`` holds SSSOM TSV tables and SPARQL rules; the metadata block of
``attributes.sssom.tsv`` says what a curator edits. :func:`load_mappings` checks every file and
raises :class:`~fairdicom.errors.MappingError` naming file, line, column and problem of every
problem found (one run reports them all). The resulting :class:`MappingSet` has one CONSTRUCT
query per table and per rule; each reads the raw triples of a set of complete series from the
default graph, and all its results are curated triples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph

from fairdicom.namespaces import DCMTAG
from fairdicom.rdf.mapping_rules import QueryParser, check_rule
from fairdicom.rdf.mapping_tables import (
    ATTRIBUTES_FILE,
    LEVELS,
    TEMPLATES,
    VALUE,
    AttributeMapping,
    Context,
    MappingQuery,
    Removed,
    ValueMapping,
    attributes_table,
    check_datatypes,
    compile_template,
    table_labels,
    value_table,
)
from fairdicom.rdf.mapping_terms import turtle, vocabulary_tags
from fairdicom.rdf.sssom import MappingProblems, Problems, fail

__all__ = [
    "LEVELS",
    "VALUE",
    "AttributeMapping",
    "MappingProblems",
    "MappingQuery",
    "MappingSet",
    "QueryParser",
    "Removed",
    "ValueMapping",
    "load_mappings",
]


@dataclass(frozen=True)
class MappingSet:
    """The checked mapping files, their compiled queries and a version hash.

    ``version`` is the first 16 hex digits of a SHA-256 over the names (relative to the
    mapping directory) and contents of ``files`` and of the compiler's query templates.
    """

    queries: list[MappingQuery]
    version: str
    files: list[Path]
    attributes: list[AttributeMapping]
    values: list[ValueMapping] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    """Concept or property IRI -> its object_label in the tables."""
    directory: Path = Path()


def vocabulary_keywords(path: Path) -> set[str]:
    """Return the keywords the generated tag vocabulary declares."""
    return set(vocabulary_tags(path))


def _ontology(path: Path, extensions: list[Path]) -> tuple[Graph, set[str]]:
    """Return the ontology merged with the site's extension ontologies (``*.ttl`` of the
    mappings folder, where a site declares its own properties) and the typed subjects."""
    graph, declared = turtle(path)
    if not extensions:
        return graph, declared
    merged = Graph()
    merged += graph
    declared = set(declared)
    for extension in extensions:
        more, typed = turtle(extension)
        merged += more
        declared |= typed
    return merged, declared


def load_mappings(
    directory: Path,
    query_form: QueryParser,
    ontology: Path | None = None,
    vocabulary: Path | None = None,
    *,
    removed: Removed | None = None,
) -> MappingSet:
    """Read, check and compile every mapping file of ``directory``; ``query_form`` parses the
    rules (see :data:`QueryParser`); ``removed`` says which attributes de-identification
    removes (not checked without it).

    ``ontology`` (default ``../fairdicom.ttl``) declares the curated properties and classes,
    with the site's own in ``*.ttl`` files of ``directory``; ``vocabulary`` (default
    ``../dicom-tags.ttl``) the DICOM keywords and their VRs. A missing file skips its checks
    (keywords are then only checked to be well formed). Every problem of every file is
    reported in one :class:`~fairdicom.rdf.sssom.MappingProblems`.
    """
    ontology = ontology or directory.parent / "fairdicom.ttl"
    vocabulary = vocabulary or directory.parent / "dicom-tags.ttl"
    problems = Problems()
    context = Context(None, None, removed, problems)
    extensions = sorted(directory.glob("*.ttl"))
    with problems.collecting():
        if ontology.is_file():
            context.ontology, context.declared = _ontology(ontology, extensions)
    if vocabulary.is_file():
        context.tags = vocabulary_tags(vocabulary)
    attributes_path = directory / ATTRIBUTES_FILE
    attributes: dict[str, AttributeMapping] = {}
    with problems.collecting():
        if not attributes_path.is_file():
            fail(attributes_path, 1, "the attribute table is missing")
        attributes = attributes_table(attributes_path, context)
    value_files = sorted(p for p in directory.glob("*.sssom.tsv") if p.name != ATTRIBUTES_FILE)
    seen: dict[str, tuple[Path, int, str]] = {}
    with_table: set[str] = set()
    values: list[ValueMapping] = []
    value_queries: list[MappingQuery] = []
    for path in value_files:
        with problems.collecting():
            value_queries.append(value_table(path, attributes, seen, with_table, context, values))
    if len(value_queries) == len(value_files):  # else a table is unreadable: whose is unknown
        for mapping in attributes.values():
            with problems.collecting():
                check_datatypes(attributes_path, mapping, with_table, context)
    literal_rows: dict[str, list[str]] = {}
    copied = [m for m in attributes.values() if m.attribute not in with_table]
    for mapping in copied:
        literal_rows.setdefault(mapping.level, []).append(
            f"(<{mapping.attribute}> <{mapping.property}>)"
        )
    queries = [
        MappingQuery(
            "attributes",
            attributes_path,
            compile_template("attributes.rq", literal_rows),
            frozenset(m.property for m in copied),
            frozenset(m.attribute[len(DCMTAG) :] for m in copied),
        )
    ]
    queries += value_queries
    rule_files = sorted((directory / "rules").glob("*.rq"))
    keywords = set(context.tags) if context.tags is not None else None
    for path in rule_files:
        terms = check_rule(path, context.declared, keywords, query_form, problems)
        text = path.read_text(encoding="utf-8")
        queries.append(MappingQuery(f"rules/{path.stem}", path, text, terms.writes, terms.reads))
    problems.raise_any()
    files = [attributes_path, *value_files, *rule_files, *extensions]
    digest = hashlib.sha256()
    named = [(p.relative_to(directory).as_posix(), p) for p in files]
    named += [(f"compiler/{p.name}", p) for p in sorted(TEMPLATES.glob("*.rq"))]
    for name, path in named:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return MappingSet(
        queries,
        digest.hexdigest()[:16],
        files,
        list(attributes.values()),
        values,
        table_labels([attributes_path, *value_files]),
        directory,
    )
