"""The SPARQL query service: formats, datasets, row cap, timeouts, SSRF refusal, writes.

Real store on disk, real worker processes. Network tests bind to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pyoxigraph
import pytest
import rdflib
from fairdicom.config import Settings
from fairdicom.errors import (
    FairdicomError,
    Forbidden,
    NotAcceptable,
    QuerySyntaxError,
    QueryTimeout,
    StoreBusy,
    UsageError,
)
from fairdicom.ingest.pipeline import ingest
from fairdicom.query import QueryResult, QueryService
from fairdicom.query.cache import ResultCache
from fairdicom.query.jobs import QueryJob
from fairdicom.query.lexer import Lexed
from fairdicom.store import EmbeddedStore

from tests.conftest import ROOT, SECRET
from tests.servers import cpu_ticks, gone, wait_until

BASE = "http://localhost:8000/"
RAW = f"{BASE}graph/sample/raw"
CURATED = f"{BASE}graph/sample/curated"
HEAVY = (
    "SELECT * WHERE { GRAPH ?w { ?a ?b ?c } GRAPH ?x { ?d ?e ?f } GRAPH ?y { ?g ?h ?i } "
    'GRAPH ?z { ?j ?k ?l } FILTER(STR(?a) = CONCAT(STR(?d), STR(?g), STR(?j), "-never")) }'
)
"""A cross product of all quads four times that no filter push-down can shorten."""
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
SRJ = "application/sparql-results+json"


def settings(store: Path, **changes: object) -> Settings:
    """Return settings for a test store, independent of the environment."""
    return replace(Settings(), store=str(store), secret=SECRET, **changes)  # type: ignore[arg-type]


def number(result_body: bytes) -> int:
    """Return the one number of a one-row, one-column SPARQL JSON result."""
    row = json.loads(result_body)["results"]["bindings"][0]
    return int(next(iter(row.values()))["value"])


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("query-service") / "store"
    ingest([ROOT / "data" / "sample"], settings(store), "sample")
    return store


@pytest.fixture(scope="module")
def service(sample_store: Path) -> Iterator[QueryService]:
    with QueryService(settings(sample_store)) as svc:
        yield svc


@pytest.fixture(scope="module")
def strict(sample_store: Path) -> Iterator[QueryService]:
    """One worker, 1 s timeout, short wait for a worker, 5 rows, no union default graph."""
    changes = {"query_timeout": 1, "query_workers": 1, "max_rows": 5}
    with QueryService(
        settings(sample_store, union_default_graph=False, **changes), busy_wait=0.3
    ) as svc:
        yield svc


@pytest.fixture(scope="module")
def single(sample_store: Path) -> Iterator[QueryService]:
    """One worker, 5 s timeout, short wait for a worker: time to act while a query runs."""
    changes = {"query_timeout": 5, "query_workers": 1}
    with QueryService(settings(sample_store, **changes), busy_wait=0.3) as svc:
        yield svc


@pytest.fixture()
def writable(tmp_path: Path) -> Iterator[QueryService]:
    with QueryService(settings(tmp_path / "store", query_workers=1)) as svc:
        yield svc


@pytest.fixture()
def listener() -> Iterator[tuple[str, Callable[[], int]]]:
    """A loopback socket that counts the connections made to it; yield its URL and the count.

    The count needs no wait: a connect() that returned has its connection in the listen queue
    (the kernel completes the handshake), and the queue is first in, first out, so the
    connections made before a marker connection are exactly those accepted before it.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(60)  # an overall deadline: the marker is there at once
    made = 0

    def connections() -> int:
        nonlocal made
        with socket.create_connection(server.getsockname(), timeout=60) as marker:
            while True:
                conn, peer = server.accept()
                conn.close()
                if peer == marker.getsockname():
                    return made
                made += 1

    try:
        socket.create_connection(server.getsockname(), timeout=60).close()
        assert connections() == 1  # the count sees a connection
        made = 0
        yield f"http://127.0.0.1:{server.getsockname()[1]}/sparql", connections
    finally:
        server.close()


