"""An OAI-PMH harvester (sickle) harvests the catalogue of a real `fairdicom serve`; every
response, of every verb and metadata prefix, is valid against the OAI-PMH, oai_dc and DataCite
kernel-4 XML schemas (local copies in tests/reference/xsd, see its PROVENANCE.md)."""

from __future__ import annotations

import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
import xmlschema
from fairdicom.catalog.build import refresh_catalog
from fairdicom.catalog.conformance import validate_catalog
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.resources import SAMPLE
from rdflib.namespace import DCAT, RDF
from sickle import Sickle
from sickle.oaiexceptions import CannotDisseminateFormat, IdDoesNotExist, NoRecordsMatch

from tests.servers import free_port, running_server

BASE = "http://localhost/"
ROOT = Path(__file__).resolve().parent.parent
OAI = "{http://www.openarchives.org/OAI/2.0/}"
IDS = ["oai:localhost:sample", "oai:localhost:sample-two"]
XSD = ROOT / "tests" / "reference" / "xsd"
SCHEMAS = [
    XSD / "oai-pmh" / "OAI-PMH.xsd",
    XSD / "oai-pmh" / "oai_dc.xsd",
    XSD / "datacite-kernel-4" / "metadata.xsd",
    ROOT / "tests" / "reference" / "rdf-any.xsd",  # rdf:RDF has no schema: see the file
]
PREFIXES = ["oai_dc", "oai_datacite", "dcat_ap"]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Iterator[str]:
    work = tmp_path_factory.mktemp("oai")
    location = work / "store"
    settings = load_settings(store=str(location), base_iri=BASE, secret="s", query_workers=1)
    ingest([SAMPLE], settings, "sample")
    ingest([corpus], settings, "sample-two")
    text = (ROOT / "data" / "datasets.toml").read_text()
    second = text[text.index("[datasets.sample]") :].replace("[datasets.sample]", "")
    second = second.replace('access_rights = "PUBLIC"', 'access_rights = "RESTRICTED"')
    descriptions = work / "datasets.toml"
    descriptions.write_text(text + "\n[datasets.sample-two]" + second)
    assert refresh_catalog(settings, descriptions).published == ["sample", "sample-two"]
    server = {"store": str(location), "base_iri": BASE, "query_workers": "1"}
    with running_server(work, free_port(), server | {"oai_page_size": "1"}) as base:
        yield base + "oai"


def raw(url: str) -> ET.Element:
    """Return the parsed OAI-PMH response of a GET, checking its media type."""
    with urllib.request.urlopen(url) as response:
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        return ET.fromstring(response.read())


def error(endpoint: str, query: str) -> tuple[str, dict[str, str]]:
    """Return the OAI error code of a request and the attributes its request element echoes."""
    root = raw(f"{endpoint}?{query}")
    errors = root.findall(OAI + "error")
    assert len(errors) == 1, ET.tostring(root)
    assert [child.tag for child in root] == [OAI + "responseDate", OAI + "request", OAI + "error"]
    echoed = root.find(OAI + "request")
    assert echoed is not None
    return errors[0].attrib["code"], dict(echoed.attrib)


def test_identify_sets_and_formats(endpoint: str) -> None:
    sickle = Sickle(endpoint)
    identify = sickle.Identify()
    assert identify.repositoryName == "fairdicom imaging metadata catalogue"
    assert identify.baseURL == endpoint
    assert identify.protocolVersion == "2.0"
    assert identify.adminEmail == "catalogue@example.org"
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.deletedRecord == "no"
    specs = sorted(s.setSpec for s in sickle.ListSets())
    assert specs == ["access_public", "access_restricted", "openaire_data"]
    prefixes = [f.metadataPrefix for f in sickle.ListMetadataFormats(identifier=IDS[0])]
    assert prefixes == ["oai_dc", "oai_datacite", "dcat_ap"]


