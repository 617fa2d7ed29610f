"""The remote store against a real Oxigraph server (``oxigraph serve``) on loopback.

Each test compares with the embedded store fed the same corpus and secret: ingest, the example
queries, remap and the catalogue give the same graphs; ``fairdicom serve --store URL`` answers
like the embedded one; a server killed in the middle of an ingest leaves a store that a re-run
completes; concurrent ingests give what sequential ones give; refusals and an unreachable
server end in a message that names the URL, never a traceback.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
import rdflib
from fairdicom.config import load_settings
from fairdicom.errors import StoreError, UsageError
from fairdicom.resources import SAMPLE
from fairdicom.store import Dataset, RemoteLocation, RemoteStore, locate, open_store, remote_store
from fairdicom.store.remote_http import Credentials, SparqlHttp
from rdflib.compare import isomorphic

from tests.conftest import ROOT, SECRET
from tests.oxigraph_server import OxigraphServer, oxigraph_command, oxigraph_serving
from tests.servers import free_port, running_server, wait_until
from tests.w3c.harness import TOKEN as W3C_TOKEN
from tests.w3c.harness import Server, Step
from tests.w3c.test_graph_store import CASES as GRAPH_STORE_CASES
from tests.w3c.test_protocol import CASES as PROTOCOL_CASES

EXAMPLES = sorted((ROOT / "app" / "fairdicom" / "web" / "examples").glob("*.rq"))
JSON = "application/sparql-results+json"
RUN_LOCAL = ("/graph/provenance>",)
"""Graphs that differ run to run (times and IRIs of the runs): left out of comparisons."""
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
DATETIME = f"^^<{XSD_DATETIME}>"


def clean_env(store: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Return an environment with these settings and none of the caller's FAIRDICOM_*."""
    config = data_dir / "fairdicom.toml"
    data_dir.mkdir(parents=True, exist_ok=True)
    config.write_text("access_control = false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    env.update(
        PYTHONPATH=str(ROOT / "app"),
        FAIRDICOM_CONFIG=str(config),
        FAIRDICOM_SECRET=SECRET,
        FAIRDICOM_STORE=store,
        FAIRDICOM_DATA_DIR=str(data_dir),
        FAIRDICOM_WORKERS="1",
    )
    env.update({f"FAIRDICOM_{k.upper()}": v for k, v in extra.items()})
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``fairdicom`` as a user would, with exactly this environment."""
    return subprocess.run(
        [sys.executable, "-m", "fairdicom.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """Return a command's output, failing with its errors when it did not succeed."""
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def comparable(env: dict[str, str]) -> set[str]:
    """Return the store's N-Quads without what differs run to run (provenance of the runs,
    times of the catalogue's refresh)."""
    lines = ok(cli(env, "export", "--format", "nquads")).splitlines()
    return {
        line for line in lines if not line.rstrip(" .").endswith(RUN_LOCAL) and DATETIME not in line
    }


def graph(env: dict[str, str], iri_end: str) -> set[str]:
    """Return the N-Quads of the store's graphs whose IRI ends with ``iri_end``."""
    return {line for line in comparable(env) if line.rstrip(" .").endswith(iri_end + ">")}


def copy_patients(target: Path, names: list[str]) -> Path:
    """Copy some patient folders of the bundled sample into ``target``."""
    for name in names:
        shutil.copytree(SAMPLE / name, target / name)
    return target


class Engine(Protocol):
    """A SPARQL engine's server for the tests (Oxigraph server, Virtuoso)."""

    @property
    def url(self) -> str: ...

    def settings(self) -> dict[str, str]: ...


class Stores:
    """An embedded store and an engine's server fed the same corpus with the same secret."""

    def __init__(self, root: Path, server: Engine) -> None:
        self.server = server
        self.embedded = clean_env(str(root / "embedded"), root / "embedded-data")
        self.remote = clean_env(server.url, root / "remote-data", **server.settings())

    def both(self) -> tuple[dict[str, str], dict[str, str]]:
        return self.embedded, self.remote


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """The bundled sample ingested into both stores (dataset ``sample``)."""
    root = tmp_path_factory.mktemp("remote")
    with oxigraph_serving(root / "oxigraph") as server:
        pair = Stores(root, server)
        for env in pair.both():
            ok(cli(env, "ingest", str(SAMPLE), "--dataset", "sample"))
        yield pair


# Same results as the embedded store ---------------------------------------------------------


