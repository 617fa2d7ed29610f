"""The remote store against a second engine: a real Virtuoso (Debian's ``virtuoso-opensource``)
on loopback, through its ``/sparql`` and ``/sparql-graph-crud`` endpoints.

The same comparisons as tests/test_remote_store.py makes for Oxigraph server: ingest, the
example queries, remap and the catalogue give what the embedded store gives for the same corpus
and secret; the generation token changes on a write; a server killed in the middle of an ingest
leaves a store that a re-run completes. Skipped when Virtuoso is not installed.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import rdflib
from fairdicom.config import load_settings
from fairdicom.resources import SAMPLE
from fairdicom.store import Dataset, RemoteLocation, locate, open_store
from rdflib.namespace import XSD

from tests.conftest import SECRET
from tests.servers import running_server, wait_until
from tests.test_remote_store import (
    DATETIME,
    EXAMPLES,
    JSON,
    Stores,
    _get,
    _run_free,
    _status,
    clean_env,
    cli,
    comparable,
    graph,
    ok,
)
from tests.virtuoso_server import VirtuosoServer, virtuoso_commands, virtuoso_serving

pytestmark = pytest.mark.skipif(
    virtuoso_commands() is None,
    reason="Virtuoso is missing: apt-get install virtuoso-opensource (.ci/run installs it)",
)
RAW = "http://localhost:8000/graph/sample/raw"
OF_DUMP_BYTES = (
    "<http://spdx.org/rdf/terms#checksumValue>",
    "<http://www.w3.org/ns/dcat#byteSize>",
)
"""The SHA-256 and size of a dump: its bytes hold the engine's literal forms and its order of
triples (the compressed size follows), so they differ; the dumps' quads are compared instead."""
SAME_VALUE = {XSD.time: XSD.time, XSD.double: XSD.double, XSD.nonNegativeInteger: XSD.integer}
"""Datatypes whose literals the engines write in other forms: Virtuoso keeps milliseconds to
three digits ("13:21:04.460", Oxigraph "13:21:04.46"), writes doubles "1.0" (Oxigraph "1"),
and keeps ``xsd:nonNegativeInteger`` (Oxigraph stores ``xsd:integer``); compared by value."""


def canonical(lines: set[str]) -> set[tuple[str, ...]]:
    """Return N-Quads lines as quads whose literals of :data:`SAME_VALUE` are in one form."""
    dataset = rdflib.Dataset()
    kept = (line for line in lines if not any(p in line for p in OF_DUMP_BYTES))
    dataset.parse(data="\n".join(kept), format="nquads")
    return {(s.n3(), p.n3(), _value(o).n3(), str(g)) for s, p, o, g in dataset.quads()}


def _value(term: rdflib.term.Node) -> rdflib.term.Node:
    """Return a literal of :data:`SAME_VALUE` in one form (Python's value written again)."""
    if isinstance(term, rdflib.Literal) and term.datatype in SAME_VALUE:
        return rdflib.Literal(term.toPython(), datatype=SAME_VALUE[term.datatype])
    return term


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """The bundled sample ingested into both stores (dataset ``sample``)."""
    root = tmp_path_factory.mktemp("virtuoso")
    with virtuoso_serving(root / "virtuoso") as server:
        pair = Stores(root, server)
        for env in pair.both():
            ok(cli(env, "ingest", str(SAMPLE), "--dataset", "sample"))
        yield pair


def test_ingest_gives_the_embedded_store(stores: Stores) -> None:
    embedded, remote = (canonical(comparable(env)) for env in stores.both())
    assert len(remote) > 5000
    assert remote == embedded


