"""Tests of the mapping files and their compiler (fairdicom.rdf.mapping)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from fairdicom.errors import MappingError
from fairdicom.rdf.mapping import MappingSet, load_mappings
from fairdicom.store import query_form
from rdflib.compare import graph_diff, isomorphic
from rdflib.plugins.sparql.parser import parseQuery

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "ontologies" / "mappings"
ONTOLOGY = ROOT / "ontologies" / "fairdicom.ttl"
VOCABULARY = ROOT / "ontologies" / "dicom-tags.ttl"
GOLDEN = Path(__file__).with_name("golden")
PREFIXES = """@prefix fd: <https://w3id.org/fairdicom/ontology#> .
@prefix dcmtag: <https://w3id.org/fairdicom/dicom#> .
@prefix vr: <https://w3id.org/fairdicom/vr#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""


def run_mappings(mappings: MappingSet, raw_turtle: str) -> rdflib.Graph:
    """Run every query of ``mappings`` on the raw Turtle in an in-memory store; return the union."""
    store = ox.Store()
    store.load(raw_turtle.encode(), format=ox.RdfFormat.TURTLE)
    lines: set[str] = set()
    for query in mappings.queries:
        result = store.query(query.sparql)
        assert isinstance(result, ox.QueryTriples), query.name
        lines |= {f"{triple} .\n" for triple in result}
    return rdflib.Graph().parse(data="".join(sorted(lines)), format="nt")


def canonical(path: Path) -> rdflib.Graph:
    """Load Turtle through Oxigraph, which writes literals canonically as the queries do."""
    store = ox.Store()
    store.load(path=str(path), format=ox.RdfFormat.TURTLE)
    return rdflib.Graph().parse(data="".join(f"{q.triple} .\n" for q in store), format="nt")


@pytest.fixture(scope="module")
def mappings() -> MappingSet:
    return load_mappings(MAPPINGS, query_form)


def one_series(body: str, base: str = "http://localhost:8000/") -> str:
    """Return raw Turtle of one series (with one study, patient and instance) plus ``body``."""
    return (
        PREFIXES
        + f"""
<{base}id/patient/p1> a fd:Patient .
<{base}id/study/2.25.1> a fd:Study ; fd:ofPatient <{base}id/patient/p1> .
<{base}id/series/2.25.2> a fd:Series ; fd:inStudy <{base}id/study/2.25.1> {body} .
<{base}id/instance/2.25.3> a fd:Instance ; fd:inSeries <{base}id/series/2.25.2> .
"""
    )


def values_of(graph: rdflib.Graph, prop: str) -> list[str]:
    return sorted(str(o) for o in graph.objects(None, rdflib.URIRef(prop)))


FD = "https://w3id.org/fairdicom/ontology#"


def test_golden_curated_graph(mappings: MappingSet) -> None:
    raw = (GOLDEN / "raw-two-studies.ttl").read_text(encoding="utf-8")
    got = run_mappings(mappings, raw)
    expected = canonical(GOLDEN / "curated-two-studies.ttl")
    _, only_got, only_expected = graph_diff(got, expected)
    assert isomorphic(got, expected), (
        f"unexpected:\n{only_got.serialize(format='nt')}\n"
        f"missing:\n{only_expected.serialize(format='nt')}"
    )


def test_mapping_set_shape(mappings: MappingSet) -> None:
    names = [q.name for q in mappings.queries]
    assert names[:4] == ["attributes", "body-part", "modality", "sex"]
    assert "rules/hierarchy" in names and "rules/patient-age" in names
    assert len(mappings.version) == 16 and int(mappings.version, 16) >= 0
    assert mappings.files[0].name == "attributes.sssom.tsv"
    assert {q.source for q in mappings.queries} <= set(mappings.files)
    levels = {m.attribute.rpartition("#")[2]: m.level for m in mappings.attributes}
    assert levels["StudyDate"] == "study" and levels["PatientSex"] == "patient"
    for query in mappings.queries:  # every compiled query is valid for rdflib too
        assert parseQuery(query.sparql)[1].name == "ConstructQuery"


def test_version_changes_with_content(tmp_path: Path, mappings: MappingSet) -> None:
    copy = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, copy)
    same = load_mappings(copy, query_form, ONTOLOGY, VOCABULARY)
    assert same.version == mappings.version
    sex = copy / "sex.sssom.tsv"
    sex.write_text(sex.read_text(encoding="utf-8").replace("\tOther\t", "\tOther sex\t"))
    assert load_mappings(copy, query_form, ONTOLOGY, VOCABULARY).version != mappings.version


