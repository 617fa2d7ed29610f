"""The vocabulary graph (a label for every concept the store uses) and the mappings graph.

``{base}graph/vocabulary`` holds ``rdfs:label`` statements: the labels (``rdfs:label``,
``skos:prefLabel``) of the ontologies (the core ontology and the DICOM tag vocabulary), the
``object_label`` of the SSSOM tables, the registry names of SOP classes, and, for a coded
concept used in a curated graph and labelled nowhere else, the Code Meaning that the raw layer
gives its code. ``{base}graph/mappings`` holds the mapping version in force as RDF: the SSSOM
rows (``sssom:Mapping``) and each query (``fd:MappingQuery``, with its SPARQL text and what it
reads and writes), so that both can be queried with SPARQL. :func:`publish` replaces both
graphs in one transaction.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from rdflib import Literal as RdfLiteral
from rdflib import URIRef
from rdflib.namespace import RDFS as RDFS_NS
from rdflib.namespace import SKOS as SKOS_NS

from fairdicom.config import Settings
from fairdicom.curation.versions import MappingVersion, git_commit
from fairdicom.namespaces import DCM, DCMTAG, DCT, FD, OWL, PROV, RDF, RDFS, SCT, SKOS, DataIris
from fairdicom.rdf.mapping import MappingSet, load_mappings
from fairdicom.rdf.mapping_terms import turtle, vocabulary_tags
from fairdicom.rdf.sssom import read_table
from fairdicom.rdf.terms import Term, iri, lexical, literal, triple
from fairdicom.resources import CORE_ONTOLOGY, TAG_VOCABULARY
from fairdicom.sparql_files import sparql
from fairdicom.store import GraphStore, open_store, query_form

SSSOM = "https://w3id.org/sssom/"
LABEL = iri(RDFS + "label")
STANDARD = {
    RDF + "type": "type",
    RDFS + "label": "label",
    RDFS + "comment": "comment",
    SKOS + "prefLabel": "preferred label",
    OWL + "sameAs": "same as",
}
"""Labels of the W3C terms the layers use (their own vocabularies are not loaded)."""
DICOM_TERMS = DCMTAG.rstrip("#")
"""How the IRIs of the DICOM tag vocabulary (public and private attributes) begin."""
LAYER_ENDINGS = ("/raw", "/curated", "/quarantine")
"""How the names of the graphs that hold a dataset's layers end."""
SCHEMES = {"SCT": SCT, "SRT": SCT, "DCM": DCM, "RADLEX": "http://radlex.org/RID/"}
"""Coding Scheme Designators whose codes are concepts of a known vocabulary."""


def vocabulary_graph(iris: DataIris) -> str:
    """Return the IRI of the vocabulary graph."""
    return iris.base + "graph/vocabulary"


def mappings_graph(iris: DataIris) -> str:
    """Return the IRI of the mappings graph."""
    return iris.base + "graph/mappings"


def _ontology_labels(path: Path) -> dict[str, str]:
    """Return IRI -> label term of every labelled subject of a Turtle ontology."""
    graph, _ = turtle(path)
    found: dict[str, str] = {}
    for predicate in (RDFS_NS.label, SKOS_NS.prefLabel):
        for subject, value in graph.subject_objects(predicate):
            if isinstance(subject, URIRef) and isinstance(value, RdfLiteral):
                found.setdefault(str(subject), literal(str(value), "", value.language or ""))
    return found


def static_labels(mappings: MappingSet, ontology: Path = CORE_ONTOLOGY) -> dict[str, str]:
    """Return IRI -> label term from the ontologies and the mapping tables."""
    labels = {term: literal(label, "", "en") for term, label in STANDARD.items()}
    labels |= _ontology_labels(ontology)
    for extension in sorted(mappings.directory.glob("*.ttl")):
        labels = _ontology_labels(extension) | labels
    for tag in vocabulary_tags(TAG_VOCABULARY).values():
        if tag.label:
            labels.setdefault(DCMTAG + tag.keyword, literal(tag.label, "", "en"))
    for concept, label in mappings.labels.items():
        labels.setdefault(concept, literal(label))
    return labels


