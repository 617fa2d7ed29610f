"""Generate the ``dcmtag:`` vocabulary (one RDF property per DICOM attribute) as Turtle.

The Turtle is written by hand, not by rdflib's serializer, so that the output is byte-identical
for the same dictionary: entries are sorted by tag and every statement has a fixed place.
Run ``fairdicom vocabulary`` to regenerate
``ontologies/dicom-tags.ttl``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from fairdicom.dicom_model import DictionaryEntry
from fairdicom.namespaces import DCMTAG, DCT, FD, OWL, RDF, RDFS, SKOS
from fairdicom.rdf.terms import literal
from fairdicom.resources import TAG_VOCABULARY

__all__ = [
    "DEFAULT_OUTPUT",
    "VOCABULARY_IRI",
    "included",
    "render_tag_vocabulary",
    "write_tag_vocabulary",
]

VOCABULARY_IRI = "https://w3id.org/fairdicom/dicom"
"""The ontology IRI of the generated vocabulary (``rdfs:isDefinedBy`` of every property)."""

DEFAULT_OUTPUT = TAG_VOCABULARY
"""Where ``fairdicom vocabulary`` writes: ``ontologies/dicom-tags.ttl`` in the source tree."""

_BASE = VOCABULARY_IRI.rsplit("/", 1)[0] + "/"
_LOCAL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_NOT_ATTRIBUTES = frozenset({"NONE"})
"""VRs of dictionary entries that are encoding delimiters (Item, ...), not attributes."""

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("dcmtag", DCMTAG),
    ("dct", DCT),
    ("fairdicom", _BASE),
    ("fd", FD),
    ("owl", OWL),
    ("rdf", RDF),
    ("rdfs", RDFS),
    ("skos", SKOS),
)

_LICENSE_NOTE = (
    "Attribute tags, keywords, names, value representations and multiplicities are taken "
    "from DICOM PS3.6 (Data Dictionary), copyright NEMA, and are subject to the notices of "
    "the DICOM Standard (https://www.dicomstandard.org/). DICOM is the registered trademark "
    "of the National Electrical Manufacturers Association for its standards publications "
    "relating to digital communications of medical information."
)


def _subject(keyword: str) -> str:
    """Return the Turtle term of the property named by ``keyword``."""
    if _LOCAL_NAME.fullmatch(keyword):
        return f"dcmtag:{keyword}"
    return f"<{DCMTAG}{keyword}>"


def included(entry: DictionaryEntry) -> bool:
    """Return whether ``entry`` becomes a property (it has a keyword and is an attribute)."""
    return bool(entry.keyword) and entry.vr not in _NOT_ATTRIBUTES


def _property_block(entry: DictionaryEntry) -> str:
    """Return the Turtle statements of one attribute property."""
    kind = "owl:ObjectProperty" if entry.vr == "SQ" else "owl:DatatypeProperty"
    last = " ; owl:deprecated true ." if entry.retired else " ."
    return (
        f"{_subject(entry.keyword)} a rdf:Property, {kind} ;\n"
        f"    rdfs:label {literal(entry.name)}@en ; skos:notation {literal(entry.notation)} ;\n"
        f"    fd:tag {literal(entry.tag_hex)} ; fd:vr {literal(entry.vr)} ;"
        f" fd:vm {literal(entry.vm)} ; rdfs:isDefinedBy fairdicom:dicom{last}\n"
    )


def _header(version: str, count: int) -> str:
    """Return the file comment, prefixes and ontology header."""
    lines = [
        "# fairdicom DICOM attribute vocabulary: one property per PS3.6 data-dictionary keyword.",
        f"# Generated from the data dictionary of pydicom {version} by `fairdicom vocabulary`.",
        "# Do not edit by hand: regenerate it.",
        "",
    ]
    lines += [f"@prefix {name}: <{iri}> ." for name, iri in _PREFIXES]
    lines += [
        "",
        "fairdicom:dicom a owl:Ontology ;",
        '    dct:title "fairdicom DICOM attribute vocabulary"@en ;',
        "    dct:description "
        + literal(
            f"{count} properties, one per keyword of the DICOM data dictionary, named "
            "dcmtag:<Keyword>. Values follow the fairdicom RDF model: literals by VR "
            "(see the vr: datatypes of the core ontology), sequences (VR SQ) as object "
            "properties to fd:SequenceItem resources. Retired attributes are "
            "owl:deprecated."
        )
        + "@en ;",
        "    dct:source "
        + literal(f"DICOM PS3.6 data dictionary as distributed with pydicom {version}")
        + " ;",
        f"    dct:license {literal(_LICENSE_NOTE)}@en ;",
        "    rdfs:seeAlso <https://dicom.nema.org/medical/dicom/current/output/html/part06.html> ,",
        "        <https://w3id.org/fairdicom/ontology> ;",
        f"    owl:versionInfo {literal(version)} .",
        "",
    ]
    return "\n".join(lines) + "\n"


def render_tag_vocabulary(entries: Iterable[DictionaryEntry], version: str) -> tuple[str, int]:
    """Return the vocabulary as Turtle text and the number of properties in it."""
    selected = sorted(
        (e for e in entries if included(e)), key=lambda e: (e.tag, e.tag_hex, e.keyword)
    )
    seen: set[str] = set()
    body: list[str] = []
    group = ""
    for entry in selected:
        if entry.keyword in seen:
            continue
        seen.add(entry.keyword)
        if entry.group != group:
            group = entry.group
            body.append(f"\n# group {group}\n")
        body.append(_property_block(entry))
    return _header(version, len(seen)) + "".join(body), len(seen)


def write_tag_vocabulary(entries: Iterable[DictionaryEntry], out: Path, version: str) -> int:
    """Write the vocabulary of ``entries`` (of dictionary ``version``) as Turtle to ``out`` and
    return the property count."""
    text, count = render_tag_vocabulary(entries, version)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", newline="\n")
    return count