# Formats -------------------------------------------------------------------------------------

PER_GRAPH = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"


def test_select_in_every_results_format(service: QueryService, sample_store: Path) -> None:
    handle = EmbeddedStore(str(sample_store), read_only=True)
    try:
        expected = {g: handle.quad_count(g) for g in handle.graphs()}
    finally:
        handle.close()
    assert RAW in expected and CURATED in expected

    result = service.query(PER_GRAPH, accept=["json"])
    assert result.media_type == SRJ and not result.truncated
    rows = json.loads(result.body)["results"]["bindings"]
    assert {r["g"]["value"]: int(r["n"]["value"]) for r in rows} == expected

    result = service.query(PER_GRAPH, accept=["application/sparql-results+xml"])
    ns = {"r": "http://www.w3.org/2005/sparql-results#"}
    found = {}
    for row in ET.fromstring(result.body).iterfind(".//r:result", ns):
        graph = row.find("r:binding[@name='g']/r:uri", ns)
        count = row.find("r:binding[@name='n']/r:literal", ns)
        assert graph is not None and count is not None
        found[graph.text] = int(count.text or "")
    assert found == expected

    result = service.query(PER_GRAPH, accept=["text/csv"])
    assert result.media_type == "text/csv"
    table = list(csv.DictReader(io.StringIO(result.body.decode())))
    assert {r["g"]: int(r["n"]) for r in table} == expected

    result = service.query(PER_GRAPH, accept=["tsv"])
    assert result.media_type == "text/tab-separated-values"
    header, *lines = result.body.decode().splitlines()
    assert header == "?g\t?n"
    assert {g.strip("<>"): int(n) for g, n in (line.split("\t") for line in lines)} == expected


def test_construct_as_turtle_and_ntriples(service: QueryService) -> None:
    text = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{CURATED}> {{ ?s ?p ?o }} }}"
    graphs = {}
    for accept, rdf_format in [
        ("text/turtle", "turtle"),
        ("nt", "nt"),
        ("application/ld+json", "json-ld"),
        ("rdfxml", "xml"),
    ]:
        result = service.query(text, accept=[accept])
        graphs[rdf_format] = rdflib.Graph().parse(data=result.body, format=rdf_format)
    assert len(graphs["turtle"]) > 100
    for graph in graphs.values():
        assert graph.isomorphic(graphs["turtle"])
    assert service.query(text, accept=["*/*"]).media_type == "text/turtle"


def test_ask(service: QueryService) -> None:
    yes = service.query("ASK { ?s ?p ?o }", accept=["*/*"])
    assert yes.media_type == SRJ and json.loads(yes.body)["boolean"] is True
    no = service.query("ASK { ?s <http://example.org/none> ?o }", accept=["xml"])
    assert no.media_type == "application/sparql-results+xml" and b"false" in no.body


def test_syntax_error_carries_the_parsers_position(service: QueryService) -> None:
    with pytest.raises(QuerySyntaxError, match=r"1:\d+") as caught:
        service.query("SELECT * WHERE { ?s ?p }", accept=["json"])
    assert caught.value.http_status == 400


def test_not_acceptable(service: QueryService) -> None:
    for _ in range(2):  # the second time the service knows the form and negotiates itself
        with pytest.raises(NotAcceptable, match="sparql-results"):
            service.query(COUNT, accept=["text/turtle", "image/png"])
        with pytest.raises(NotAcceptable, match="text/turtle"):
            service.query("CONSTRUCT WHERE { ?s ?p ?o }", accept=["text/csv"])


def test_repeated_queries_come_from_the_cache(service: QueryService) -> None:
    first = service.query(PER_GRAPH, accept=["csv"])
    hits = service.cache.hits
    assert service.query(PER_GRAPH, accept=["text/csv"]) == first
    assert service.cache.hits == hits + 1
    random = "SELECT (RAND() AS ?r) WHERE {}"
    assert service.query(random, accept=["json"]) != service.query(random, accept=["json"])