def used_terms(store: GraphStore, iris: DataIris, candidates: Iterable[str]) -> set[str]:
    """Return the ``candidates`` (IRIs, minted ones aside) that a layer of a dataset uses, as
    predicate or value: two index lookups per candidate and layer graph, whatever the size
    of the store."""
    minted = iris.base + "id/"
    layers = [g for g in store.graphs() if g.endswith(LAYER_ENDINGS)]
    return store.terms_in_use({t for t in candidates if not t.startswith(minted)}, layers)


def held_labels(store: GraphStore, iris: DataIris) -> dict[str, str]:
    """Return IRI -> label term of the vocabulary graph as the store holds it."""
    held: dict[str, str] = {}
    for line in _graph_lines(store, vocabulary_graph(iris)):
        subject, predicate, rest = line.split(" ", 2)
        if predicate == LABEL and subject.startswith("<"):
            held[subject[1:-1]] = rest.rstrip()[:-1].rstrip()
    return held


def terms_still_used(
    store: GraphStore,
    iris: DataIris,
    known: Iterable[str],
    written: Iterable[str],
    held: Iterable[str] = (),
) -> set[str]:
    """Return the terms a remap that wrote the ``written`` IRIs leaves in use: a term in use
    now is labelled in the vocabulary graph already (``held``), has a label in the ontologies
    or tables (``known``), or was just written (the raw layer's own labels, SOP class names and
    Code Meanings, are there since its ingest).

    A remap moves raw lines between a dataset's raw and quarantine graphs but never adds one,
    so the DICOM attributes in use stay those the vocabulary graph labels: when it labels
    some, the thousands of the tag vocabulary are not looked up one by one.
    """
    held = set(held)
    tags = any(t.startswith(DICOM_TERMS) for t in held)
    static = (t for t in known if not (tags and t.startswith(DICOM_TERMS)))
    return used_terms(store, iris, {*held, *static, *written})


def _graph_lines(store: GraphStore, graph: str) -> set[str]:
    """Return the N-Triples lines of a graph (none if the store lacks it)."""
    out = io.BytesIO()
    if store.has_graph(graph):
        store.dump(out, "ntriples", graph)
    return set(out.getvalue().decode("utf-8").splitlines(keepends=True))


def store_labels(
    store: GraphStore, missing: set[str], codes: dict[str, str] | None = None
) -> dict[str, str]:
    """Return labels for concepts that no ontology or table labels: SOP class names, then the
    Code Meaning of the code in the raw layer (``codes``: :func:`code_labels`, when read
    already)."""
    found: dict[str, str] = {}
    if any(concept.startswith("urn:oid:") for concept in missing):
        from fairdicom.dicom.uid_names import uid_name  # pydicom: only when needed

        for concept in sorted(missing):
            if concept.startswith("urn:oid:") and (name := uid_name(concept[8:])):
                found[concept] = literal(name, "", "en")
    if missing - found.keys():
        codes = code_labels(store) if codes is None else codes
        found |= {concept: codes[concept] for concept in missing - found.keys() if concept in codes}
    return found


def code_labels(store: GraphStore) -> dict[str, str]:
    """Return concept IRI -> label term of each coded value of the raw graphs whose Coding
    Scheme Designator names a known vocabulary (its Code Meaning; the first one read)."""
    found: dict[str, str] = {}
    for row in store.select(sparql(__file__, "code_meanings")):
        scheme = SCHEMES.get(_text(row["scheme"]).strip().upper())
        if scheme is not None:
            found.setdefault(
                scheme + _text(row["code"]).strip(), literal(_text(row["meaning"]).strip())
            )
    return found


