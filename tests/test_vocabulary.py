"""Tests of the generated dcmtag: vocabulary and of the core ontology."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fairdicom.dicom.dictionary import dictionary_entries, dictionary_version
from fairdicom.dicom_model import DictionaryEntry
from fairdicom.namespaces import DCMTAG, FD
from fairdicom.rdf.vocabulary import (
    DEFAULT_OUTPUT,
    VOCABULARY_IRI,
    included,
    render_tag_vocabulary,
    write_tag_vocabulary,
)
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "ontologies" / "dicom-tags.ttl"
CORE = ROOT / "ontologies" / "fairdicom.ttl"
RDF_MODEL_DOC = ROOT / "docs" / "rdf-model.md"

FD_TAG = URIRef(FD + "tag")
FD_VR = URIRef(FD + "vr")
FD_VM = URIRef(FD + "vm")


def tag_property(keyword: str) -> URIRef:
    """Return the dcmtag: property IRI of ``keyword``."""
    return URIRef(DCMTAG + keyword)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """Generate the vocabulary into a temporary directory."""
    out = tmp_path_factory.mktemp("vocab") / "dicom-tags.ttl"
    count = write_tag_vocabulary(dictionary_entries(), out, dictionary_version())
    return out, count


@pytest.fixture(scope="module")
def vocabulary(generated: tuple[Path, int]) -> Graph:
    """Parse the generated vocabulary."""
    graph = Graph()
    graph.parse(generated[0], format="turtle")
    return graph


@pytest.fixture(scope="module")
def core() -> Graph:
    """Parse the core ontology."""
    graph = Graph()
    graph.parse(CORE, format="turtle")
    return graph


def test_default_output_is_the_committed_file() -> None:
    assert DEFAULT_OUTPUT.samefile(COMMITTED)


def test_generation_is_deterministic(generated: tuple[Path, int], tmp_path: Path) -> None:
    first, count = generated
    second = tmp_path / "again.ttl"
    assert write_tag_vocabulary(dictionary_entries(), second, dictionary_version()) == count
    assert first.read_bytes() == second.read_bytes()


def test_committed_file_is_up_to_date(generated: tuple[Path, int]) -> None:
    assert COMMITTED.exists(), "run `fairdicom vocabulary` to generate it"
    assert COMMITTED.read_bytes() == generated[0].read_bytes(), (
        "ontologies/dicom-tags.ttl is stale: run `fairdicom vocabulary`"
    )


def test_order_of_entries_does_not_matter() -> None:
    entries = dictionary_entries()
    forward, count = render_tag_vocabulary(entries, "x")
    backward, _ = render_tag_vocabulary(list(reversed(entries)), "x")
    assert forward == backward
    assert count == sum(1 for e in entries if included(e))


def test_command_writes_requested_output(tmp_path: Path, generated: tuple[Path, int]) -> None:
    out = tmp_path / "sub" / "tags.ttl"
    result = run_cli("vocabulary", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == generated[0].read_bytes()


def test_output_is_plain_utf8_with_lf(generated: tuple[Path, int]) -> None:
    data = generated[0].read_bytes()
    assert b"\r" not in data
    assert data.endswith(b"\n")
    data.decode("utf-8")


def test_property_count_matches_graph(vocabulary: Graph, generated: tuple[Path, int]) -> None:
    properties = set(vocabulary.subjects(RDF.type, RDF.Property))
    assert len(properties) == generated[1]
    assert generated[1] > 4000
    assert all(str(p).startswith(DCMTAG) for p in properties)


def test_ontology_header(vocabulary: Graph) -> None:
    ontology = URIRef(VOCABULARY_IRI)
    assert (ontology, RDF.type, OWL.Ontology) in vocabulary
    version = dictionary_version()
    assert vocabulary.value(ontology, OWL.versionInfo) == Literal(version)
    source = vocabulary.value(ontology, URIRef("http://purl.org/dc/terms/source"))
    assert source == Literal(f"DICOM PS3.6 data dictionary as distributed with pydicom {version}")
    assert vocabulary.value(ontology, URIRef("http://purl.org/dc/terms/license")) is not None
    assert vocabulary.value(ontology, URIRef("http://purl.org/dc/terms/title")) is not None


def test_slice_thickness(vocabulary: Graph) -> None:
    prop = tag_property("SliceThickness")
    assert (prop, RDF.type, RDF.Property) in vocabulary
    assert (prop, RDF.type, OWL.DatatypeProperty) in vocabulary
    assert (prop, RDF.type, OWL.ObjectProperty) not in vocabulary
    assert vocabulary.value(prop, FD_VR) == Literal("DS")
    assert vocabulary.value(prop, FD_TAG) == Literal("00180050")
    assert vocabulary.value(prop, FD_VM) == Literal("1")
    assert vocabulary.value(prop, SKOS.notation) == Literal("(0018,0050)")
    assert vocabulary.value(prop, RDFS.label) == Literal("Slice Thickness", lang="en")
    assert vocabulary.value(prop, RDFS.isDefinedBy) == URIRef(VOCABULARY_IRI)
    assert vocabulary.value(prop, OWL.deprecated) is None


def test_sequences_are_object_properties(vocabulary: Graph) -> None:
    prop = tag_property("ReferencedImageSequence")
    assert (prop, RDF.type, OWL.ObjectProperty) in vocabulary
    assert (prop, RDF.type, OWL.DatatypeProperty) not in vocabulary
    for subject in vocabulary.subjects(FD_VR, Literal("SQ")):
        assert (subject, RDF.type, OWL.ObjectProperty) in vocabulary
        assert (subject, RDF.type, OWL.DatatypeProperty) not in vocabulary
    for subject in vocabulary.subjects(RDF.type, OWL.ObjectProperty):
        assert vocabulary.value(subject, FD_VR) == Literal("SQ")


def test_retired_entries_are_deprecated(vocabulary: Graph) -> None:
    retired = {e.keyword for e in dictionary_entries() if e.retired and included(e)}
    deprecated = {
        str(s).removeprefix(DCMTAG) for s in vocabulary.subjects(OWL.deprecated, Literal(True))
    }
    assert retired
    assert deprecated == retired
    # (0008,0040) Data Set Type is retired; (0008,0060) Modality is not.
    assert (tag_property("DataSetType"), OWL.deprecated, Literal(True)) in vocabulary
    assert vocabulary.value(tag_property("Modality"), OWL.deprecated) is None


def test_repeating_groups_are_included(vocabulary: Graph) -> None:
    prop = tag_property("OverlayRows")
    assert vocabulary.value(prop, FD_TAG) == Literal("60xx0010")
    assert vocabulary.value(prop, SKOS.notation) == Literal("(60xx,0010)")
    assert vocabulary.value(prop, FD_VR) == Literal("US")


def test_tags_are_well_formed_and_unique(vocabulary: Graph) -> None:
    tags = [str(o) for o in vocabulary.objects(None, FD_TAG)]
    assert len(tags) == len(set(tags))
    assert all(re.fullmatch(r"[0-9A-Fx]{8}", t) for t in tags)
    assert all(re.fullmatch(r"[0-9A-F]{8}", t) for t in tags if "x" not in t)


def test_entries_without_keyword_are_skipped() -> None:
    blank = DictionaryEntry(0x00180061, "", "", "DS", "1", True)
    item = DictionaryEntry(0xFFFEE000, "Item", "Item", "NONE", "1", False)
    named = DictionaryEntry(0x00180050, "SliceThickness", "Slice Thickness", "DS", "1", False)
    text, count = render_tag_vocabulary([blank, item, named], "test")
    assert count == 1
    assert "dcmtag:SliceThickness " in text
    assert "dcmtag:Item " not in text


def test_labels_are_escaped(tmp_path: Path) -> None:
    odd = DictionaryEntry(0x00091010, "OddName", 'A "quoted" \\ name', "LO", "1", False)
    out = tmp_path / "odd.ttl"
    assert write_tag_vocabulary([odd], out, "test") == 1
    graph = Graph()
    graph.parse(out, format="turtle")
    label = graph.value(tag_property("OddName"), RDFS.label)
    assert label == Literal('A "quoted" \\ name', lang="en")


def test_core_ontology_header(core: Graph) -> None:
    ontology = URIRef("https://w3id.org/fairdicom/ontology")
    assert (ontology, RDF.type, OWL.Ontology) in core
    assert core.value(ontology, OWL.versionInfo) == Literal("0.1.0")
    assert core.value(ontology, URIRef("http://purl.org/dc/terms/license")) is not None


def test_core_declares_every_fd_term_of_the_rdf_model_doc(core: Graph) -> None:
    used = set(re.findall(r"\bfd:(\w+)", RDF_MODEL_DOC.read_text(encoding="utf-8")))
    assert {"Instance", "inSeries", "sliceThickness", "invalidValueFor"} <= used
    declared = {
        str(s).removeprefix(FD) for s in core.subjects(RDF.type, None) if str(s).startswith(FD)
    }
    assert used - declared == set()


def test_core_declares_vocabulary_annotations(core: Graph) -> None:
    for name in ("tag", "vr", "vm"):
        assert (URIRef(FD + name), RDF.type, OWL.AnnotationProperty) in core


def test_core_terms_have_labels(core: Graph) -> None:
    for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, RDFS.Datatype):
        for term in core.subjects(RDF.type, kind):
            if isinstance(term, URIRef):
                assert core.value(term, RDFS.label) is not None, term


def test_core_units_on_quantities(core: Graph) -> None:
    has_unit = URIRef("http://qudt.org/schema/qudt/hasUnit")
    millimetre = URIRef("http://qudt.org/vocab/unit/MilliM")
    for name in ("sliceThickness", "pixelSpacingRow", "pixelSpacingColumn"):
        assert core.value(URIRef(FD + name), has_unit) == millimetre


def test_core_declares_multi_value_datatypes(core: Graph) -> None:
    vr = "https://w3id.org/fairdicom/vr#"
    for name in ("AS", "TM", "AT", "DS", "IS", "CS", "UI", "FD", "US"):
        assert (URIRef(vr + name), RDF.type, RDFS.Datatype) in core


def test_core_refers_only_to_existing_dcmtag_properties(core: Graph, vocabulary: Graph) -> None:
    referenced = {o for o in core.objects() if isinstance(o, URIRef) and str(o).startswith(DCMTAG)}
    assert referenced
    missing = {o for o in referenced if (o, RDF.type, RDF.Property) not in vocabulary}
    assert missing == set()