def test_cache_keeps_within_its_byte_budget() -> None:
    cache = ResultCache(max_bytes=10_000, max_entry=4_000)
    for i in range(10):
        cache.put(("gen", i), QueryResult(b"x" * 2_000, "text/csv"))
    assert cache.size <= 10_000 and len(cache) == 4
    assert cache.get(("gen", 0)) is None and cache.get(("gen", 9)) is not None
    cache.put(("gen", "big"), QueryResult(b"x" * 5_000, "text/csv"))
    assert cache.get(("gen", "big")) is None


# Dataset -------------------------------------------------------------------------------------


def test_union_default_graph_and_explicit_datasets(
    service: QueryService, strict: QueryService, sample_store: Path
) -> None:
    handle = EmbeddedStore(str(sample_store), read_only=True)
    try:
        total, raw = handle.quad_count(), handle.quad_count(RAW)
    finally:
        handle.close()
    assert number(service.query(COUNT, accept=["json"]).body) == total
    assert number(strict.query(COUNT, accept=["json"]).body) == 0  # real default graph: empty
    only_raw = service.query(COUNT, accept=["json"], default_graphs=[RAW])
    assert number(only_raw.body) == raw
    from_raw = f"SELECT (COUNT(*) AS ?n) FROM <{RAW}> WHERE {{ ?s ?p ?o }}"
    assert number(service.query(from_raw, accept=["json"]).body) == raw
    graphs = "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert number(service.query(graphs, accept=["json"]).body) == 3
    named = service.query(graphs, accept=["json"], named_graphs=[CURATED])
    assert number(named.body) == 1
    with pytest.raises(UsageError, match="not an absolute IRI"):
        service.query(COUNT, accept=["json"], default_graphs=["no iri> } DROP ALL"])


def test_row_cap_reports_truncation(strict: QueryService) -> None:
    every = f"SELECT * WHERE {{ GRAPH <{RAW}> {{ ?s ?p ?o }} }}"
    for accept in ["json", "csv", "tsv", "xml"]:
        result = strict.query(every, accept=[accept])
        assert result.truncated
    rows = json.loads(strict.query(every, accept=["json"]).body)["results"]["bindings"]
    assert len(rows) == 5
    small = strict.query(every + " LIMIT 4", accept=["json"])
    assert not small.truncated and len(json.loads(small.body)["results"]["bindings"]) == 4
    construct = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{RAW}> {{ ?s ?p ?o }} }}"
    graph = strict.query(construct, accept=["nt"])
    assert graph.truncated and len(graph.body.splitlines()) == 5


# Isolation: timeouts, crashes, busy workers --------------------------------------------------


def _running(service: QueryService, heavy: str) -> tuple[threading.Thread, list[BaseException]]:
    """Start a heavy query of the one-worker service in a thread; return once its worker runs
    it (has used CPU time no idle worker uses); return the thread and its errors."""
    service.query("ASK {}", accept=["json"])  # the worker is up, idle
    (worker,) = service.pids()
    idle = cpu_ticks(worker)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            service.query(heavy, accept=["json"])
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_until(lambda: cpu_ticks(worker) >= idle + 20, "the worker runs the heavy query")
    return thread, errors


def test_timeout_kills_the_worker_and_the_next_query_answers(strict: QueryService) -> None:
    strict.query("ASK {}", accept=["json"])
    (before,) = strict.pids()
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as caught:
        strict.query(HEAVY, accept=["json"])
    assert time.monotonic() - started >= 0.9  # it ran until the 1 s timeout, not less
    assert caught.value.http_status == 503
    assert gone(before)  # stopped: the worker that ran it is killed (unstopped: hours)
    # The next query answers at once: a replacement worker waits (strict waits 0.3 s for one)
    # and answers within strict's own 1 s timeout, or this would raise.
    result = strict.query("ASK { ?s ?p ?o }", accept=["json"])
    assert json.loads(result.body)["boolean"] is False  # strict: the real default graph
    assert strict.pids() and before not in strict.pids()