def _registry_terms() -> list[str]:
    """Return the IRIs (``urn:oid:``) of the UIDs of the DICOM registry."""
    from fairdicom.dicom.uid_names import registry_uids  # pydicom: only when needed

    return ["urn:oid:" + uid for uid in registry_uids()]


def _text(term: str | Term) -> str:
    """Return the lexical form of an N-Triples literal."""
    return lexical(term)


def vocabulary_lines(
    store: GraphStore, iris: DataIris, mappings: MappingSet, written: Iterable[str] | None = None
) -> list[str]:
    """Return the lines of the vocabulary graph: a label for each term the store uses.

    ``written``: the IRIs a remap just wrote (see :func:`terms_still_used`). Without it (after
    an ingest, which may bring any attribute, SOP class or coded concept) every term that a
    label could be found for is looked up: those of the vocabulary graph, the ontologies and
    tables, the DICOM registry's UIDs and the raw layer's codes. Terms no label exists for
    are not looked for, so nothing reads the whole store.
    """
    known = static_labels(mappings)
    held = held_labels(store, iris)
    codes: dict[str, str] | None = None
    if written is None:
        codes = code_labels(store)
        used = used_terms(store, iris, {*held, *known, *_registry_terms(), *codes})
    else:
        used = terms_still_used(store, iris, known, written, held)
    labels = {term: known[term] for term in used if term in known}
    # A SOP class keeps the registry name its ingest labelled it with (no pydicom to load).
    labels |= {t: held[t] for t in used - labels.keys() if t.startswith("urn:oid:") and t in held}
    labels |= store_labels(store, used - labels.keys(), codes)
    return [triple(iri(subject), LABEL, label) for subject, label in sorted(labels.items())]


def _table_lines(path: Path, version_node: str) -> list[str]:
    """Return an SSSOM table as RDF: the mapping set and one sssom:Mapping per row."""
    table = read_table(path)
    set_id = iri(str(table.metadata["mapping_set_id"]))
    lines = [
        triple(version_node, iri(PROV + "hadMember"), set_id),
        triple(set_id, iri(RDF + "type"), iri(SSSOM + "MappingSet")),
        triple(set_id, iri(DCT + "source"), literal(path.name)),
        triple(
            set_id, iri(OWL + "versionInfo"), literal(str(table.metadata["mapping_set_version"]))
        ),
    ]
    if table.metadata.get("mapping_set_title"):
        lines.append(
            triple(set_id, iri(DCT + "title"), literal(str(table.metadata["mapping_set_title"])))
        )
    for line, row in table.rows:
        node = iri(f"{set_id[1:-1]}/row/{line}")
        lines += [
            triple(set_id, iri(SSSOM + "mappings"), node),
            triple(node, iri(RDF + "type"), iri(SSSOM + "Mapping")),
            triple(
                node, iri(OWL + "annotatedSource"), iri(_expand(table.prefixes, row["subject_id"]))
            ),
            triple(
                node,
                iri(OWL + "annotatedProperty"),
                iri(_expand(table.prefixes, row["predicate_id"])),
            ),
            triple(
                node, iri(OWL + "annotatedTarget"), iri(_expand(table.prefixes, row["object_id"]))
            ),
            triple(
                node,
                iri(SSSOM + "mapping_justification"),
                iri(_expand(table.prefixes, row["mapping_justification"])),
            ),
        ]
        for column in (
            "subject_label",
            "object_label",
            "subject_category",
            "subject_level",
            "comment",
        ):
            if row.get(column):
                lines.append(triple(node, iri(SSSOM + column), literal(row[column])))
    return lines


def _expand(prefixes: dict[str, str], curie: str) -> str:
    prefix, _, local = curie.partition(":")
    return prefixes.get(prefix, prefix + ":") + local


