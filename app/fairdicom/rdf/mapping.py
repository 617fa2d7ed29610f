"""Check the curator-editable mapping files and compile them into SPARQL CONSTRUCT queries.

``ontologies/mappings/`` holds SSSOM TSV tables and SPARQL rules; the metadata block of
``attributes.sssom.tsv`` says what a curator edits. :func:`load_mappings` checks every file and
raises :class:`~fairdicom.errors.MappingError` naming file, line and problem. The resulting
:class:`MappingSet` has one CONSTRUCT query per table and per rule; each reads the raw triples
of a set of complete series from the default graph, and all its results are curated triples.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS

from fairdicom.namespaces import DCMTAG, FD, SCT, SKOS
from fairdicom.rdf.sssom import SssomTable, expand, fail, read_table
from fairdicom.rdf.terms import literal

__all__ = ["VALUE", "AttributeMapping", "MappingQuery", "MappingSet", "load_mappings"]

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
"""subject_level values and the classes of the nodes that get the curated triple."""
LEVEL_CLASSES = frozenset().union(*LEVELS.values())
USED = frozenset(SKOS + p for p in ("exactMatch", "closeMatch", "broadMatch"))
DOCUMENTED = frozenset(SKOS + p for p in ("narrowMatch", "relatedMatch"))
KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
PROPERTY_TYPES = frozenset({OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property})
_VERHOEFF_D = [
    "0123456789",
    "1234067895",
    "2340178956",
    "3401289567",
    "4012395678",
    "5987604321",
    "6598710432",
    "7659821043",
    "8765932104",
    "9876543210",
]
_VERHOEFF_P = [
    "0123456789",
    "1576283094",
    "5803796142",
    "8916043527",
    "9453126870",
    "4286573901",
    "2793806415",
    "7046913258",
]
_parsed: dict[tuple[str, int, int], tuple[Graph, set[str]]] = {}


@dataclass(frozen=True)
class MappingQuery:
    """One SPARQL CONSTRUCT query compiled from a table or read from a rule file."""

    name: str
    source: Path
    sparql: str


@dataclass(frozen=True)
class AttributeMapping:
    """One used row of the attribute table: raw attribute, curated property and level (IRIs)."""

    attribute: str
    property: str
    level: str


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


def _snomed_ok(code: str) -> bool:
    """Return whether ``code`` is a SNOMED CT concept id (partition 00/10, Verhoeff check)."""
    if not (code.isdigit() and 6 <= len(code) <= 18 and code[-3:-1] in ("00", "10")):
        return False
    check = 0
    for i, digit in enumerate(reversed(code)):
        check = int(_VERHOEFF_D[check][int(_VERHOEFF_P[i % 8][int(digit)])])
    return check == 0


def _used(table: SssomTable, line: int, row: dict[str, str]) -> bool:
    """Check predicate and justification of a row; return whether the compiler uses it."""
    expand(table, line, row, "mapping_justification")
    predicate = expand(table, line, row, "predicate_id")
    if predicate not in USED | DOCUMENTED:
        fail(
            table.path,
            line,
            f"predicate_id '{row['predicate_id']}' is not one of "
            "skos:exactMatch, skos:closeMatch, skos:broadMatch (used) or skos:narrowMatch, "
            "skos:relatedMatch (documentation only)",
        )
    return predicate in USED and row.get("predicate_modifier", "") != "Not"


def vocabulary_keywords(path: Path) -> set[str]:
    """Return the keywords the generated tag vocabulary declares.

    The file is generated one property per ``dcmtag:Keyword a ...`` line, so a scan of those
    lines is exact and takes milliseconds where a Turtle parse of 40,000 triples takes seconds.
    """
    text = path.read_text(encoding="utf-8")
    return set(re.findall(r"^dcmtag:(\w+) a ", text, flags=re.MULTILINE))


def _turtle(path: Path) -> tuple[Graph, set[str]]:
    """Parse a Turtle file once per content version; return it and its typed subjects."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _parsed:
        graph = Graph()
        try:
            graph.parse(path, format="turtle")
        except Exception as exc:
            fail(path, 1, f"cannot be read as Turtle: {exc}")
        _parsed[key] = (graph, {str(s) for s in graph.subjects(RDF.type, None)})
    return _parsed[key]


def _domain(graph: Graph, prop: str) -> set[str]:
    """Return the classes of a property's rdfs:domain (the members of an owl:unionOf too)."""
    classes: set[str] = set()
    for domain in graph.objects(URIRef(prop), RDFS.domain):
        if isinstance(domain, BNode):
            for union in graph.objects(domain, OWL.unionOf):
                classes |= {str(c) for c in Collection(graph, union)}
        else:
            classes.add(str(domain))
    return classes