def test_stats_count_alike(stores: Stores) -> None:
    embedded, remote = (ok(cli(env, "stats")) for env in stores.both())
    assert remote.splitlines()[1:] == embedded.splitlines()[1:]  # the first line names it


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_queries_answer_alike(stores: Stores, example: Path) -> None:
    text = example.read_text()
    answers = []
    for env in stores.both():
        settings = {k[10:].lower(): v for k, v in env.items() if k.startswith("FAIRDICOM_STORE")}
        store = open_store(load_settings(**settings), read_only=True)
        try:
            answers.append(store.query(text, accept=[JSON], dataset=Dataset(union=True)))
        finally:
            store.close()
    rows = [_run_free(json.loads(a.body)["results"]["bindings"]) for a in answers]
    assert rows[0], f"{example.name} gives no rows"
    assert [_engine_free(row) for row in rows[1]] == [_engine_free(row) for row in rows[0]]


def _engine_free(row: str) -> dict[str, tuple[str, ...]]:
    """Return a result row without what SPARQL leaves to the engine: the order of the parts of
    a GROUP_CONCAT (" | " in the examples) and the digits of a decimal division (Oxigraph
    keeps 18 after the point, Virtuoso 15): parts sorted, decimals to 12 digits."""
    values = {}
    for name, value in json.loads(row).items():
        text = value["value"]
        if value.get("datatype") == str(XSD.decimal):
            text = str(round(Decimal(text), 12))
        values[name] = (value["type"], value.get("datatype", ""), *sorted(text.split(" | ")))
    return values


def test_remap_gives_the_embedded_curated_layer(stores: Stores) -> None:
    for env in stores.both():
        ok(cli(env, "mapping", "apply", "--dataset", "sample"))
    embedded, remote = (canonical(graph(env, "/graph/sample/curated")) for env in stores.both())
    assert len(remote) > 500
    assert remote == embedded


def test_catalogue_is_the_embedded_one(stores: Stores) -> None:
    for env in stores.both():
        ok(cli(env, "catalog"))
    embedded, remote = (canonical(graph(env, "/graph/catalog")) for env in stores.both())
    assert any("dcat#Dataset" in quad[2] for quad in remote)
    assert remote == embedded
    dumps = [
        gzip.decompress(Path(env["FAIRDICOM_DATA_DIR"], "dumps", "sample.nq.gz").read_bytes())
        for env in stores.both()
    ]
    embedded_dump, remote_dump = (canonical(set(d.decode().splitlines())) for d in dumps)
    assert len(remote_dump) > 4000
    assert remote_dump == embedded_dump


def test_serve_answers_like_the_embedded_store(stores: Stores, tmp_path: Path) -> None:
    query = (EXAMPLES[0]).read_text()
    study = next(
        line.split()[0][1:-1]
        for line in graph(stores.embedded, "/graph/sample/raw")
        if "/id/study/" in line.split()[0]
    )
    path = urllib.parse.urlsplit(study).path
    seen: list[dict[str, object]] = []
    for name, env in zip(("embedded", "remote"), stores.both(), strict=True):
        work = tmp_path / name
        work.mkdir()
        settings = {k[10:].lower(): v for k, v in env.items() if k.startswith("FAIRDICOM_STORE")}
        settings |= {"data_dir": env["FAIRDICOM_DATA_DIR"], "secret": SECRET}
        settings |= {"base_iri": "http://localhost:8000/"}
        with running_server(work, 0, settings) as url:
            sparql = _get(f"{url}sparql?query={urllib.parse.quote(query)}", JSON)
            resource = _get(url + path.lstrip("/"), "application/n-triples")
            catalogue = _get(url + "catalog", "application/n-triples")
            oai = _get(url + "oai?verb=ListIdentifiers&metadataPrefix=oai_dc", "text/xml")
        seen.append(
            {
                "rows": sorted(
                    json.dumps(r, sort_keys=True) for r in json.loads(sparql)["results"]["bindings"]
                ),
                "resource": canonical(_in_graph(resource)),
                "catalogue": canonical(_in_graph(catalogue)),
                "oai": re.sub(rb"(Date|datestamp)>[^<]*<", b"", oai.replace(url.encode(), b"")),
            }
        )
    embedded, remote = seen
    assert remote["rows"] == embedded["rows"] and embedded["rows"]
    assert len(embedded["resource"]) > 5  # type: ignore[arg-type]
    assert remote["resource"] == embedded["resource"]
    assert remote["catalogue"] == embedded["catalogue"]
    assert remote["oai"] == embedded["oai"]
    assert b"header>" in embedded["oai"] and b"error" not in embedded["oai"]  # type: ignore[operator]