def mapping_lines(iris: DataIris, mappings: MappingSet, version: MappingVersion) -> list[str]:
    """Return the lines of the mappings graph: the version, its tables and its queries."""
    node = iri(version.iri(iris))
    # The version's own description (prov:Entity, owl:versionInfo, fd:gitCommit) is in the
    # provenance graph: stated here too, a query over the union would see it twice.
    lines = [
        triple(node, iri(RDF + "type"), iri(PROV + "Collection")),
        triple(node, iri(DCT + "hasVersion"), literal(version.version)),
    ]
    for path in mappings.files:
        if path.name.endswith(".sssom.tsv"):
            lines += _table_lines(path, node)
    for query in mappings.queries:
        plan = iri(f"{version.iri(iris)}/query/{query.name}")
        lines += [
            triple(node, iri(PROV + "hadMember"), plan),
            triple(plan, iri(RDF + "type"), iri(FD + "MappingQuery")),
            triple(plan, iri(RDFS + "label"), literal(query.name)),
            triple(plan, iri(DCT + "source"), literal(_relative(query.source, mappings.directory))),
            triple(plan, iri(FD + "sparql"), literal(query.sparql)),
        ]
        lines += [triple(plan, iri(FD + "writes"), iri(term)) for term in sorted(query.writes)]
        lines += [
            triple(plan, iri(FD + "reads"), iri(DCMTAG + word)) for word in sorted(query.reads)
        ]
    return lines


def _relative(path: Path, directory: Path) -> str:
    try:
        return path.relative_to(directory).as_posix()
    except ValueError:
        return path.name


def publish_updates(
    store: GraphStore,
    iris: DataIris,
    mappings: MappingSet,
    version: MappingVersion,
    written: Iterable[str] | None = None,
) -> str:
    """Return the SPARQL update that makes the vocabulary and mappings graphs hold what they
    should: the lines they lack, and the removal of those they should not hold (usually a
    few lines, where writing the graphs again would parse thousands). ``written``: the IRIs
    a remap just wrote, when only those can have changed which terms are in use."""
    removed, added = [], []
    graphs: Iterable[tuple[str, list[str]]] = (
        (vocabulary_graph(iris), vocabulary_lines(store, iris, mappings, written)),
        (mappings_graph(iris), mapping_lines(iris, mappings, version)),
    )
    for graph, lines in graphs:
        held = _graph_lines(store, graph)
        wanted = set(lines)
        if held - wanted:
            removed.append(f"GRAPH <{graph}> {{\n{''.join(sorted(held - wanted))}}}\n")
        if wanted - held:
            added.append(f"GRAPH <{graph}> {{\n{''.join(sorted(wanted - held))}}}\n")
    parts = [f"DELETE DATA {{\n{''.join(removed)}}}"] if removed else []
    parts += [f"INSERT DATA {{\n{''.join(added)}}}"] if added else []
    return " ;\n".join(parts)


def publish(
    store: GraphStore,
    iris: DataIris,
    mappings: MappingSet,
    version: MappingVersion,
    written: Iterable[str] | None = None,
) -> None:
    """Bring the vocabulary and mappings graphs up to date in one transaction."""
    update = publish_updates(store, iris, mappings, version, written)
    if update:
        store.update(update)


def publish_mappings(settings: Settings) -> None:
    """Publish the mappings in force and the labels of what the store uses (after an ingest)."""
    folder = settings.mappings_folder
    mappings = load_mappings(folder, query_form, CORE_ONTOLOGY, TAG_VOCABULARY)
    version = MappingVersion(mappings.version, git_commit(folder))
    store = open_store(settings)
    try:
        publish(store, DataIris(settings.base_iri), mappings, version)
        store.flush()
    finally:
        store.close()


def stored_queries(store: GraphStore, iris: DataIris) -> tuple[str | None, list[tuple[str, str]]]:
    """Return the mapping version of the store's mappings graph and its (name, SPARQL) queries."""
    rows = store.select(
        sparql(__file__, "stored_queries").replace("$GRAPH", f"<{mappings_graph(iris)}>")
    )
    version = lexical(rows[0]["version"]) if rows else None
    return version, [(lexical(row["name"]), lexical(row["sparql"])) for row in rows]
