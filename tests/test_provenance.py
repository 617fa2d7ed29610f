"""Each ingest run is recorded with PROV-O: who (the software, and the operator when the
``operator`` setting names one), when, mapping version, counts."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.namespaces import PROV, XSD
from fairdicom.rdf.mapping import load_mappings
from fairdicom.rdf.terms import Iri, Literal
from fairdicom.resources import MAPPINGS
from fairdicom.store import EmbeddedStore, query_form

QUERY = """
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX fd: <https://w3id.org/fairdicom/ontology#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
SELECT ?run ?start ?end ?seen ?ingested ?version (GROUP_CONCAT(STR(?method)) AS ?methods)
WHERE { GRAPH ?g {
  ?run a prov:Activity ; prov:startedAtTime ?start ; prov:endedAtTime ?end ;
       fd:filesSeen ?seen ; fd:filesIngested ?ingested ; prov:used ?mappings ;
       fd:deidentificationMethod ?method ; prov:wasAssociatedWith ?software .
  ?software a prov:SoftwareAgent .
  ?mappings owl:versionInfo ?version .
} } GROUP BY ?run ?start ?end ?seen ?ingested ?version
"""


def test_each_run_is_recorded(corpus: Path, tmp_path: Path) -> None:
    settings = load_settings(store=str(tmp_path / "s"))
    first = ingest([corpus], settings, "p")
    ingest([corpus], settings, "p")
    store = EmbeddedStore(str(tmp_path / "s"), read_only=True)
    try:
        rows = store.select(QUERY)
    finally:
        store.close()
    assert len(rows) == 2
    version = load_mappings(MAPPINGS, query_form).version
    for row in rows:
        assert row["seen"] == Literal(str(first.files_seen), XSD + "integer")
        assert row["ingested"] == Literal(str(first.ingested), XSD + "integer")
        assert row["version"] == Literal(version)
        assert "http://dicom.nema.org/resources/ontology/DCM/113100" in row["methods"].value
        assert row["start"].value <= row["end"].value


AGENTS = """
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?agent ?type ?label WHERE { GRAPH ?g {
  ?run a prov:Activity ; prov:wasAssociatedWith ?agent . ?agent a ?type .
  OPTIONAL { ?agent rdfs:label ?label }
} }
"""


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("", set()),
        ("Imaging Data Office", {("Imaging Data Office", None)}),
        (
            "https://orcid.org/0000-0002-1825-0097",
            {(None, "https://orcid.org/0000-0002-1825-0097")},
        ),
    ],
)
def test_the_operator_is_the_setting_never_the_account(
    corpus: Path, tmp_path: Path, operator: str, expected: set[tuple[str | None, str | None]]
) -> None:
    settings = load_settings(store=str(tmp_path / "s"), operator=operator)
    ingest([corpus], settings, "p")
    store = EmbeddedStore(str(tmp_path / "s"), read_only=True)
    try:
        rows = store.select(AGENTS)
    finally:
        store.close()
    software = [row for row in rows if row["type"] == Iri(PROV + "SoftwareAgent")]
    assert len(software) == 1  # the software is always an agent of the run
    others = {
        (
            row["label"].value if "label" in row else None,
            None if "label" in row else row["agent"].value,
        )
        for row in rows
        if row["type"] == Iri(PROV + "Agent")
    }
    assert others == expected
    account = getpass.getuser()
    assert all(account not in row["agent"].value.rsplit("/", 1)[-1] for row in rows)
    assert not any(row["type"] == Iri(PROV + "Person") for row in rows)
