"""Harvesters get what we validate: the served ``/catalog`` of a real ``fairdicom serve``, page by
page, in Turtle and RDF/XML, checked with pyshacl and the official shapes, and read by
ckanext-dcat's own parser (CKAN's DCAT harvester).

The store holds three datasets, one per access level: the bundled sample (PUBLIC), a synthetic
corpus described as RESTRICTED, and the same corpus under a slug the descriptions file does not
know (published with a generated NON_PUBLIC description). The server derives its base IRI
from the port it listens on, so every link a harvester follows is one it can fetch.
"""

from __future__ import annotations

import sys
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
import rdflib
from fairdicom.catalog.build import refresh_catalog
from fairdicom.catalog.conformance import validate_catalog
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.resources import DESCRIPTIONS, SAMPLE
from rdflib.namespace import DCAT, XSD

from tests.servers import free_port, running_server

pytestmark = [
    # ckanext-dcat's parser builds an rdflib ConjunctiveGraph.
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
]

HEALTH = rdflib.Namespace("http://healthdataportal.eu/ns/health#")
HYDRA = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
LEVELS = {"sample": "PUBLIC", "sample-restricted": "RESTRICTED", "undescribed": "NON_PUBLIC"}
FORMATS = {"turtle": "text/turtle", "xml": "application/rdf+xml"}
COUNTS = (
    DCAT.byteSize,
    HEALTH.numberOfRecords,
    HEALTH.numberOfUniqueIndividuals,
    HEALTH.minTypicalAge,
    HEALTH.maxTypicalAge,
)


@dataclass(frozen=True)
class Site:
    """A running server: its base URL (= base_iri), store and the expected figures."""

    base: str
    store: Path
    ages: tuple[int, int]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("harvest-served")
    port = free_port()
    base = f"http://localhost:{port}/"  # what the server derives from its address
    store = work / "store"
    settings = load_settings(store=str(store), base_iri=base, secret="s", workers=1)
    ingest([SAMPLE], settings, "sample")
    ingest([corpus], settings, "sample-restricted")
    ingest([corpus], settings, "undescribed")
    text = DESCRIPTIONS.read_text(encoding="utf-8")
    restricted = text[text.index("[datasets.sample]") :].replace("[datasets.sample]", "")
    restricted = restricted.replace('access_rights = "PUBLIC"', 'access_rights = "RESTRICTED"')
    descriptions = work / "datasets.toml"
    descriptions.write_text(text + "\n[datasets.sample-restricted]" + restricted)
    summary = refresh_catalog(settings, descriptions)
    assert summary.published == ["sample", "sample-restricted", "undescribed"]
    assert summary.generated == ["undescribed"]
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in SAMPLE.rglob("*.dcm")]
    ages = [int(str(h.PatientAge)[:3]) for h in headers if "PatientAge" in h]
    server = {"store": str(store), "secret": "s", "query_workers": "1"}
    with running_server(work, port, server) as url:
        assert url == f"http://127.0.0.1:{port}/"
        yield Site(base, store, (min(ages), max(ages)))


def fetch(url: str, accept: str) -> bytes:
    """GET a URL as a harvester does: it must answer 200 in the format asked for."""
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.status == 200
        assert reply.headers.get_content_type() == accept
        body: bytes = reply.read()
        return body


def harvest(site: Site, fmt: str) -> list[rdflib.Graph]:
    """Follow ``hydra:next`` from the first page (one dataset a page); return every page."""
    url: str | None = site.base + "catalog?pageSize=1"
    pages: list[rdflib.Graph] = []
    while url:
        assert url.startswith(site.base), url
        page = rdflib.Graph().parse(data=fetch(url, FORMATS[fmt]), format=fmt)
        pages.append(page)
        following = next(page.objects(None, HYDRA.next), None)
        url = str(following) if following is not None else None
        assert len(pages) <= len(LEVELS)
    return pages


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_served_page_conforms_to_the_official_shapes(site: Site, fmt: str) -> None:
    pages = harvest(site, fmt)
    assert len(pages) == len(LEVELS)
    profiles: set[str] = set()
    for page in pages:
        for literal in (o for p in COUNTS for o in page.objects(None, p)):
            assert isinstance(literal, rdflib.Literal)
            assert literal.datatype == XSD.nonNegativeInteger, literal
        for result in validate_catalog(page):
            assert result.conforms and result.violations == 0, result.text
            profiles.add(result.profile)
    levels = {f"HealthDCAT-AP r8 {level}" for level in LEVELS.values()}
    assert profiles == {"DCAT-AP 3.0.1", *levels}


