"""What the mapping checks know about terms: SSSOM vocabularies, concept identifiers of known
vocabularies, the tag vocabulary's keywords and VRs, the ontology's properties, and which
datatypes the raw layer gives each VR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS

from fairdicom.namespaces import DCM, FD, SCT, SKOS, UNIT, VR, XSD
from fairdicom.rdf.sssom import closest, fail

SEMAPV = "https://w3id.org/semapv/vocab/"
JUSTIFICATIONS = (
    "LexicalMatching",
    "LogicalReasoning",
    "CompositeMatching",
    "UnspecifiedMatching",
    "SemanticSimilarityThresholdMatching",
    "LexicalSimilarityThresholdMatching",
    "MappingChaining",
    "MappingReview",
    "ManualMappingCuration",
    "MappingInversion",
    "StructuralMatching",
    "InstanceBasedMatching",
    "BackgroundKnowledgeBasedMatching",
)
"""The semapv terms SSSOM allows as mapping_justification (sssom-schema 1.0)."""
USED = frozenset(SKOS + p for p in ("exactMatch", "closeMatch", "broadMatch"))
DOCUMENTED = frozenset(SKOS + p for p in ("narrowMatch", "relatedMatch"))
PREDICATE_NAMES = (
    "skos:exactMatch",
    "skos:closeMatch",
    "skos:broadMatch",
    "skos:narrowMatch",
    "skos:relatedMatch",
)
PROPERTY_TYPES = frozenset({OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property})
RADLEX = "http://radlex.org/RID/"
LOINC = "http://loinc.org/rdf/"
CONCEPT_PATTERNS: dict[str, tuple[str, re.Pattern[str]]] = {
    DCM: ("DICOM controlled terminology (DCM)", re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}\Z")),
    RADLEX: ("RadLex", re.compile(r"RID[1-9][0-9]*\Z")),
    LOINC: ("LOINC", re.compile(r"[1-9][0-9]{0,7}-[0-9]\Z")),
    UNIT: ("QUDT units", re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")),
}
"""Known vocabularies besides SNOMED CT: name and the form of a valid identifier."""
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
_TEXT_VRS = ("AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT")
_INTEGER_VRS = ("IS", "US", "SS", "UL", "SL", "UV", "SV")
DATATYPES: dict[str, frozenset[str]] = {
    "DS": frozenset({XSD + "decimal", VR + "DS"}),
    **{vr: frozenset({XSD + "integer", VR + vr}) for vr in _INTEGER_VRS},
    "FL": frozenset({XSD + "double", VR + "FL"}),
    "FD": frozenset({XSD + "double", VR + "FD"}),
    "DA": frozenset({XSD + "date", VR + "DA"}),
    "TM": frozenset({XSD + "time", VR + "TM"}),
    "DT": frozenset({XSD + "dateTime", XSD + "date", XSD + "gYearMonth", XSD + "gYear", VR + "DT"}),
    "AS": frozenset({VR + "AS"}),
    "UI": frozenset({XSD + "string", VR + "UI"}),
    "AT": frozenset({VR + "AT"}),
    **{vr: frozenset({XSD + "string", VR + vr}) for vr in _TEXT_VRS},
    **{vr: frozenset({XSD + "base64Binary"}) for vr in ("OB", "OD", "OF", "OL", "OV", "OW", "UN")},
}
"""The datatypes the raw layer gives a valid value of each VR (docs/rdf-model.md); a
multi-valued value has the ``vr:`` datatype."""
ANY_LITERAL = frozenset({str(RDFS.Literal), XSD + "anySimpleType"})


@dataclass(frozen=True)
class Tag:
    """One keyword of the tag vocabulary: its tag (hex) and VR (``US or SS`` when two)."""

    keyword: str
    tag: str
    vr: str
    label: str = ""


_TAG_LINE = re.compile(
    r'^dcmtag:(\w+) a .*?\n\s+rdfs:label "((?:[^"\\]|\\.)*)"@en.*?\n'
    r'\s+fd:tag "([0-9A-Fx]{8})" ; fd:vr "([^"]*)"',
    re.MULTILINE,
)
_tags: dict[tuple[str, int, int], dict[str, Tag]] = {}
_parsed: dict[tuple[str, int, int], tuple[Graph, set[str]]] = {}


def _key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def vocabulary_tags(path: Path) -> dict[str, Tag]:
    """Return keyword -> Tag of the generated tag vocabulary.

    The file is generated one property per ``dcmtag:Keyword a ...`` block of three lines, so a
    scan is exact and takes milliseconds where a Turtle parse of 40,000 triples takes seconds.
    """
    key = _key(path)
    if key not in _tags:
        text = path.read_text(encoding="utf-8")
        _tags[key] = {m[1]: Tag(m[1], m[3], m[4], m[2]) for m in _TAG_LINE.finditer(text)}
    return _tags[key]


def turtle(path: Path) -> tuple[Graph, set[str]]:
    """Parse a Turtle file once per content version; return it and its typed subjects."""
    key = _key(path)
    if key not in _parsed:
        graph = Graph()
        try:
            graph.parse(path, format="turtle")
        except Exception as exc:
            fail(path, 1, f"cannot be read as Turtle: {exc}")
        _parsed[key] = (graph, {str(s) for s in graph.subjects(RDF.type, None)})
    return _parsed[key]


def domain(graph: Graph, prop: str) -> set[str]:
    """Return the classes of a property's rdfs:domain (the members of an owl:unionOf too)."""
    classes: set[str] = set()
    for node in graph.objects(URIRef(prop), RDFS.domain):
        if isinstance(node, BNode):
            for union in graph.objects(node, OWL.unionOf):
                classes |= {str(c) for c in Collection(graph, union)}
        else:
            classes.add(str(node))
    return classes


