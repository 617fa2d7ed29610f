"""Nothing identifying in pydicom's own test files leaves fairdicom (issue 7).

Every file pydicom bundles for its tests (``get_testdata_files()``, plus the character-set
files of ``get_charset_files()``: Japanese, Korean, Chinese, Greek... names) is ingested in one
CLI run. ``tests.phi`` finds each file's identifying values with pydicom alone, never with
fairdicom's reader: the attributes of DICOM PS3.15 Table E.1-1 that the profile does not keep,
every UID that is not a well-known one, every date. None of them may appear

* in any literal or IRI of the export (N-Quads), ``xsd:base64Binary`` literals decoded;
* in any byte of the store directory (RocksDB files, dumps unzipped);
* in any HTTP page of a real server on the store: the Linked Data page (HTML and Turtle) of
  every subject, the catalogue, VoID, OAI-PMH and a SPARQL query of every quad;
* in any log line: the output of the ingest (``-v``) and of the server.

What counts as identifying, and why times and UTC offsets do not under Modified Dates, is in
``tests.phi``. Left out, each because it is no leak where it is found:

* a value an attribute the profile keeps also holds in the corpus (``tests.phi``);
* a value fairdicom's own text also holds (a label of the tag vocabulary, a word of an example
  query: "First", "operator"...) or RocksDB's own files (an empty store);
* a date that is, in the export, only a typed date literal and that the export of the same
  files ingested with another secret lacks: it moved with the secret, so it is one patient's
  shifted date that equals another file's original date (a shift of up to 1,095 days often
  meets one), not an original; an original does not depend on the secret;
* in the logs, the paths of the input files: the report must name them (issue 7), and a folder
  name is the user's own input, not a DICOM value.

Failure messages name attributes, files and places, never the values.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pydicom.data
import pytest
from fairdicom.config import DeidOptions
from fairdicom.store import EmbeddedStore

from tests.conftest import ROOT, run_cli
from tests.phi import (
    ENABLED_OPTIONS,
    Hit,
    Identity,
    base64_literals,
    nquads_literals,
    nquads_terms,
    read_corpus,
    search,
    search_bytes,
    store_files,
    text_forms,
)
from tests.servers import serving

BASE = "http://localhost:8000/"
SECRETS = ("real-world-secret-a", "real-world-secret-b")
DATASET = "sample"
"""The slug data/datasets.toml describes, so the catalogue publishes the corpus' figures."""
HTML = "text/html"
TURTLE = "text/turtle"
EVERY_QUAD = "SELECT * { GRAPH ?g { ?s ?p ?o } }"
XSD = "http://www.w3.org/2001/XMLSchema#"
DATE_TYPES = (f"{XSD}date", f"{XSD}dateTime")
OWN_TEXT = (
    "ontologies/**/*",
    "shapes/**/*",
    "data/datasets.toml",
    "app/fairdicom/web/**/*",
    "app/fairdicom/catalog/**/*",
    "app/fairdicom/rdf/**/*",
    "app/**/*.rq",
)
"""The text fairdicom ships and may show beside the data (fairdicom/dicom, with its synthetic names,
is not: nothing of it is shown)."""


@dataclass(repr=False)
class Run:
    """What left fairdicom after one ingest of the corpus."""

    identity: Identity
    export: str
    store: Path
    logs: dict[str, str] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    own_words: set[str] = field(default_factory=set)
    coincidences: set[str] = field(default_factory=set)

    def __repr__(self) -> str:
        """Count, never show (pytest prints the reprs of a failing test's arguments)."""
        return f"Run({self.identity!r}, {len(self.pages)} pages, {len(self.logs)} logs)"


def _corpus(folder: Path) -> list[tuple[Path, str]]:
    """Copy pydicom's test files into a folder; return (copy, name) pairs."""
    files: list[tuple[Path, str]] = []
    for kind, paths in [
        ("testdata", pydicom.data.get_testdata_files()),
        ("charset", pydicom.data.get_charset_files()),
    ]:
        for original in map(Path, paths):
            if not original.is_file():
                continue  # get_testdata_files() lists the folders of dicomdirtests too
            root = next(p for p in original.parents if p.name in ("test_files", "charset_files"))
            name = f"{kind}/{original.relative_to(root)}"
            copy = folder / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(original, copy)
            files.append((copy, name))
    return files


def _cli(*args: str, secret: str, config: Path) -> tuple[int, str]:
    result = run_cli(*args, env={"FAIRDICOM_SECRET": secret, "FAIRDICOM_CONFIG": str(config)})
    return result.returncode, result.stdout + result.stderr


def _get(connection: http.client.HTTPConnection, path: str, accept: str) -> tuple[int, str]:
    connection.request("GET", path, headers={"Accept": accept})
    reply = connection.getresponse()
    return reply.status, reply.read().decode("utf-8", "replace")