@pytest.mark.parametrize(
    ("age", "years"),
    [
        ('"063Y"^^vr:AS', 63),
        ('"006M"^^vr:AS', 0),
        ('"018M"^^vr:AS', 1),
        ('"012W"^^vr:AS', 0),
        ('"104W"^^vr:AS', 1),
        ('"003D"^^vr:AS', 0),
        ('"400D"^^vr:AS', 1),
        ('"063X"^^vr:AS', None),
        ('"63Y"^^vr:AS', None),
        ('"063Y"', None),
    ],
)
def test_patient_age(mappings: MappingSet, age: str, years: int | None) -> None:
    got = run_mappings(mappings, one_series(f"; dcmtag:PatientAge {age}"))
    assert values_of(got, FD + "patientAgeInYears") == ([] if years is None else [str(years)])


@pytest.mark.parametrize(
    ("spacing", "row", "column"),
    [
        ('"0.703125\\\\0.68"^^vr:DS', "0.703125", "0.68"),
        ('" 0.5 \\\\0.5"^^vr:DS', "0.5", "0.5"),
        ("0.25", "0.25", "0.25"),
        ('"7.5E-1"^^xsd:double', "0.75", "0.75"),
        ('"1\\\\2\\\\3"^^vr:DS', None, None),
        ('"abc"', None, None),
    ],
)
def test_pixel_spacing(
    mappings: MappingSet, spacing: str, row: str | None, column: str | None
) -> None:
    got = run_mappings(mappings, one_series(f"; dcmtag:PixelSpacing {spacing}"))
    assert values_of(got, FD + "pixelSpacingRow") == ([row] if row else [])
    assert values_of(got, FD + "pixelSpacingColumn") == ([column] if column else [])
    for value in got.objects(None, rdflib.URIRef(FD + "pixelSpacingRow")):
        assert isinstance(value, rdflib.Literal) and value.datatype == rdflib.XSD.decimal


def test_equipment_iri_uses_the_base_of_the_series(mappings: MappingSet) -> None:
    raw = one_series(
        '; dcmtag:Manufacturer "ACME" ; dcmtag:DeviceSerialNumber "42"',
        base="https://example.org/pacs/",
    )
    (equipment,) = run_mappings(mappings, raw).objects(None, rdflib.URIRef(FD + "equipment"))
    assert str(equipment).startswith("https://example.org/pacs/id/equipment/")


def test_anatomic_region_from_instances_and_unmapped_values(mappings: MappingSet) -> None:
    raw = (
        one_series('; dcmtag:Modality "XX" ; dcmtag:BodyPartExamined "THORAX "')
        + """
<http://localhost:8000/id/instance/2.25.3>
    dcmtag:AnatomicRegionSequence <http://localhost:8000/id/item/i> .
<http://localhost:8000/id/item/i> a fd:SequenceItem ; dcmtag:CodingSchemeDesignator "SCT" ;
    dcmtag:CodeValue "39607008" .
"""
    )
    got = run_mappings(mappings, raw)
    assert values_of(got, FD + "anatomicRegion") == ["http://snomed.info/id/39607008"]
    assert values_of(got, FD + "modality") == [] and values_of(got, FD + "bodyPart") == []


# --- broken mapping files -------------------------------------------------------------------