def test_crashed_worker_is_reported_and_replaced(single: QueryService) -> None:
    thread, errors = _running(single, HEAVY + " LIMIT 1")
    (worker,) = single.pids()
    os.kill(worker, signal.SIGABRT)  # what a Rust panic does
    thread.join()
    (error,) = errors
    assert type(error) is FairdicomError and error.http_status == 500
    assert "SIGABRT" in str(error)
    assert single.query("ASK { BIND(1 AS ?x) }", accept=["json"]).body.endswith(b"true}")
    assert worker not in single.pids()


def test_busy_workers_make_later_heavy_requests_wait_then_fail(single: QueryService) -> None:
    lookup = "ASK { ?x ?y ?z }"
    single.query(lookup, accept=["json"])  # the fast lane's worker is up before the clock runs
    thread, errors = _running(single, HEAVY)
    with pytest.raises(StoreBusy, match="busy") as caught:
        single.query(COUNT + " # waits for the heavy lane", accept=["json"])
    assert caught.value.http_status == 503 and caught.value.retry_after >= 1
    # The fast lane answers a lookup meanwhile: ASK is not queued behind the heavy query.
    assert single.query(lookup + " # again", accept=["json"]).body.endswith(b"true}")
    assert thread.is_alive()  # the heavy query held the only heavy worker all along
    thread.join()
    assert [type(e) for e in errors] == [QueryTimeout]


# SERVICE and LOAD --------------------------------------------------------------------------


def test_service_and_load_are_refused_without_a_connection(
    service: QueryService, writable: QueryService, listener: tuple[str, Callable[[], int]]
) -> None:
    url, connections = listener
    host = url.rsplit("/", 1)[0] + "/"
    queries = [
        f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
        f"PREFIX e: <{host}> SELECT * WHERE {{ ?s ?p ?o SERVICE e:sparql {{}} }}",
        f"PREFIX : <{host}> SELECT * {{ SERVICE:x {{}} }}",
        f"SELECT * {{ ?s ?p trueSERVICE<{url}> {{}} }}",
        f"SELECT * {{ ?s ?p 1.5e3SERVICE<{url}> {{}} }}",
        f"SELECT * {{ SERVICESILENT<{url}> {{}} }}",
        f"SELECT * {{ ?s ?p ?o SERVICE#c\n<{url}> {{}} }}",
        f"BASE <{host}> SELECT * {{ SERVICE <sparql> {{}} }}",
        "SELECT * { SERVICE ?endpoint { ?s ?p ?o } }",
        "SELECT * { SERVICE <" + url.replace("h", "\\u0068", 1) + "> {} }",
    ]
    for text in queries:
        with pytest.raises(Forbidden):
            service.query(text, accept=["json"])
    for text in [f"LOAD <{url}>", f"load silent <{url}> INTO GRAPH <{BASE}g>"]:
        with pytest.raises(Forbidden):
            writable.update(text)
    # Past the lexical check, the worker itself opens no socket: nothing is allow-listed.
    request = QueryJob(service.location, service.generation(), queries[0], ("json",), 10)
    with pytest.raises(Forbidden, match="no network"):
        service.pool.run(request)
    assert connections() == 0


def test_lexer_keeps_what_only_looks_like_service(service: QueryService) -> None:
    text = (
        "PREFIX sd: <http://www.w3.org/ns/sparql-service-description#>\n"
        "PREFIX dcmtag: <https://w3id.org/fairdicom/dicom#>\n"
        "# SERVICE <http://127.0.0.1:9/> in a comment\n"
        'SELECT ?service WHERE { ?service dcmtag:ServiceEpisodeID "SERVICE <http://x/>" '
        "OPTIONAL { ?service a <http://example.org/services#x> } }"
    )
    result = service.query(text, accept=["json"])
    assert json.loads(result.body)["results"]["bindings"] == []