def test_ingest_gives_the_embedded_store(stores: Stores) -> None:
    embedded, remote = (comparable(env) for env in stores.both())
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
        store = open_store(load_settings(store=env["FAIRDICOM_STORE"]), read_only=True)
        try:
            answers.append(store.query(text, accept=[JSON], dataset=Dataset(union=True)))
        finally:
            store.close()
    embedded, remote = answers
    assert remote.media_type == embedded.media_type == JSON
    rows = [_run_free(json.loads(a.body)["results"]["bindings"]) for a in answers]
    assert rows[0], f"{example.name} gives no rows"
    assert rows[1] == rows[0]


def _run_free(rows: list[dict[str, dict[str, str]]]) -> list[str]:
    """Return result rows, sorted, without what differs run to run (run IRIs, times)."""
    return sorted(
        json.dumps(
            {
                name: value
                for name, value in row.items()
                if "/id/run/" not in value["value"] and value.get("datatype") != XSD_DATETIME
            },
            sort_keys=True,
        )
        for row in rows
    )


def test_rows_are_capped_like_the_embedded_store(stores: Stores) -> None:
    text = "SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"
    for accept in ("text/csv", JSON, "text/tab-separated-values"):
        store = open_store(load_settings(store=stores.server.url), read_only=True)
        try:
            answer = store.query(text, accept=[accept], max_rows=7)
            whole = store.query(text, accept=[accept], max_rows=0)
        finally:
            store.close()
        assert answer.truncated and not whole.truncated
        assert answer.media_type == accept
        if accept == JSON:
            assert len(json.loads(answer.body)["results"]["bindings"]) == 7
        else:
            assert len(answer.body.decode().strip().splitlines()) == 8  # header + 7 rows
    construct = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"
    store = open_store(load_settings(store=stores.server.url), read_only=True)
    try:
        graph_answer = store.query(construct, accept=["text/turtle"], max_rows=5)
    finally:
        store.close()
    assert graph_answer.truncated
    assert len(rdflib.Graph().parse(data=graph_answer.body, format="turtle")) == 5


def test_remap_gives_the_embedded_curated_layer(stores: Stores) -> None:
    for env in stores.both():
        ok(cli(env, "mapping", "apply", "--dataset", "sample"))
    embedded, remote = (graph(env, "/graph/sample/curated") for env in stores.both())
    assert len(remote) > 500
    assert remote == embedded


def test_catalogue_is_the_embedded_one(stores: Stores) -> None:
    for env in stores.both():
        ok(cli(env, "catalog"))
    embedded, remote = (graph(env, "/graph/catalog") for env in stores.both())
    assert any("dcat#Dataset" in line for line in remote)
    assert remote == embedded
    dumps = [
        Path(env["FAIRDICOM_DATA_DIR"], "dumps", "sample.nq.gz").read_bytes()
        for env in stores.both()
    ]
    assert dumps[0] and dumps[1]


def test_generation_changes_when_another_process_writes(stores: Stores) -> None:
    location = locate(load_settings(store=stores.server.url))
    assert isinstance(location, RemoteLocation) and not location.local
    before = location.generation()
    assert before is not None and before == location.generation()
    ok(cli(stores.remote, "catalog"))  # another process writes the store
    after = location.generation()
    assert after is not None and after != before
    assert "urn:x-fairdicom:generation" not in ok(cli(stores.remote, "stats"))


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
        settings = {
            "store": env["FAIRDICOM_STORE"],
            "data_dir": env["FAIRDICOM_DATA_DIR"],
            "secret": SECRET,
            "base_iri": "http://localhost:8000/",
        }
        with running_server(work, 0, settings) as url:
            sparql = _get(f"{url}sparql?query={urllib.parse.quote(query)}", JSON)
            resource = _get(url + path.lstrip("/"), "text/turtle")
            catalogue = _get(url + "catalog", "text/turtle")
            oai = _get(url + "oai?verb=ListIdentifiers&metadataPrefix=oai_dc", "text/xml")
        seen.append(
            {
                "rows": sorted(
                    json.dumps(r, sort_keys=True) for r in json.loads(sparql)["results"]["bindings"]
                ),
                "resource": rdflib.Graph().parse(data=resource, format="turtle"),
                "catalogue": _without_times(rdflib.Graph().parse(data=catalogue, format="turtle")),
                "oai": re.sub(rb"(Date|datestamp)>[^<]*<", b"", oai.replace(url.encode(), b"")),
            }
        )
    embedded, remote = seen
    assert remote["rows"] == embedded["rows"] and embedded["rows"]
    assert len(embedded["resource"]) > 5  # type: ignore[arg-type]
    assert isomorphic(remote["resource"], embedded["resource"])  # type: ignore[arg-type]
    assert isomorphic(remote["catalogue"], embedded["catalogue"])  # type: ignore[arg-type]
    assert remote["oai"] == embedded["oai"]
    assert b"header>" in embedded["oai"] and b"error" not in embedded["oai"]  # type: ignore[operator]