def _is_keyword(keyword: str, keywords: set[str] | None) -> bool:
    """Return whether a name is a known keyword (without a vocabulary: a well-formed one)."""
    return keyword in keywords if keywords is not None else bool(KEYWORD.match(keyword))


_PREFIX_DECL = re.compile(r"PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.IGNORECASE)
_PREFIXED = re.compile(r"(?<![\w<?$\"'-])([A-Za-z][\w-]*)?:([A-Za-z_][\w-]*)")
_STRINGS_AND_IRIS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^>\s]*>|#[^\n]*')


def _mentions(text: str) -> Iterator[tuple[int, str, str]]:
    """Yield (line, prefix, local name) of each prefixed name used outside strings and IRIs."""
    for number, line in enumerate(text.splitlines(), 1):
        if _PREFIX_DECL.match(line.strip()):
            continue
        code = _STRINGS_AND_IRIS.sub(" ", line)
        for match in _PREFIXED.finditer(code):
            yield number, match[1] or "", match[2]


QueryParser = Callable[[str], str | tuple[int, int, str]]
"""Return the form of a SPARQL query (SELECT, CONSTRUCT, ASK, DESCRIBE), or (line, column,
message) where it does not parse: the store's parser (``fairdicom.store.query_form``), the one that
will run the rules."""


def _check_rule(
    path: Path,
    text: str,
    terms: set[str] | None,
    keywords: set[str] | None,
    query_form: QueryParser,
) -> None:
    """Check that a rule file is a CONSTRUCT query whose fd: and dcmtag: terms exist.

    The store's parser checks the syntax (Oxigraph's: microseconds, where a pure-Python parser
    takes a tenth of a second a file); prefixed names are then looked up line by line.
    """
    declared = {m[1] or "": m[2] for m in _PREFIX_DECL.finditer(text)}
    mentions = list(_mentions(text))
    for line, prefix, _ in mentions:
        if prefix not in declared:
            fail(path, line, f"unknown prefix '{prefix}' (declare it with PREFIX)")
    form = query_form(text)
    if isinstance(form, tuple):
        line, column, message = form
        fail(path, line, f"SPARQL syntax error at column {column}: {message}")
    if form != "CONSTRUCT":
        fail(path, 1, f"a rule must be a CONSTRUCT query, not a {form} query")
    for line, prefix, local in mentions:
        iri = declared[prefix] + local
        fd_unknown = terms is not None and iri.startswith(FD) and iri not in terms
        if fd_unknown or (iri.startswith(DCMTAG) and not _is_keyword(local, keywords)):
            where = "ontologies/fairdicom.ttl" if fd_unknown else "the DICOM data dictionary"
            fail(path, line, f"<{iri}> is not declared in {where}")