def _in_graph(ntriples: bytes) -> set[str]:
    """Return N-Triples as N-Quads lines of one graph, without the catalogue's times."""
    lines = ntriples.decode().splitlines()
    return {
        f"{line.rstrip(' .')} <urn:x-served> ." for line in lines if line and DATETIME not in line
    }


@pytest.mark.parametrize("cost_limit", [400, 0], ids=["refused-by-estimate", "runs"])
def test_serve_keeps_its_protections_in_front_of_the_engine(
    tmp_path: Path, cost_limit: int
) -> None:
    # A Virtuoso of its own: with its cost estimate (the default) it refuses the endless query
    # at once; without, the query runs and meets fairdicom's timeout.
    engine = VirtuosoServer(tmp_path / "virtuoso", tmp_path / "virtuoso.log")
    engine.cost_limit = cost_limit
    (tmp_path / "serve").mkdir()
    engine.start()
    try:
        env = clean_env(engine.url, tmp_path / "data", **engine.settings())
        ok(cli(env, "ingest", str(SAMPLE), "--dataset", "sample"))
        settings = engine.settings() | {
            "store": engine.url,
            "data_dir": env["FAIRDICOM_DATA_DIR"],
            "secret": SECRET,
            "query_timeout": "1",
            "fast_lane_timeout": "1",
        }
        endless = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
        service = "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
        with running_server(tmp_path / "serve", 0, settings) as url:
            assert _status(f"{url}sparql?query={urllib.parse.quote(endless)}") == 503
            assert _status(f"{url}sparql?query={urllib.parse.quote(service)}") == 403
            # The server is still there for the next client.
            assert _status(f"{url}sparql?query={urllib.parse.quote('ASK { ?s ?p ?o }')}") == 200
    finally:
        engine.stop()


def test_generation_changes_when_another_process_writes(stores: Stores) -> None:
    location = locate(load_settings(store=stores.server.url, **stores.server.settings()))
    assert isinstance(location, RemoteLocation)
    before = location.generation()
    assert before is not None and before != "none" and before == location.generation()
    ok(cli(stores.remote, "catalog"))
    assert location.generation() not in (None, before)


def test_killed_server_fails_the_ingest_and_a_rerun_completes_it(
    stores: Stores, tmp_path: Path
) -> None:
    server = VirtuosoServer(tmp_path / "virtuoso", tmp_path / "virtuoso.log")
    server.start()
    try:
        env = clean_env(
            server.url, tmp_path / "data", batch_size="5", store_retries="1", **server.settings()
        )
        ingest = subprocess.Popen(
            [sys.executable, "-m", "fairdicom.cli", "ingest", str(SAMPLE), "--dataset", "sample"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        location = RemoteLocation.of(server.url, load_settings(**server.settings()))
        # The event: the first batches are in the server's store.
        wait_until(lambda: _quads(location) > 0, "the ingest wrote its first batch", 300)
        server.kill()
        out, err = ingest.communicate(timeout=300)
        assert ingest.returncode == 2, out + err
        assert f"{server.url}/sparql" in err and "run the same command again" in err
        assert "Traceback" not in err
        server.start()  # the same database: what Virtuoso had committed (its transaction log)
        assert _quads(location) > 0
        ok(cli(env, "ingest", str(SAMPLE), "--dataset", "sample"))
        assert canonical(comparable(env)) == canonical(comparable(stores.embedded))
    finally:
        server.stop()


def _quads(location: RemoteLocation) -> int:
    """Return how many triples the raw graph holds now (0 when the server does not answer)."""
    store = location.open(read_only=True)
    try:
        return store.quad_count(RAW)
    except Exception:  # not up yet, or gone: none seen
        return 0
    finally:
        store.close()