def test_serve_keeps_its_protections_in_front_of_the_engine(stores: Stores, tmp_path: Path) -> None:
    settings = {
        "store": stores.server.url,
        "data_dir": stores.remote["FAIRDICOM_DATA_DIR"],
        "secret": SECRET,
        "query_timeout": "1",
        "fast_lane_timeout": "1",
        "admin_token": ADMIN,
    }
    endless = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    service = "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
    load = "LOAD <http://127.0.0.1:9/data.ttl>"
    with running_server(tmp_path, 0, settings) as url:
        assert _status(f"{url}sparql?query={urllib.parse.quote(endless)}") == 503
        assert _status(f"{url}sparql?query={urllib.parse.quote(service)}") == 403
        assert _status(f"{url}sparql", {"update": load}) == 403
        assert b"LOAD" in _body(f"{url}sparql", {"update": load})
        # The server is still there for the next client.
        assert _status(f"{url}sparql?query={urllib.parse.quote('ASK { ?s ?p ?o }')}") == 200


ADMIN = "admin-t0ken"
WRITER = {"Authorization": f"Bearer {ADMIN}"}


def _status(url: str, form: dict[str, str] | None = None, accept: str = JSON) -> int:
    data = urllib.parse.urlencode(form).encode() if form else None
    headers = {"Accept": accept, **(WRITER if form else {})}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def _body(url: str, form: dict[str, str]) -> bytes:
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(form).encode(), headers=WRITER
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body: bytes = response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
        exc.close()
    return body