BROKEN = [
    ("body-part.sssom.tsv", "sct:816094009", "sctx:123", "sctx:123", "unknown prefix 'sctx'"),
    ("body-part.sssom.tsv", "sct:816094009", "sct:816094008", "sct:816094008", "SNOMED CT"),
    (
        "body-part.sssom.tsv",
        "bodypart:BRAIN\t",
        "bodypart:ABDOMEN\t",
        "sct:12738006",
        "already mapped to <http://snomed.info/id/818981001> in body-part.sssom.tsv line 18",
    ),
    ("body-part.sssom.tsv", "bodypart:BRAIN\t", "sct:BRAIN\t", "sct:BRAIN", "not a value IRI"),
    ("body-part.sssom.tsv", "\tPS3.16 Annex L\n", "\n", "bodypart:ABDOMEN\t", "cells"),
    (
        "body-part.sssom.tsv",
        "mapping_justification",
        "justification",
        "subject_id\t",
        "missing column",
    ),
    ("body-part.sssom.tsv", "# license:", "# licence:", None, "lacks 'license'"),
    (
        "body-part.sssom.tsv",
        "#   sct: http://snomed.info/id/",
        "#   sct: a: b",
        "#   sct:",
        "not valid YAML",
    ),
    (
        "body-part.sssom.tsv",
        "#   sct: http://snomed.info/id/",
        "#   sct: http://snomed.info/sct/",
        "#   sct:",
        "app/fairdicom/namespaces.py",
    ),
    ("sex.sssom.tsv", "sex:F\t", "bodypart:F\t", "bodypart:F", "unknown prefix 'bodypart'"),
    (
        "sex.sssom.tsv",
        "skos:exactMatch\tsct:248153007",
        "owl:sameAs\tsct:248153007",
        "sex:M",
        "unknown prefix 'owl'",
    ),
    (
        "sex.sssom.tsv",
        "skos:exactMatch\tsct:248153007",
        "skos:mappingRelation\tsct:248153007",
        "sex:M",
        "is not one of",
    ),
    (
        "attributes.sssom.tsv",
        "dcmtag:StudyDescription\t",
        "dcmtag:StudyDescriptionX\t",
        "dcmtag:StudyDescriptionX",
        "not a DICOM attribute",
    ),
    (
        "attributes.sssom.tsv",
        "fd:studyDescription\t",
        "fd:studyDescriptionX\t",
        "fd:studyDescriptionX",
        "not a property declared",
    ),
    (
        "attributes.sssom.tsv",
        "\tstudy\t(0008,0020)",
        "\tstudies\t(0008,0020)",
        "\tstudies\t",
        "subject_category 'studies'",
    ),
    (
        "attributes.sssom.tsv",
        "\tstudy\t(0008,0020)",
        "\tseries\t(0008,0020)",
        "dcmtag:StudyDate",
        "does not fit the rdfs:domain",
    ),
    (
        "attributes.sssom.tsv",
        "dcmtag:SeriesDescription\t",
        "dcmtag:Manufacturer\t",
        "dcmtag:Manufacturer\tSeries",
        "already mapped",
    ),
    (
        "rules/patient-age.rq",
        "CONSTRUCT { ?study",
        "CONSTRUCT { ?study ?",
        "CONSTRUCT",
        "SPARQL syntax error",
    ),
    (
        "rules/patient-age.rq",
        "fd:patientAgeInYears ?years }",
        "fd:patientAge ?years }",
        "fd:patientAge ?years",
        "not declared in ontologies/fairdicom.ttl",
    ),
    (
        "rules/patient-age.rq",
        "dcmtag:PatientAge ?age",
        "dcmtag:PatientsAge ?age",
        "dcmtag:PatientsAge",
        "not declared in the DICOM data dictionary",
    ),
    (
        "rules/number-of-instances.rq",
        "CONSTRUCT { ?series fd:numberOfInstances ?count }\nWHERE",
        "SELECT ?series ?count WHERE",
        None,
        "must be a CONSTRUCT query",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "marker", "problem"), BROKEN)
def test_broken_mapping_file(
    tmp_path: Path, name: str, old: str, new: str, marker: str | None, problem: str
) -> None:
    if not ONTOLOGY.is_file() or not VOCABULARY.is_file():
        pytest.skip("needs ontologies/fairdicom.ttl and ontologies/dicom-tags.ttl")
    copy = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, copy)
    broken = copy / name
    text = broken.read_text(encoding="utf-8")
    assert old in text, f"test data out of date: {old!r} not in {name}"
    text = text.replace(old, new, 1)
    broken.write_text(text, encoding="utf-8")
    line = 1
    if marker is not None:
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if marker in ln)
    with pytest.raises(MappingError) as caught:
        load_mappings(copy, query_form, ONTOLOGY, VOCABULARY)
    message = str(caught.value)
    assert re.match(rf"{re.escape(str(broken))}:{line}:\d+: ", message), message
    assert problem in message.splitlines()[0], message
    assert len(message.splitlines()) == 1, message


def test_missing_attribute_table(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"attributes\.sssom\.tsv:1:1: the attribute table"):
        load_mappings(tmp_path, query_form, ONTOLOGY, VOCABULARY)


def test_value_table_of_an_unmapped_attribute(tmp_path: Path) -> None:
    copy = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, copy)
    table = copy / "attributes.sssom.tsv"
    text = table.read_text(encoding="utf-8")
    table.write_text(text.replace("dcmtag:PatientSex\t", "dcmtag:PatientAge\t"))
    with pytest.raises(MappingError, match=r"sex\.sssom\.tsv:\d+:1: dcmtag:PatientSex has no used"):
        load_mappings(copy, query_form, ONTOLOGY, VOCABULARY)


def test_rule_with_undeclared_prefix(tmp_path: Path) -> None:
    copy = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, copy)
    (copy / "rules" / "bad.rq").write_text("CONSTRUCT { ?s ?p ?o }\nWHERE { ?s dcmtag:Rows ?o }\n")
    with pytest.raises(MappingError, match=r"bad\.rq:2:12: unknown prefix 'dcmtag'"):
        load_mappings(copy, query_form, ONTOLOGY, VOCABULARY)