def _compile(template: str, rows: dict[str, list[str]]) -> str:
    """Fill the per-level VALUES blocks of a query template in app/fairdicom/rdf/queries/."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for level in LEVELS:
        block = "".join(f"\n      {row}" for row in rows.get(level, []))
        text = text.replace("{{" + level + "}}", block + "\n    " if block else "")
    return text


def _attributes(
    path: Path, ontology: Graph | None, keywords: set[str] | None
) -> dict[str, AttributeMapping]:
    """Check the attribute table; return its used rows by attribute IRI."""
    table = read_table(path)
    if "subject_level" not in table.columns:
        fail(path, table.header_line, "missing column subject_level in the header row")
    mappings: dict[str, AttributeMapping] = {}
    lines: dict[str, int] = {}
    for line, row in table.rows:
        subject = expand(table, line, row, "subject_id")
        target = expand(table, line, row, "object_id")
        if not subject.startswith(DCMTAG) or not _is_keyword(subject[len(DCMTAG) :], keywords):
            fail(
                path,
                line,
                f"subject_id '{row['subject_id']}' is not a DICOM attribute "
                "(dcmtag:<Keyword> of the data dictionary)",
            )
        level = row.get("subject_level", "")
        if level not in LEVELS:
            fail(path, line, f"subject_level '{level}' is not one of: {', '.join(LEVELS)}")
        if ontology is not None:
            if not set(ontology.objects(URIRef(target), RDF.type)) & PROPERTY_TYPES:
                fail(
                    path,
                    line,
                    f"object_id '{row['object_id']}' is not a property declared "
                    "in ontologies/fairdicom.ttl",
                )
            domain = _domain(ontology, target)
            if domain & LEVEL_CLASSES and not LEVELS[level] <= domain:
                fail(
                    path,
                    line,
                    f"subject_level '{level}' does not fit the rdfs:domain of "
                    f"{row['object_id']} ({', '.join(sorted(domain))})",
                )
        elif not target.startswith(FD):
            fail(path, line, f"object_id '{row['object_id']}' is not an fd: property")
        if not _used(table, line, row):
            continue
        if subject in mappings and mappings[subject].property != target:
            fail(
                path,
                line,
                f"{row['subject_id']} is already mapped to "
                f"<{mappings[subject].property}> on line {lines[subject]}",
            )
        mappings[subject], lines[subject] = AttributeMapping(subject, target, level), line
    return mappings


def _values(
    path: Path,
    attributes: dict[str, AttributeMapping],
    seen: dict[str, tuple[Path, int, str]],
    with_table: set[str],
) -> MappingQuery:
    """Check one value table and compile it into one query (``seen``: subjects so far)."""
    table = read_table(path)
    rows: dict[str, list[str]] = {}
    for line, row in table.rows:
        subject = expand(table, line, row, "subject_id")
        concept = expand(table, line, row, "object_id")
        keyword, slash, raw = subject[len(VALUE) :].partition("/")
        if not subject.startswith(VALUE) or not slash or not raw or not KEYWORD.match(keyword):
            fail(
                path,
                line,
                f"subject_id '{row['subject_id']}' is not a value IRI {VALUE}<Keyword>/<value>",
            )
        mapping = attributes.get(DCMTAG + keyword)
        if mapping is None:
            fail(
                path,
                line,
                f"dcmtag:{keyword} has no used row in {ATTRIBUTES_FILE}, so its "
                "values cannot be mapped",
            )
        if concept.startswith(SCT) and not _snomed_ok(concept[len(SCT) :]):
            fail(
                path,
                line,
                f"object_id '{row['object_id']}' is not a valid SNOMED CT concept "
                "identifier (check digit or partition wrong)",
            )
        with_table.add(mapping.attribute)
        if not _used(table, line, row):
            continue
        earlier = seen.get(subject)
        if earlier is not None and earlier[2] != concept:
            fail(
                path,
                line,
                f"{row['subject_id']} is already mapped to <{earlier[2]}> in "
                f"{earlier[0].name} line {earlier[1]}",
            )
        seen[subject] = (path, line, concept)
        value = literal(unquote(raw))
        rows.setdefault(mapping.level, []).append(
            f"(<{mapping.attribute}> <{mapping.property}> {value} <{concept}>)"
        )
    return MappingQuery(path.name.removesuffix(".sssom.tsv"), path, _compile("values.rq", rows))


def load_mappings(
    directory: Path,
    query_form: QueryParser,
    ontology: Path | None = None,
    vocabulary: Path | None = None,
) -> MappingSet:
    """Read, check and compile every mapping file of ``directory``; ``query_form`` parses the
    rules (see :data:`QueryParser`).

    ``ontology`` (default ``../fairdicom.ttl``) declares the curated properties and classes;
    ``vocabulary`` (default ``../dicom-tags.ttl``) the DICOM keywords. A missing file skips
    its checks (keywords are then only checked to be well formed).
    """
    ontology = ontology or directory.parent / "fairdicom.ttl"
    vocabulary = vocabulary or directory.parent / "dicom-tags.ttl"
    onto = _turtle(ontology) if ontology.is_file() else None
    keywords = None
    if vocabulary.is_file():
        keywords = vocabulary_keywords(vocabulary)
    attributes_path = directory / ATTRIBUTES_FILE
    if not attributes_path.is_file():
        fail(attributes_path, 1, "the attribute table is missing")
    attributes = _attributes(attributes_path, onto[0] if onto else None, keywords)
    value_files = sorted(p for p in directory.glob("*.sssom.tsv") if p.name != ATTRIBUTES_FILE)
    seen: dict[str, tuple[Path, int, str]] = {}
    with_table: set[str] = set()
    value_queries = [_values(path, attributes, seen, with_table) for path in value_files]
    literal_rows: dict[str, list[str]] = {}
    for mapping in attributes.values():
        if mapping.attribute not in with_table:
            literal_rows.setdefault(mapping.level, []).append(
                f"(<{mapping.attribute}> <{mapping.property}>)"
            )
    queries = [MappingQuery("attributes", attributes_path, _compile("attributes.rq", literal_rows))]
    queries += value_queries
    rule_files = sorted((directory / "rules").glob("*.rq"))
    for path in rule_files:
        text = path.read_text(encoding="utf-8")
        _check_rule(path, text, onto[1] if onto else None, keywords, query_form)
        queries.append(MappingQuery(f"rules/{path.stem}", path, text))
    files = [attributes_path, *value_files, *rule_files]
    digest = hashlib.sha256()
    named = [(p.relative_to(directory).as_posix(), p) for p in files]
    named += [(f"compiler/{p.name}", p) for p in sorted(TEMPLATES.glob("*.rq"))]
    for name, path in named:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return MappingSet(queries, digest.hexdigest()[:16], files, list(attributes.values()))
