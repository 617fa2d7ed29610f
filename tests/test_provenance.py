"""Each ingest run is recorded with PROV-O: who, when, software, mapping version, counts."""

from __future__ import annotations

from pathlib import Path

from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.rdf.mapping import load_mappings
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
        assert row["seen"].startswith(f'"{first.files_seen}"')
        assert row["ingested"].startswith(f'"{first.ingested}"')
        assert row["version"] == f'"{version}"'
        assert "http://dicom.nema.org/resources/ontology/DCM/113100" in row["methods"]
        assert row["start"] <= row["end"]