def test_lexer_lets_no_real_service_through(listener: tuple[str, Callable[[], int]]) -> None:
    """Whatever the lexer lets pass reaches no network when the engine itself runs it."""
    url, connections = listener
    store = pyoxigraph.Store()
    prologue = f"PREFIX : <{url}> PREFIX e: <{url}> "
    glues = ["", " ", "true", "1.5e3", "?o", "?o.", '"x"', "}", "{}", "FILTER(?o<2)", "e:o"]
    separators = ["", " ", "#>\n"]
    silent = ["", "SILENT", " silent#c\n"]
    targets = [f"<{url}>", "e:x", ":x", "e:x#>\n"]
    passed = 0
    for glue, sep, quiet, target, keyword in itertools.product(
        glues, separators, silent, targets, ["SERVICE", "sErViCe"]
    ):
        text = f"{prologue}SELECT * {{ ?s ?p {glue}{keyword}{sep}{quiet}{target}{{}} }}"
        try:
            Lexed(text).refuse_remote(frozenset(), ("service",))
        except Forbidden:
            continue
        passed += 1
        with contextlib.suppress(SyntaxError, OSError, RuntimeError):
            results = store.query(text)
            assert isinstance(results, pyoxigraph.QuerySolutions)
            list(results)
    assert passed  # e.g. ?oSERVICE is a variable and e:oSERVICE a prefixed name
    assert connections() == 0
    allowed = frozenset({url})
    Lexed(f"SELECT * {{ SERVICE <{url}> {{}} }}").refuse_remote(allowed, ("service",))
    Lexed(f"{prologue}SELECT * {{ SERVICE SILENT e: {{}} }}").refuse_remote(allowed, ("service",))
    with pytest.raises(Forbidden):
        Lexed(f"{prologue}SELECT * {{ SERVICE e:x {{}} }}").refuse_remote(allowed, ("service",))


# Writes ------------------------------------------------------------------------------------


def test_update_is_seen_and_changes_the_generation(writable: QueryService) -> None:
    before = writable.generation()
    assert number(writable.query(COUNT, accept=["json"]).body) == 0
    writable.update(f'INSERT DATA {{ GRAPH <{BASE}g> {{ <{BASE}a> <{BASE}p> "1" }} }}')
    assert writable.generation() != before
    assert number(writable.query(COUNT, accept=["json"]).body) == 1
    with pytest.raises(QuerySyntaxError, match=r"1:\d+"):
        writable.update("INSERT DATA { <x> }")
    writable.update(
        f"INSERT {{ GRAPH <{BASE}copy> {{ ?s ?p ?o }} }} WHERE {{ ?s ?p ?o }}",
        using_graphs=[f"{BASE}g"],
    )
    copied = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{BASE}copy> {{ ?s ?p ?o }} }}"
    assert number(writable.query(copied, accept=["json"]).body) == 1
    writable.update("INSERT DATA { GRAPH <relative> { <a> <p> <o> } }")  # base: base_iri
    found = writable.query("SELECT ?s WHERE { GRAPH <relative> { ?s ?p ?o } }", accept=["json"])
    assert json.loads(found.body)["results"]["bindings"][0]["s"]["value"] == f"{BASE}a"


def test_generation_sees_writes_of_another_process(writable: QueryService) -> None:
    before = writable.generation()
    assert number(writable.query(COUNT, accept=["json"]).body) == 0  # now in the cache
    code = (
        "import sys, pyoxigraph as ox; s = ox.Store(sys.argv[1]); "
        "s.add(ox.Quad(ox.NamedNode('http://a/'), ox.NamedNode('http://b/'), ox.Literal(1), "
        "ox.NamedNode('http://g/'))); s.flush()"
    )
    subprocess.run([sys.executable, "-c", code, writable.settings.store], check=True, timeout=60)
    assert writable.generation() != before
    assert number(writable.query(COUNT, accept=["json"]).body) == 1