def test_without_vocabulary_keywords_are_only_checked_for_form(tmp_path: Path) -> None:
    copy = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, copy)
    rule = "PREFIX dcmtag: <https://w3id.org/fairdicom/dicom#>\nCONSTRUCT { ?s ?p ?o }\n"
    (copy / "rules" / "bad.rq").write_text(rule + "WHERE { ?s dcmtag:NotInTheDictionary ?o }")
    load_mappings(copy, query_form, tmp_path / "none.ttl", tmp_path / "none.ttl")
    (copy / "rules" / "bad.rq").write_text(rule + "WHERE {\n ?s dcmtag:Not-a-keyword ?o }")
    with pytest.raises(MappingError, match=r"bad\.rq:4:5: .* not declared in the DICOM data"):
        load_mappings(copy, query_form, tmp_path / "none.ttl", tmp_path / "none.ttl")


# --- every problem of every file, in one run (the curator's `fairdicom mapping check`) ------

MANY = [
    # (file, old, new, marker of the line, what the message says)
    ("body-part.sssom.tsv", "sct:816094009", "sct:816094008", "sct:816094008", "SNOMED CT"),
    (
        "body-part.sssom.tsv",
        "Brain\tsemapv:ManualMappingCuration",
        "Brain\tsemapv:ManualCuration",
        "semapv:ManualCuration",
        "(did you mean 'semapv:ManualMappingCuration'?)",
    ),
    ("modality.sssom.tsv", "dcm:CT\t", "dcm:C T\t", "dcm:C T", "not allowed in an IRI"),
    ("modality.sssom.tsv", "dcm:MR\t", "dcm:MR!\t", "dcm:MR!", "not a valid DICOM controlled"),
    (
        "sex.sssom.tsv",
        "skos:exactMatch\tsct:74964007",
        "skos:exactMatsh\tsct:74964007",
        "skos:exactMatsh",
        "(did you mean 'skos:exactMatch'?)",
    ),
    (
        "attributes.sssom.tsv",
        "dcmtag:SliceThickness\t",
        "dcmtag:SliceThicknes\t",
        "dcmtag:SliceThicknes\t",
        "(did you mean 'SliceThickness'?)",
    ),
    (
        "attributes.sssom.tsv",
        "dcmtag:StudyDescription\t",
        "dcmtag:PatientName\tPatient's Name\tskos:exactMatch\tfd:studyDescription\tx\t"
        "semapv:ManualMappingCuration\tstudy\t\ndcmtag:StudyDescription\t",
        "dcmtag:PatientName",
        "de-identification removes it",
    ),
    (
        "attributes.sssom.tsv",
        "dcmtag:StudyDescription\t",
        "dcmtag:AcquisitionDate\tAcquisition Date\tskos:exactMatch\tfd:studyDescription\tx\t"
        "semapv:ManualMappingCuration\tstudy\t\ndcmtag:StudyDescription\t",
        "dcmtag:AcquisitionDate",
        "(VR DA) does not give values of the rdfs:range of fd:studyDescription (string)",
    ),
    (
        "rules/patient-age.rq",
        "CONSTRUCT { ?study fd:patientAgeInYears ?years }",
        "CONSTRUCT { ?study dcmtag:PatientAge ?years }",
        "CONSTRUCT { ?study dcmtag:PatientAge",
        "a term of the raw layer",
    ),
    (
        "rules/sop-class.rq",
        "CONSTRUCT { ?series",
        "CONSTRUCT { ?series ?",
        "CONSTRUCT",
        "SPARQL syntax",
    ),
    (
        "rules/pixel-spacing.rq",
        "fd:pixelSpacingRow",
        "fd:pixelSpacingRows",
        "fd:pixelSpacingRows",
        "(did you mean 'pixelSpacingRow'?)",
    ),
]


def test_every_problem_of_every_file_in_one_run(tmp_path: Path) -> None:
    copy = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, copy)
    expected: list[tuple[str, int, str]] = []
    for name, old, new, _, _ in MANY:
        path = copy / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    for name, _, _, marker, problem in MANY:
        lines = (copy / name).read_text(encoding="utf-8").splitlines()
        line = next(i for i, ln in enumerate(lines, 1) if marker in ln)
        expected.append((name, line, problem))
    done = run_cli("mapping", "check", str(copy))
    assert done.returncode == 1, done.stdout + done.stderr
    reported = done.stderr.splitlines()
    assert reported[-1] == f"{len(MANY)} problem(s) in 7 file(s)", done.stderr
    for name, line, problem in expected:
        where = re.compile(rf"{re.escape(str(copy / name))}:{line}:\d+: ")
        found = [r for r in reported if where.match(r)]
        assert found and any(problem in r for r in found), (name, line, problem, done.stderr)
    assert len(reported) == len(MANY) + 1, done.stderr


def test_check_accepts_the_bundled_mappings() -> None:
    done = run_cli("mapping", "check")
    assert done.returncode == 0, done.stderr
    assert ": OK (version " in done.stdout