def test_served_figures_are_the_files_figures(site: Site) -> None:
    page = rdflib.Graph().parse(
        data=fetch(site.base + "catalog/dataset/sample", "text/turtle"), format="turtle"
    )
    dataset = rdflib.URIRef(site.base + "id/dataset/sample")
    ages = (page.value(dataset, HEALTH.minTypicalAge), page.value(dataset, HEALTH.maxTypicalAge))
    assert tuple(int(str(age)) for age in ages) == site.ages
    period = page.value(dataset, rdflib.URIRef("http://purl.org/dc/terms/temporal"))
    start, end = page.value(period, DCAT.startDate), page.value(period, DCAT.endDate)
    assert start is not None and end is not None and start.toPython() <= end.toPython()


def ckan_parser() -> Any:
    """Return ckanext-dcat's RDFParser with the DCAT-AP 3 and HealthDCAT-AP profiles."""
    path = list(sys.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CKAN's own imports (passlib's crypt, ...)
        from ckanext.dcat.processors import RDFParser
    # CKAN puts its own folder first on sys.path, where its `tests` package would then shadow
    # ours in every process started later (the ingest tests' forkserver children).
    sys.path[:] = path
    return RDFParser(profiles=["euro_dcat_ap_3", "euro_health_dcat_ap"])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_ckanext_dcat_harvests_every_dataset_once_with_its_details(site: Site, fmt: str) -> None:
    url: str | None = site.base + "catalog?pageSize=1"
    harvested: dict[str, dict[str, Any]] = {}
    while url:  # the parser's own pagination (hydra:next), as the CKAN harvester runs it
        parser = ckan_parser()
        parser.parse(fetch(url, FORMATS[fmt]).decode("utf-8"), _format=fmt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for dataset in parser.datasets():
                extras = {e["key"]: e["value"] for e in dataset["extras"]}
                assert extras["identifier"] not in harvested
                harvested[extras["identifier"]] = dataset | {"extras": extras}
        url = parser.next_page()
    assert sorted(harvested) == sorted(LEVELS)
    for slug, dataset in harvested.items():
        extras = dataset["extras"]
        assert dataset["title"] and dataset["notes"]
        assert {tag["name"] for tag in dataset["tags"]} >= {"DICOM", "medical imaging"}
        assert dataset["license_id"] == "cc-by"
        assert extras["access_rights"].endswith("/access-right/" + LEVELS[slug])
        assert extras["publisher_email"] == "catalogue@example.org"
        assert "@" in extras["contact_email"]
        assert all("@" in hdab["email"] for hdab in dataset["hdab"]) and dataset["hdab"]
        assert extras["temporal_start"] <= extras["temporal_end"]
        assert dataset["number_of_records"] > 0 and dataset["number_of_unique_individuals"] > 0
        assert 0 <= dataset["min_typical_age"] <= dataset["max_typical_age"]
        dumps = [r for r in dataset["resources"] if r.get("download_url")]
        assert len(dumps) == 1
        dump = dumps[0]
        assert dump["url"] == f"{site.base}catalog/dataset/{slug}/dump.nq.gz"
        assert dump["format"].endswith("/file-type/NQUADS")
        assert dump["size"] == (site.store / "dumps" / f"{slug}.nq.gz").stat().st_size
        assert len(dump["hash"]) == 64
    sample = harvested["sample"]
    assert (sample["min_typical_age"], sample["max_typical_age"]) == site.ages
    assert sample["number_of_unique_individuals"] == 6
    assert sample["extras"]["contact_email"] == "datasteward@example.org"
    assert sample["hdab"][0]["email"] == "hdab@example.org"