def properties(graph: Graph) -> dict[str, str]:
    """Return property IRI -> its kind (``object``, ``datatype`` or ``property``)."""
    kinds = {
        OWL.ObjectProperty: "object",
        OWL.DatatypeProperty: "datatype",
        RDF.Property: "property",
    }
    found: dict[str, str] = {}
    for kind, name in kinds.items():
        for subject in graph.subjects(RDF.type, kind):
            if isinstance(subject, URIRef):
                found.setdefault(str(subject), name)
    return found


def ranges(graph: Graph, prop: str) -> set[str]:
    """Return the IRIs of a property's rdfs:range."""
    return {str(r) for r in graph.objects(URIRef(prop), RDFS.range) if isinstance(r, URIRef)}


def snomed_ok(code: str) -> bool:
    """Return whether ``code`` is a SNOMED CT concept id (partition 00/10, Verhoeff check)."""
    if not (code.isdigit() and 6 <= len(code) <= 18 and code[-3:-1] in ("00", "10")):
        return False
    check = 0
    for i, digit in enumerate(reversed(code)):
        check = int(_VERHOEFF_D[check][int(_VERHOEFF_P[i % 8][int(digit)])])
    return check == 0


def concept_problem(iri: str, declared: set[str] | None) -> str | None:
    """Return why a concept IRI is not acceptable as a mapping target, or None.

    A target is a concept of a known vocabulary with a valid identifier (SNOMED CT with its
    check digit, DCM, RadLex, LOINC, QUDT units) or a term declared in the ontologies.
    """
    if iri.startswith(SCT):
        if snomed_ok(iri[len(SCT) :]):
            return None
        return "is not a valid SNOMED CT concept identifier (check digit or partition wrong)"
    for namespace, (name, pattern) in CONCEPT_PATTERNS.items():
        if iri.startswith(namespace):
            if pattern.match(iri[len(namespace) :]):
                return None
            return f"is not a valid {name} identifier"
    if declared is None or iri in declared:
        return None
    if iri.startswith(FD):
        return "is not declared in ontologies/fairdicom.ttl"
    return (
        "is neither a concept of a known vocabulary (SNOMED CT, DCM, RadLex, LOINC, QUDT "
        "units) nor declared in the ontologies"
    )


def justification_problem(iri: str) -> str | None:
    """Return why a mapping_justification is not an SSSOM one, or None."""
    if iri.startswith(SEMAPV) and iri[len(SEMAPV) :] in JUSTIFICATIONS:
        return None
    local = iri[len(SEMAPV) :] if iri.startswith(SEMAPV) else iri.rpartition("/")[2]
    return (
        "is not a mapping justification of the SSSOM vocabulary (semapv:"
        + ", semapv:".join(("ManualMappingCuration", "LexicalMatching", "MappingReview"))
        + ", ...)"
        + closest(local, JUSTIFICATIONS).replace("'", "'semapv:", 1)
    )


def vr_fits(vr: str, wanted: set[str]) -> bool:
    """Return whether a valid value of a VR (``US or SS``: either) has a datatype in ``wanted``
    (an empty ``wanted``, rdfs:Literal or an unknown VR fit anything)."""
    if not wanted or wanted & ANY_LITERAL:
        return True
    choices = [DATATYPES.get(one.strip()) for one in vr.split(" or ")]
    return any(found is None or found & wanted for found in choices)
