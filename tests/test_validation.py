"""Tests of the curated-layer shapes (shapes/curated.ttl) and fairdicom.rdf.validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from fairdicom.rdf import validation
from fairdicom.rdf.mapping import load_mappings
from fairdicom.rdf.validation import DEFAULT_SHAPES, validate_curated
from fairdicom.store import query_form
from pyshacl.entrypoints import meta_validate
from rdflib import RDF, XSD, Literal, URIRef
from rdflib.namespace import SH

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).with_name("golden")
FD = rdflib.Namespace("https://w3id.org/fairdicom/ontology#")
SCT = rdflib.Namespace("http://snomed.info/id/")
ID = "http://localhost:8000/id/"
SERIES_1, SERIES_2 = URIRef(ID + "series/2.25.2001"), URIRef(ID + "series/2.25.2002")
STUDY_1, PATIENT_1 = URIRef(ID + "study/2.25.1001"), URIRef(ID + "patient/0123456789abcdef0123")
INSTANCE_1 = URIRef(ID + "instance/2.25.3001")


def curated(change: Callable[[rdflib.Graph], object] | None = None) -> str:
    """Return the golden curated graph as N-Triples, after ``change`` if given."""
    graph = rdflib.Graph().parse(GOLDEN / "curated-two-studies.ttl", format="turtle")
    if change is not None:
        change(graph)
    return graph.serialize(format="nt")


def in_two_series(graph: rdflib.Graph) -> None:
    """Link instance 1 to both series (fd:inSeries, the raw layer's statement of its series)."""
    graph.addN((INSTANCE_1, FD.inSeries, series, graph) for series in (SERIES_1, SERIES_2))


def test_shapes_are_valid_shacl() -> None:
    conforms, _, text = meta_validate(str(DEFAULT_SHAPES), inference="none")
    assert conforms, text


def test_golden_curated_graph_conforms() -> None:
    result = validate_curated(curated())
    assert result.conforms, result.report_text
    assert result.failing_nodes == set() and result.failing_series == set()
    # series 2 has no body part: a warning, reported but not failing
    assert "Warning" in result.report_text and str(SERIES_2) in result.report_text
    report = rdflib.Graph().parse(data=result.report_turtle, format="turtle")
    assert (None, RDF.type, SH.ValidationReport) in report


def test_series_without_modality_fails() -> None:
    result = validate_curated(curated(lambda g: g.remove((SERIES_1, FD.modality, None))))
    assert not result.conforms
    assert result.failing_nodes == {str(SERIES_1)}
    assert result.failing_series == {str(SERIES_1)}
    assert "has no modality" in result.report_text


def test_study_with_two_study_dates_fails_its_series() -> None:
    def second_date(graph: rdflib.Graph) -> None:
        graph.add((STUDY_1, FD.studyDate, Literal("2021-03-05", datatype=XSD.date)))

    result = validate_curated(curated(second_date))
    assert result.failing_nodes == {str(STUDY_1)}
    assert result.failing_series == {str(SERIES_1)}
    assert "disagree on Study Date" in result.report_text


@pytest.mark.parametrize(
    ("change", "node"),
    [
        (lambda g: g.add((PATIENT_1, FD.sex, SCT["248153007"])), PATIENT_1),
        (lambda g: g.set((PATIENT_1, FD.sex, SCT["12345"])), PATIENT_1),
        (lambda g: g.set((STUDY_1, FD.patientAgeInYears, Literal(131))), STUDY_1),
        (lambda g: g.set((STUDY_1, FD.studyDate, Literal("20210304"))), STUDY_1),
        (lambda g: g.remove((STUDY_1, FD.patient, None)), STUDY_1),
        (lambda g: g.add((INSTANCE_1, FD.inSeries, STUDY_1)), INSTANCE_1),
        (in_two_series, INSTANCE_1),
        (
            lambda g: g.set((SERIES_1, FD.sliceThickness, Literal("0", datatype=XSD.decimal))),
            SERIES_1,
        ),
        (
            lambda g: g.set((SERIES_1, FD.sliceThickness, Literal("1e0", datatype=XSD.double))),
            SERIES_1,
        ),
        (
            lambda g: g.add((SERIES_1, FD.pixelSpacingRow, Literal("0.5", datatype=XSD.decimal))),
            SERIES_1,
        ),
        (lambda g: g.set((SERIES_1, FD.numberOfInstances, Literal(0))), SERIES_1),
        (lambda g: g.set((SERIES_1, FD.modality, Literal("CT"))), SERIES_1),
        (lambda g: g.add((SERIES_1, FD.bodyPart, SCT["39607008"])), SERIES_1),
        (lambda g: g.remove((SERIES_1, FD.study, None)), SERIES_1),
    ],
)
def test_violations(change: Callable[[rdflib.Graph], object], node: URIRef) -> None:
    result = validate_curated(curated(change))
    assert not result.conforms
    assert result.failing_nodes == {str(node)}, result.report_text


def test_an_instance_in_two_series_fails_both() -> None:
    result = validate_curated(curated(in_two_series))
    assert result.failing_nodes == {str(INSTANCE_1)}
    assert result.failing_series == {str(SERIES_1), str(SERIES_2)}


def test_failing_patient_fails_the_series_of_its_studies() -> None:
    result = validate_curated(curated(lambda g: g.add((PATIENT_1, FD.sex, SCT["74964007"]))))
    assert result.failing_series == {str(SERIES_1)}


def test_shapes_graph_is_parsed_once(tmp_path: Path) -> None:
    validate_curated(curated())
    first = validation._shapes_graph(DEFAULT_SHAPES)
    assert validation._shapes_graph(DEFAULT_SHAPES) is first
    custom = tmp_path / "shapes.ttl"
    custom.write_text(DEFAULT_SHAPES.read_text(encoding="utf-8"), encoding="utf-8")
    assert validate_curated(curated(), custom).conforms


def test_raw_to_curated_to_validation() -> None:
    """Two series of one study that disagree on its date (and age) send both to quarantine."""
    raw = (GOLDEN / "raw-two-studies.ttl").read_text(encoding="utf-8")
    raw = raw.replace("fd:inStudy id:study\\/2.25.1002", "fd:inStudy id:study\\/2.25.1001")
    raw = raw.replace('dcmtag:PatientSex "M"', 'dcmtag:PatientSex "F"')
    store = ox.Store()
    store.load(raw.encode(), format=ox.RdfFormat.TURTLE)
    mappings = load_mappings(ROOT / "ontologies" / "mappings", query_form)
    lines: set[str] = set()
    for query in mappings.queries:
        triples = store.query(query.sparql)
        assert isinstance(triples, ox.QueryTriples)
        lines |= {f"{triple} .\n" for triple in triples}
    result = validate_curated("".join(sorted(lines)))
    assert result.failing_nodes == {str(STUDY_1)}
    assert result.failing_series == {str(SERIES_1), str(SERIES_2)}