def test_the_site_files_beside_the_store_leave_its_generation(writable: QueryService) -> None:
    """The audit log is written in the data folder, the store's folder by default: a read
    that is audited must not look like a write (every cache would be thrown away)."""
    before = writable.generation()
    (Path(writable.settings.store) / "audit.log").write_text('{"read": 1}\n', encoding="utf-8")
    assert writable.generation() == before


def test_update_waits_for_no_ingest(writable: QueryService) -> None:
    code = (
        "import sys, pyoxigraph as ox; s = ox.Store(sys.argv[1]); "
        "print('ready', flush=True); sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, writable.settings.store],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreBusy, match="ingest"):
            writable.update(f"INSERT DATA {{ <{BASE}a> <{BASE}p> 1 }}")
        assert number(writable.query(COUNT, accept=["json"]).body) == 0  # reads go on
        holder.stdin.close()
        holder.wait(30)
    writable.update(f"INSERT DATA {{ <{BASE}a> <{BASE}p> 1 }}")


def test_graph_store_operations(writable: QueryService) -> None:
    graph = f"{BASE}graph/uploaded"
    assert writable.graph_get(graph, ["text/turtle"]) is None
    assert not writable.graph_exists(graph)
    turtle = f"<{BASE}a> <{BASE}p> 1, 2 .".encode()
    assert writable.graph_put(graph, turtle, "text/turtle") is True
    assert writable.graph_exists(graph)
    got = writable.graph_get(graph, ["nt"])
    assert got is not None and got.media_type == "application/n-triples"
    assert len(rdflib.Graph().parse(data=got.body, format="nt")) == 2
    nt = f'<{BASE}a> <{BASE}p> "3" .\n'.encode()
    assert writable.graph_post(graph, nt, "application/n-triples") is False
    got = writable.graph_get(graph, ["text/turtle"])
    assert got is not None and len(rdflib.Graph().parse(data=got.body, format="turtle")) == 3
    assert writable.graph_put(graph, nt, "application/n-triples") is False
    got = writable.graph_get(graph, ["*/*"])
    assert got is not None and len(rdflib.Graph().parse(data=got.body, format="turtle")) == 1
    assert writable.graph_post(None, turtle, "text/turtle") is False
    default = writable.graph_get(None, ["nt"])
    assert default is not None and len(default.body.splitlines()) == 2
    with pytest.raises(UsageError, match="parse"):
        writable.graph_put(graph, b"<not turtle", "text/turtle")
    assert writable.graph_delete(graph) is True
    assert writable.graph_delete(graph) is False
    assert writable.graph_get(graph, ["nt"]) is None


# Concurrency with an ingest ----------------------------------------------------------------


def test_queries_stay_consistent_while_an_ingest_writes(
    sample_store: Path, corpus: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(sample_store, store)
    with QueryService(settings(store)) as svc:
        start = number(svc.query(COUNT, accept=["json"]).body)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "app"),
            "FAIRDICOM_SECRET": SECRET,
            "FAIRDICOM_BATCH_SIZE": "10",
        }
        command = [sys.executable, "-m", "fairdicom.cli", "ingest", str(corpus)]
        command += ["--dataset", "other"]
        seen = [start]
        with subprocess.Popen(
            [*command, "--store", str(store), "-v"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stderr is not None
            for line in process.stderr:  # a query after each batch, while the next is written
                if line.startswith("batch committed"):
                    seen.append(number(svc.query(COUNT, accept=["json"]).body))
        assert process.returncode in (0, 1), process.returncode
        seen.append(number(svc.query(COUNT, accept=["json"]).body))
    assert len(seen) > 3  # queried while the ingest ran
    assert all(n >= start for n in seen)
    assert seen == sorted(seen)
    assert seen[-1] > start