def _get(url: str, accept: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200
        body: bytes = response.read()
        return body


def _without_times(g: rdflib.Graph) -> rdflib.Graph:
    for s, p, o in list(g):
        if isinstance(o, rdflib.Literal) and o.datatype == rdflib.XSD.dateTime:
            g.remove((s, p, o))
    return g


def test_export_and_import_move_a_store_both_ways(stores: Stores, tmp_path: Path) -> None:
    # Remote -> embedded: fairdicom export, then Oxigraph's own loader into a directory.
    dump = tmp_path / "remote.nq"
    dump.write_text(ok(cli(stores.remote, "export", "--format", "nquads")))
    moved = tmp_path / "moved"
    command = oxigraph_command()
    assert command is not None
    loaded = subprocess.run(
        [command, "load", "--location", str(moved), "--file", str(dump)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    local = clean_env(str(moved), tmp_path / "moved-data")
    assert comparable(local) == comparable(stores.remote)
    # Embedded -> a new Oxigraph server: the Graph Store Protocol's POST of N-Quads.
    data = ok(cli(stores.embedded, "export", "--format", "nquads")).encode()
    with oxigraph_serving(tmp_path / "target") as target:
        request = urllib.request.Request(
            f"{target.url}/store",
            data=data,
            headers={"Content-Type": "application/n-quads"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            assert response.status in (200, 201, 204)
        remote = clean_env(target.url, tmp_path / "target-data")
        assert comparable(remote) == comparable(stores.embedded)


# Failures: a server killed, unreachable, refusing ---------------------------------------------


def test_killed_server_fails_the_ingest_and_a_rerun_completes_it(
    stores: Stores, tmp_path: Path
) -> None:
    server = OxigraphServer(tmp_path / "oxigraph", tmp_path / "oxigraph.log")
    server.start()
    try:
        env = clean_env(server.url, tmp_path / "data", batch_size="5", store_retries="1")
        ingest = subprocess.Popen(
            [sys.executable, "-m", "fairdicom.cli", "ingest", str(SAMPLE), "--dataset", "sample"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        location = RemoteLocation.of(server.url)
        # The event: the first batches are in the server's store.
        wait_until(lambda: _quads(location, RAW) > 0, "the ingest wrote its first batch", 300)
        server.kill()
        out, err = ingest.communicate(timeout=300)
        assert ingest.returncode == 2, out + err
        assert f"{server.url}/" in err and "run the same command again" in err
        assert "Traceback" not in err
        server.start()  # the same directory: what the server had committed
        partial = _quads(location, RAW)
        assert partial > 0
        ok(cli(env, "ingest", str(SAMPLE), "--dataset", "sample"))
        assert comparable(env) == comparable(stores.embedded)
    finally:
        server.stop()


RAW = "http://localhost:8000/graph/sample/raw"


def _quads(location: RemoteLocation, graph: str) -> int:
    """Return how many triples a graph of the server holds now (0 when it does not answer)."""
    try:
        store = location.open(read_only=True)
        try:
            return store.quad_count(graph)
        finally:
            store.close()
    except Exception:
        return 0


def test_a_load_is_sent_in_requests_as_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """N-Quads larger than a request go in several ``INSERT DATA`` requests, each ended by
    the line that reaches UPDATE_MAX_BYTES of triples, and every quad arrives in its graph; a
    line that does not parse is a clear error."""
    monkeypatch.setattr(remote_store, "UPDATE_MAX_BYTES", 2_000)
    sent: list[int] = []
    add = RemoteStore.add

    def counted(store: RemoteStore, inserts: dict[str, list[str]]) -> None:
        sent.append(sum(len(line) for lines in inserts.values() for line in lines))
        add(store, inserts)

    monkeypatch.setattr(RemoteStore, "add", counted)
    ex = "http://example.org/"
    quads = [f'<{ex}s{i}> <{ex}p> "Wert {i} \u00e9\u4e2d" <{ex}g{i % 2}> .\n' for i in range(300)]
    with oxigraph_serving(tmp_path / "oxigraph") as server:
        store = open_store(load_settings(store=server.url))
        try:
            store.load_nquads("".join(quads).encode(), bulk=True)
            assert len(sent) >= 5, sent
            assert max(sent) < 2_000 + 200, sent  # the request that passed the bound ends it
            assert store.quad_count(f"{ex}g0") == store.quad_count(f"{ex}g1") == 150
            found = store.select(f"SELECT ?o WHERE {{ GRAPH <{ex}g1> {{ <{ex}s7> ?p ?o }} }}")
            assert [str(row["o"]) for row in found] == ['"Wert 7 \u00e9\u4e2d"']
            with pytest.raises(UsageError, match="do not parse"):
                store.load_nquads(b"<http://example.org/s> <http://example.org/p> oops .\n")
        finally:
            store.close()


def test_unreachable_store_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = clean_env(url, tmp_path / "data", store_retries="1")
    for args in (("stats",), ("ingest", str(SAMPLE / "patient0001"), "--dataset", "x")):
        result = cli(env, *args)
        assert result.returncode == 2
        assert f"cannot reach the SPARQL store at {url}/" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Answer every request with the status in the server's ``status``; note the headers."""

    def do_POST(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        server = self.server
        server.seen.append(dict(self.headers))  # type: ignore[attr-defined]
        self.send_response(server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (401, "asks for credentials (401): set FAIRDICOM_STORE_TOKEN"),
        (403, "refuses these credentials (403)"),
        (404, "is not a SPARQL endpoint (404): check --store"),
        (500, "failed (500). See the engine's log"),
    ],
)
def test_refusals_say_what_to_do(tmp_path: Path, status: int, says: str) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    server.status = status  # type: ignore[attr-defined]
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        env = clean_env(url, tmp_path / "data", store_token="t0ken", store_retries="0")
        result = cli(env, "stats")
        assert result.returncode == 2
        assert f"{url}/query" in result.stderr and says in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert "t0ken" not in result.stderr + result.stdout
        assert server.seen[0]["Authorization"] == "Bearer t0ken"  # type: ignore[attr-defined]
        basic = clean_env(url, tmp_path / "data", store_user="ann", store_password="pw")
        cli(basic, "stats")
        assert server.seen[-1]["Authorization"] == "Basic YW5uOnB3"  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


class _BrokenOff(http.server.BaseHTTPRequestHandler):
    """Begin a chunked answer, then send a chunk header of stored-looking bytes and close: an
    engine that dies in the middle of an answer."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"10\r\n" + b'{"head":{"vars":' + b"\r\nSmith^John\r\n")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_answer_broken_off_says_what_to_do_and_quotes_nothing(tmp_path: Path) -> None:
    """An answer that breaks off is an error naming the engine and what to do, whether it broke
    while the answer was received (then it is tried again first) or while it was read; the
    broken bytes are not quoted."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BrokenOff)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = cli(clean_env(url, tmp_path / "data", store_retries="0"), "stats")
        assert result.returncode == 2
        assert f"the SPARQL store at {url}/query broke off its answer" in result.stderr
        assert "run the same command again" in result.stderr
        assert "Traceback" not in result.stderr and "Smith" not in result.stderr
        http_client = SparqlHttp(Credentials(), retries=1, timeout=30)
        with (
            pytest.raises(StoreError, match="broke off its answer") as raised,
            http_client.request("GET", f"{url}/query"),
        ):
            pass
        assert "Smith" not in str(raised.value)
    finally:
        server.shutdown()
        server.server_close()


# Several ingest processes, one remote store ---------------------------------------------------


def _together(*envs_and_folders: tuple[dict[str, str], Path, str]) -> None:
    """Run ingests at the same time; fail unless each succeeds."""
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "fairdicom.cli", "ingest", str(folder), "--dataset", slug],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for env, folder, slug in envs_and_folders
    ]
    for process in running:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, out + err


@pytest.mark.parametrize("same_dataset", [False, True], ids=["two-datasets", "one-dataset"])
def test_concurrent_ingests_equal_sequential_ones(tmp_path: Path, same_dataset: bool) -> None:
    first = copy_patients(tmp_path / "first", ["patient0001", "patient0002", "patient0003"])
    second = copy_patients(tmp_path / "second", ["patient0004", "patient0005", "patient0006"])
    slugs = ("cohort", "cohort") if same_dataset else ("cohort-a", "cohort-b")
    sequential = clean_env(str(tmp_path / "embedded"), tmp_path / "embedded-data")
    ok(cli(sequential, "ingest", str(first), "--dataset", slugs[0]))
    ok(cli(sequential, "ingest", str(second), "--dataset", slugs[1]))
    with oxigraph_serving(tmp_path / "oxigraph") as server:
        # Two writers (as on two machines: each its own data folder, one secret).
        one = clean_env(server.url, tmp_path / "one", batch_size="20")
        two = clean_env(server.url, tmp_path / "two", batch_size="20")
        _together((one, first, slugs[0]), (two, second, slugs[1]))
        if same_dataset:  # and the same files by both at once: same triples, no duplicates
            _together((one, first, slugs[0]), (two, first, slugs[0]))
        # The catalogue is refreshed by each run; one more refresh after both is what counts.
        ok(cli(one, "catalog"))
        ok(cli(sequential, "catalog"))
        assert comparable(one) == comparable(sequential)


def test_serve_writes_through_to_the_engine(stores: Stores, tmp_path: Path) -> None:
    settings = {
        "store": stores.server.url,
        "data_dir": str(tmp_path / "data"),
        "secret": SECRET,
        "admin_token": ADMIN,
    }
    graph_iri = "http://example.org/graph/scratch"
    target = f"store?graph={urllib.parse.quote(graph_iri)}"
    location = RemoteLocation.of(stores.server.url)
    with running_server(tmp_path, 0, settings) as url:
        before = location.generation()
        put = urllib.request.Request(
            url + target,
            data=b"<http://example.org/a> <http://example.org/b> 1 .",
            headers={"Content-Type": "text/turtle", **WRITER},
            method="PUT",
        )
        with urllib.request.urlopen(put, timeout=120) as response:
            assert response.status == 201
        assert location.generation() != before
        update = (
            "PREFIX ex: <http://example.org/>\n"
            "INSERT DATA { GRAPH <http://example.org/graph/scratch> { ex:a ex:c ex:d } }"
        )
        assert _status(f"{url}sparql", {"update": update}) in (200, 204)
        turtle = _get(url + target, "text/turtle")
        got = rdflib.Graph().parse(data=turtle, format="turtle")
        assert len(got) == 2
        delete = urllib.request.Request(url + target, headers=WRITER, method="DELETE")
        with urllib.request.urlopen(delete, timeout=120) as response:
            assert response.status in (200, 204)
        assert _status(url + target, accept="text/turtle") == 404


# The W3C SPARQL 1.1 Protocol and Graph Store test cases, with the engine behind ----------------


@pytest.fixture(scope="module")
def w3c_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run ``fairdicom serve`` in front of a new Oxigraph server, as the W3C tests' server."""
    work = tmp_path_factory.mktemp("w3c-remote")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with oxigraph_serving(work / "oxigraph") as engine:
        settings = {
            "store": engine.url,
            "data_dir": str(work / "data"),
            "secret": "w3c-secret",
            "admin_token": W3C_TOKEN,
            "base_iri": base,
            "query_workers": "1",
        }
        with running_server(work, port, settings):
            yield Server(base, port)


@pytest.mark.parametrize("steps", PROTOCOL_CASES.values(), ids=PROTOCOL_CASES.keys())
def test_w3c_protocol_cases_pass_on_the_engine(w3c_server: Server, steps: tuple[Step, ...]) -> None:
    w3c_server.run(steps)


@pytest.mark.parametrize("steps", GRAPH_STORE_CASES.values(), ids=GRAPH_STORE_CASES.keys())
def test_w3c_graph_store_cases_pass_on_the_engine(
    w3c_server: Server, steps: tuple[Step, ...]
) -> None:
    w3c_server.run(steps)