@pytest.mark.parametrize("prefix", ["oai_dc", "oai_datacite", "dcat_ap"])
def test_list_records_follows_tokens_to_every_record(endpoint: str, prefix: str) -> None:
    records = list(Sickle(endpoint).ListRecords(metadataPrefix=prefix))
    assert [r.header.identifier for r in records] == IDS
    for record in records:
        assert record.header.datestamp.endswith("Z")
        assert "openaire_data" in record.header.setSpecs
    if prefix == "oai_dc":
        assert records[0].metadata["type"] == ["Dataset"]
        assert "fairdicom synthetic imaging sample" in records[0].metadata["title"]
        assert "DICOM" in records[0].metadata["subject"]
    elif prefix == "oai_datacite":
        assert "http://purl.org/coar/access_right/c_abf2" in records[0].raw
        assert "http://purl.org/coar/access_right/c_16ec" in records[1].raw
        assert 'resourceTypeGeneral="Dataset"' in records[1].raw
    else:
        rdf = ET.tostring(records[0].xml.find(f".//{OAI}metadata/*"), encoding="unicode")
        graph = rdflib.Graph().parse(data=rdf, format="xml")
        assert list(graph.subjects(RDF.type, DCAT.Dataset)) == [
            rdflib.URIRef(BASE + "id/dataset/sample")
        ]


def test_get_record_and_selective_harvesting(endpoint: str) -> None:
    sickle = Sickle(endpoint)
    record = sickle.GetRecord(identifier=IDS[1], metadataPrefix="oai_dc")
    assert record.header.identifier == IDS[1]
    assert record.header.setSpecs == ["openaire_data", "access_restricted"]
    stamps = sorted(h.datestamp for h in sickle.ListIdentifiers(metadataPrefix="oai_dc"))
    late = sickle.ListIdentifiers(metadataPrefix="oai_dc", **{"from": stamps[-1]})
    assert stamps[-1] in [h.datestamp for h in late]
    early = [h.datestamp for h in sickle.ListIdentifiers(metadataPrefix="oai_dc", until=stamps[0])]
    assert early and all(stamp <= stamps[0] for stamp in early)
    day = sickle.ListIdentifiers(metadataPrefix="oai_dc", **{"from": stamps[0][:10]})
    assert len(list(day)) == 2
    restricted = sickle.ListIdentifiers(metadataPrefix="oai_dc", set="access_restricted")
    assert [h.identifier for h in restricted] == [IDS[1]]
    with pytest.raises(NoRecordsMatch):
        sickle.ListIdentifiers(metadataPrefix="oai_dc", until="2000-01-01")
    with pytest.raises(IdDoesNotExist):
        sickle.GetRecord(identifier="oai:localhost:nothing", metadataPrefix="oai_dc")
    with pytest.raises(CannotDisseminateFormat):
        sickle.ListRecords(metadataPrefix="marc21")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", "badVerb"),
        ("verb=Nonsense", "badVerb"),
        ("verb=Identify&verb=Identify", "badVerb"),
        ("verb=Identify&extra=1", "badArgument"),
        ("verb=ListRecords", "badArgument"),
        ("verb=GetRecord&metadataPrefix=oai_dc", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2024-13-45", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=yesterday", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2024-02-01&until=2024-01-01", "badArgument"),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01&until=2024-02-01T00:00:00Z",
            "badArgument",
        ),
        ("verb=ListRecords&resumptionToken=abc&metadataPrefix=oai_dc", "badArgument"),
        ("verb=ListRecords&resumptionToken=not-a-token", "badResumptionToken"),
        ("verb=ListSets&resumptionToken=x", "badResumptionToken"),
        ("verb=ListIdentifiers&metadataPrefix=nope", "cannotDisseminateFormat"),
        ("verb=ListMetadataFormats&identifier=oai:localhost:none", "idDoesNotExist"),
        ("verb=ListRecords&metadataPrefix=oai_dc&set=unknown", "noRecordsMatch"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2999-01-01", "noRecordsMatch"),
    ],
)
def test_errors(endpoint: str, query: str, code: str) -> None:
    got, echoed = error(endpoint, query)
    assert got == code
    if code in ("badVerb", "badArgument"):
        assert echoed == {}
    else:
        assert echoed["verb"]