def _pages(url: str, export: str) -> tuple[dict[str, str], dict[str, int]]:
    """GET every subject's page (HTML, Turtle) and the site's documents; return them."""
    address = urllib.parse.urlsplit(url)
    assert address.hostname and address.port
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    subjects = sorted(
        {line[1 : line.index(">")] for line in export.splitlines() if line.startswith("<")}
    )
    paths = sorted(
        {"/" + s.removeprefix(BASE).split("#")[0] for s in subjects if s.startswith(BASE)}
    )
    sparql = "/sparql?" + urllib.parse.urlencode({"query": EVERY_QUAD})
    requests = [(path, accept) for path in paths for accept in (HTML, TURTLE)]
    requests += [
        ("/catalog", HTML),
        ("/catalog", TURTLE),
        (f"/catalog/dataset/{DATASET}", HTML),
        ("/.well-known/void", TURTLE),
        (sparql, "application/sparql-results+json"),
        ("/oai?verb=ListRecords&metadataPrefix=oai_datacite", "text/xml"),
        ("/oai?verb=ListRecords&metadataPrefix=dcat_ap", "text/xml"),
    ]
    pages: dict[str, str] = {}
    statuses: dict[str, int] = {}
    try:
        for path, accept in requests:
            place = f"GET {path} ({accept})"
            statuses[place], pages[place] = _get(connection, path, accept)
    finally:
        connection.close()
    body = json.loads(pages[f"GET {sparql} (application/sparql-results+json)"])
    values = [v["value"] for row in body["results"]["bindings"] for v in row.values()]
    pages["SPARQL results, values decoded from JSON"] = "\n".join(values)
    return pages, statuses


def _without_paths(text: str, folder: Path, files: list[tuple[Path, str]]) -> str:
    """Remove the input paths (which the report must name) from a log."""
    names = {str(folder)} | {str(p) for p, _ in files} | {n for _, n in files}
    names |= {str(Path(n).parent) for _, n in files}
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "<path>")
    return text


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    work = tmp_path_factory.mktemp("leaks")
    folder = work / "corpus"
    files = _corpus(folder)
    identity = read_corpus(files)
    config = work / "empty.toml"
    config.write_text("")
    stores = [work / "store-a", work / "store-b"]
    exports: list[str] = []
    logs: dict[str, str] = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("FAIRDICOM_")]:
            patch.delenv(name)
        for store, secret in zip(stores, SECRETS, strict=True):
            code, output = _cli(
                "ingest", str(folder), "--store", str(store), "--dataset", DATASET, "-v",
                secret=secret, config=config,
            )  # fmt: skip
            assert code in (0, 1), f"ingest exited {code}:\n{identity.redact(output)}"
            logs[f"ingest -v ({secret})"] = _without_paths(output, folder, files)
            code, export = _cli(
                "export", "--format", "nquads", "--store", str(store), secret=secret, config=config
            )
            assert code == 0, identity.redact(export[-2000:])
            exports.append(export)
    empty = work / "empty-store"
    EmbeddedStore(str(empty)).close()
    own = _own_words(identity, empty)
    coincidences = _coincidences(identity.without(own), *exports)
    result = Run(identity.without(own | coincidences), exports[0], stores[0], logs=logs)
    result.own_words, result.coincidences = own, coincidences
    settings = {
        "store": str(stores[0]),
        "secret": SECRETS[0],
        "base_iri": BASE,  # the base the store was ingested under (not the port's)
        "query_workers": "1",
        "max_rows": "10000000",
        "query_timeout": "300",
    }
    with serving(work, 0, settings) as server:
        result.pages, result.statuses = _pages(server.url, exports[0])
    result.logs["serve"] = server.log.read_text(errors="replace")
    yield result


def _own_words(identity: Identity, empty_store: Path) -> set[str]:
    """Return the identifying values that fairdicom's own text holds too (labels of the tag
    vocabulary, example queries, shapes, catalogue texts) or RocksDB's (an empty store)."""
    texts = {
        str(path): path.read_text(encoding="utf-8", errors="replace")
        for pattern in OWN_TEXT
        for path in ROOT.glob(pattern)
        if path.is_file() and path.suffix != ".pyc"
    }
    found = search(identity, texts) + search_bytes(identity, store_files(empty_store))
    return {hit.needle.value for hit in found}


def _coincidences(identity: Identity, export: str, other_export: str) -> set[str]:
    """Return the dates of ``export`` that are shifted dates, not originals.

    A date that is a typed date literal of this export, and nowhere else in it, but that the
    export of the same files with another secret lacks, moved with the secret: it is the
    shifted date of one patient that equals an original date of another file.
    """
    literals = nquads_literals(export)
    typed = [text for text, datatype in literals if datatype in DATE_TYPES]
    untyped = [text for text, datatype in literals if datatype not in DATE_TYPES]
    in_typed = {h.needle.value for h in search(identity, _places(typed))}
    elsewhere = {h.needle.value for h in search(identity, _places(untyped))}
    elsewhere |= {h.needle.value for h in search(identity, _places(nquads_terms(other_export)))}
    return {value for value in in_typed - elsewhere if identity.needles[value.casefold()].is_date}


def _places(texts: list[str]) -> dict[str, str]:
    return {f"term {i}": text for i, text in enumerate(texts)}


def _report(hits: list[Hit], where: str) -> str:
    """Describe leaks by attribute, kind, file and place, without the values."""
    by_value: dict[str, list[str]] = defaultdict(list)
    for hit in hits:
        by_value[hit.needle.value].append(hit.place)
    attributes = {o.attribute for h in hits for o in h.needle.origins}
    kinds: dict[str, int] = defaultdict(int)
    for value in by_value:
        needle = next(h.needle for h in hits if h.needle.value == value)
        for kind in sorted({o.kind for o in needle.origins}):
            kinds[kind] += 1
    lines = [
        f"{len(by_value)} identifying values from {len(attributes)} attributes found in {where} "
        f"(by kind: {dict(sorted(kinds.items()))}):"
    ]
    for value, places in sorted(by_value.items(), key=lambda item: -len(item[1])):
        needle = next(h.needle for h in hits if h.needle.value == value)
        origin = sorted(needle.origins, key=lambda o: (o.kind, o.attribute, o.file))[0]
        others = len({o.file for o in needle.origins}) - 1
        lines.append(
            f"  {origin.kind} {origin.attribute} of {origin.file}"
            + (f" (+{others} files)" if others else "")
            + f": {len(places)} place(s), e.g. {sorted(places)[0][:120]}"
        )
    return "\n".join(lines)


def _fail_on(hits: list[Hit], where: str) -> None:
    """Fail with a report of the leaks (pytest.fail: an assert would print the values)."""
    if hits:
        pytest.fail(_report(hits, where), pytrace=False)


# The corpus and the run are what the checks assume --------------------------------------------


def test_the_corpus_and_the_run_are_real(run: Run) -> None:
    """The checks below cannot pass for want of data."""
    assert DeidOptions() == DeidOptions(
        longitudinal="modified", clean_descriptors=True, retain_patient_characteristics=True
    ), f"tests.phi assumes fairdicom's default options {ENABLED_OPTIONS}"
    assert run.identity.files >= 190
    kinds = {o.kind for n in run.identity.needles.values() for o in n.origins}
    assert kinds >= {"profile", "uid", "date", "private"}
    assert len(run.identity.needles) > 300
    assert run.export.count("/id/instance/") > 100
    subject_pages = [p for p in run.statuses if p.startswith("GET /id/")]
    assert len(subject_pages) > 400
    failed = sorted(p for p, status in run.statuses.items() if status != 200)
    assert not failed, f"{len(failed)} pages did not answer 200, e.g. {failed[:5]}"
    assert "fairdicom serving" in run.logs["serve"]
    assert all("batch committed" in text for name, text in run.logs.items() if "ingest" in name)


# What leaves the system ---------------------------------------------------------------------


def test_no_identity_in_export_literals(run: Run) -> None:
    terms = [form for term in nquads_terms(run.export) for form in text_forms(term)]
    hits = search(run.identity, _places(terms))
    _fail_on(hits, "the export's literals and IRIs")


def test_no_identity_in_base64_literals(run: Run) -> None:
    blobs = base64_literals(run.export)
    assert blobs or "base64Binary" not in run.export
    hits = search_bytes(run.identity, {f"base64 literal {i}": b for i, b in enumerate(blobs)})
    _fail_on(hits, "the export's base64Binary literals, decoded")


def test_no_identity_in_store_bytes(run: Run) -> None:
    files = store_files(run.store)
    # The search sees what the store holds: every long string literal of the export is in
    # its bytes as written (RocksDB compresses nothing here; a change would hide values).
    long_strings = [
        t for t in nquads_terms(run.export) if len(t.encode()) > 40 and not t.startswith("http")
    ]
    everything = b"\x00".join(files.values())
    unseen = [t for t in long_strings if t.encode() not in everything]
    assert long_strings and len(unseen) < len(long_strings) // 100, (
        f"{len(unseen)} of {len(long_strings)} long literals are not in the store's bytes"
    )
    hits = search_bytes(run.identity, files)
    _fail_on(hits, "the bytes of the store directory")


def test_no_identity_in_http_pages(run: Run) -> None:
    places = {f"{name} [{i}]": form for name, page in run.pages.items()
              for i, form in enumerate(text_forms(page))}  # fmt: skip
    hits = search(run.identity, places)
    _fail_on(hits, "HTTP pages")


def test_no_identity_in_logs(run: Run) -> None:
    places = {f"{name} [{i}]": form for name, text in run.logs.items()
              for i, form in enumerate(text_forms(text))}  # fmt: skip
    hits = search(run.identity, places)
    _fail_on(hits, "the ingest's and the server's output")


def test_exclusions_stay_few(run: Run) -> None:
    """What the run leaves out as no leak is a handful of words and of shifted dates."""
    assert len(run.own_words) <= 10, f"{len(run.own_words)} values are fairdicom's own words"
    assert len(run.coincidences) <= 20, f"{len(run.coincidences)} dates excluded as coincidences"