def test_page_of_one_carries_a_resumption_token(endpoint: str) -> None:
    root = raw(f"{endpoint}?verb=ListIdentifiers&metadataPrefix=oai_dc")
    token = root.find(f"{OAI}ListIdentifiers/{OAI}resumptionToken")
    assert token is not None and token.text
    assert token.attrib == {"completeListSize": "2", "cursor": "0"}
    last = raw(f"{endpoint}?verb=ListIdentifiers&resumptionToken={token.text}")
    assert [e.text for e in last.iter(OAI + "identifier")] == IDS[1:]
    end = last.find(f"{OAI}ListIdentifiers/{OAI}resumptionToken")
    assert end is not None and not end.text and end.attrib["cursor"] == "1"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    """The OAI-PMH schema with the schemas of its metadata formats, all read from local files
    (``allow="local"``: a schema that tried to fetch anything would fail here)."""
    return xmlschema.XMLSchema([str(path) for path in SCHEMAS], allow="local")


def every_response(endpoint: str) -> list[tuple[str, bytes]]:
    """GET every verb with every metadata prefix, following resumption tokens, plus errors."""
    queries = ["verb=Identify", "verb=ListMetadataFormats", "verb=ListSets"]
    queries += [f"verb=ListMetadataFormats&identifier={i}" for i in IDS]
    queries += ["verb=Nonsense", "verb=GetRecord&identifier=oai:x:none&metadataPrefix=oai_dc"]
    queries += ["verb=ListRecords&metadataPrefix=oai_dc&from=2999-01-01"]
    for prefix in PREFIXES:
        queries += [f"verb=GetRecord&identifier={i}&metadataPrefix={prefix}" for i in IDS]
        queries += [f"verb={v}&metadataPrefix={prefix}" for v in ("ListIdentifiers", "ListRecords")]
    answers: list[tuple[str, bytes]] = []
    for query in queries:
        while query:
            with urllib.request.urlopen(f"{endpoint}?{query}") as response:
                body = response.read()
            answers.append((query, body))
            token = ET.fromstring(body).find(f".//{OAI}resumptionToken")
            verb = query.split("&")[0]
            more = token is not None and token.text
            query = f"{verb}&resumptionToken={urllib.parse.quote(str(token.text))}" if more else ""
    return answers


def test_every_response_is_valid_against_the_schemas(
    endpoint: str, schema: xmlschema.XMLSchema
) -> None:
    answers = every_response(endpoint)
    seen = {(q.split("&")[0], p) for q, _ in answers for p in PREFIXES if p in q}
    verbs = ("GetRecord", "ListIdentifiers", "ListRecords")
    assert seen >= {(f"verb={v}", p) for v in verbs for p in PREFIXES}
    assert sum("resumptionToken" in q for q, _ in answers) >= 3  # paged lists were followed
    for query, body in answers:
        errors = list(schema.iter_errors(body.decode("utf-8")))
        assert not errors, f"{query}: {errors[0]}"


def test_records_declare_the_schemas_they_are_valid_against(endpoint: str) -> None:
    xsi = "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation"
    datacite = raw(f"{endpoint}?verb=GetRecord&identifier={IDS[0]}&metadataPrefix=oai_datacite")
    resource = datacite.find(".//{http://datacite.org/schema/kernel-4}resource")
    assert resource is not None
    assert resource.attrib[xsi] == (
        "http://datacite.org/schema/kernel-4 http://schema.datacite.org/meta/kernel-4/metadata.xsd"
    )
    identifier = resource.find("{http://datacite.org/schema/kernel-4}identifier")
    assert identifier is not None and identifier.attrib == {"identifierType": "URL"}
    formats = raw(f"{endpoint}?verb=ListMetadataFormats")
    schemas = {
        f.findtext(f"{OAI}metadataPrefix"): f.findtext(f"{OAI}schema")
        for f in formats.iter(f"{OAI}metadataFormat")
    }
    assert schemas["oai_datacite"] == "http://schema.datacite.org/meta/kernel-4/metadata.xsd"


def test_dcat_ap_records_conform_to_the_dcat_ap_shapes(endpoint: str) -> None:
    for identifier in IDS:
        root = raw(f"{endpoint}?verb=GetRecord&identifier={identifier}&metadataPrefix=dcat_ap")
        rdf = ET.tostring(root.find(f".//{OAI}metadata/*"), encoding="unicode")
        graph = rdflib.Graph().parse(data=rdf, format="xml")
        dcat_ap = validate_catalog(graph)[0]
        assert dcat_ap.profile == "DCAT-AP 3.0.1"
        assert dcat_ap.conforms, dcat_ap.text
