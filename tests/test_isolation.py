"""The query service's lanes and isolated writes, with real worker processes on a real store:
the fast lane and its move of slow queries to the heavy lane, writes that crash or overrun
their process without harming the store or the service, and the lexical verdicts behind them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fairdicom.config import Settings
from fairdicom.errors import FairdicomError, QueryTimeout, TooManyRequests, UsageError
from fairdicom.ingest.pipeline import ingest
from fairdicom.query import QueryService
from fairdicom.query.admission import ClientLimits, FailedLogins
from fairdicom.query.jobs import UpdateJob
from fairdicom.query.lexer import Lexed

from tests.conftest import ROOT, SECRET
from tests.servers import gone

BASE = "http://localhost:8000/"
SLOW_ASK = "ASK { ?a ?b ?c . ?d ?b ?f . ?g ?b ?i FILTER(STR(?a) = CONCAT(STR(?g), '-never')) }"
"""An ASK (so it looks cheap) that takes seconds: every triple paired with every other twice."""
DEEP = "{" * 5000 + "}" * 5000


def settings(store: Path, **changes: object) -> Settings:
    return replace(Settings(), store=str(store), secret=SECRET, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("isolation") / "store"
    ingest([ROOT / "data" / "sample"], settings(store), "sample")
    return store


@pytest.fixture()
def service(sample_store: Path) -> Iterator[QueryService]:
    """One heavy worker with a 4 s timeout; a fast lane of 1 s."""
    changes = {"query_workers": 1, "query_timeout": 4, "fast_lane_timeout": 1}
    with QueryService(settings(sample_store, **changes)) as svc:
        yield svc


@pytest.fixture()
def writable(tmp_path: Path) -> Iterator[QueryService]:
    with QueryService(settings(tmp_path / "store", query_workers=1, query_timeout=10)) as svc:
        yield svc


def _count(service: QueryService, text: str) -> int:
    body = json.loads(service.query(text, accept=["json"]).body)
    return int(body["results"]["bindings"][0]["n"]["value"])


def test_a_slow_query_of_the_fast_lane_is_moved_to_the_heavy_lane(service: QueryService) -> None:
    (fast,) = service.fast.pids()
    with pytest.raises(QueryTimeout, match="4 s"):  # ran 1 s in the fast lane, then 4 s
        service.query(SLOW_ASK, accept=["json"])
    assert gone(fast)  # stopped after its 1 s there, and replaced
    assert service.fast.stats().timeouts == 1 and service.pool.stats().timeouts == 1
    # Remembered as heavy: the same text goes straight to the heavy lane now.
    with pytest.raises(QueryTimeout):
        service.query(SLOW_ASK, accept=["json"])
    assert service.fast.stats().timeouts == 1 and service.pool.stats().timeouts == 2
    assert service.query("ASK { ?s ?p ?o }", accept=["json"]).body.endswith(b"true}")
    assert service.fast.stats().answered >= 1


def test_a_parser_crash_in_an_update_costs_one_request(writable: QueryService) -> None:
    graph = f"{BASE}kept"
    writable.update(f"INSERT DATA {{ GRAPH <{graph}> {{ <{BASE}a> <{BASE}p> 1 }} }}")
    (writer,) = writable.writer.pids()
    # Past the lexical check (which refuses this with 400), the parser overflows its stack.
    job = UpdateJob(writable.location, f"INSERT {{ <{BASE}x> <{BASE}y> 1 }} WHERE {DEEP}")
    with pytest.raises(FairdicomError) as caught:
        writable.writer.run(job)
    assert type(caught.value) is FairdicomError and caught.value.http_status == 500
    assert "SIGSEGV" in str(caught.value) and gone(writer)
    # The service goes on: the store is as it was, and the next write works.
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    assert _count(writable, count) == 1
    writable.update(f"INSERT DATA {{ GRAPH <{graph}> {{ <{BASE}b> <{BASE}p> 2 }} }}")
    assert _count(writable, count) == 2
    with pytest.raises(UsageError, match="5000 deep"):
        writable.update(f"INSERT {{ <{BASE}x> <{BASE}y> 1 }} WHERE {DEEP}")


def test_an_overrunning_write_is_stopped_and_writes_nothing(writable: QueryService) -> None:
    graph = f"{BASE}source"
    triples = " ".join(f"<{BASE}s{i}> <{BASE}p> {i} ." for i in range(300))
    writable.update(f"INSERT DATA {{ GRAPH <{graph}> {{ {triples} }} }}")
    quick = replace(writable.settings, query_timeout=1)
    with QueryService(quick) as strict:
        (writer,) = strict.writer.pids()
        # 300^3 solutions to insert: far more than a second's work.
        runaway = (
            f"INSERT {{ GRAPH <{BASE}copy> {{ ?a ?b ?f }} }} WHERE {{ GRAPH <{graph}> "
            "{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } }"
        )
        with pytest.raises(QueryTimeout):
            strict.update(runaway)
        assert gone(writer)
    copied = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{BASE}copy> {{ ?s ?p ?o }} }}"
    assert _count(writable, copied) == 0  # all or nothing: nothing
    assert _count(writable, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")


@pytest.mark.parametrize(
    ("text", "cheap"),
    [
        ("ASK { ?s a ?t }", True),
        ("DESCRIBE <http://example.org/a>", True),
        ("SELECT * WHERE { <http://example.org/a> ?p ?o } LIMIT 100", True),
        ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 10", True),
        ("SELECT * WHERE { ?s ?p ?o }", False),  # no LIMIT
        ("SELECT * WHERE { ?s ?p ?o } LIMIT 100000", False),
        ("SELECT * WHERE { ?s ?p ?o } ORDER BY ?o LIMIT 10", False),
        ("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } LIMIT 1", False),
        ("SELECT ?s WHERE { ?s ?p ?o } GROUP BY ?s LIMIT 1", False),
        ("SELECT DISTINCT ?s WHERE { ?s ?p ?o } LIMIT 5", False),
        ("ASK { { SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s } }", False),
        ("SELECT * { { SELECT * { ?s ?p ?o } } } LIMIT 5", False),  # a subquery
        ('SELECT * { ?s ?p "ORDER BY" } LIMIT 5', True),  # words in strings do not count
        ("# ORDER BY\nASK {}", True),
    ],
)
def test_which_queries_look_cheap(text: str, cheap: bool) -> None:
    assert Lexed(text).cheap() is cheap


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("ASK {}", 1),
        ("SELECT * { { ?s ?p ?o } UNION { ?s ?p (1) } }", 3),
        ('ASK { FILTER("{{{{" = "(((") }', 2),  # brackets in strings do not count
        ("ASK " + DEEP, 5000),
        ("ASK { ?s ?p [ ?q [ ?r ?o ] ] }", 3),
    ],
)
def test_nesting_depth(text: str, depth: int) -> None:
    assert Lexed(text).depth() == depth


def test_wrong_tokens_lock_a_client_out_for_longer_each_time() -> None:
    now = [1000.0]
    logins = FailedLogins(free=3, first=5, most=60, forget=900, clock=lambda: now[0])
    for _ in range(2):
        logins.check("a")
        logins.failed("a")
    logins.check("a")  # two failures: no lock yet
    logins.failed("a")  # the third: 5 s
    with pytest.raises(TooManyRequests) as caught:
        logins.check("a")
    assert caught.value.http_status == 429 and caught.value.retry_after == 5
    logins.check("b")  # another client is not locked
    now[0] += 5
    logins.check("a")
    logins.failed("a")  # the fourth: 10 s
    now[0] += 9
    with pytest.raises(TooManyRequests):
        logins.check("a")
    now[0] += 1
    for _ in range(5):
        logins.failed("a")
    with pytest.raises(TooManyRequests) as caught:
        logins.check("a")
    assert caught.value.retry_after == 60  # capped at ``most``
    logins.succeeded("a")
    logins.check("a")
    logins.failed("c")
    now[0] += 901
    logins.check("c")  # forgotten after ``forget`` seconds
    assert logins.locked() == 0


def test_client_limits_count_each_client_apart() -> None:
    limits = ClientLimits(2)
    with limits.admit("a", lambda: 3), limits.admit("a", lambda: 3), limits.admit("b", lambda: 3):
        with pytest.raises(TooManyRequests) as caught, limits.admit("a", lambda: 3):
            pass
        assert caught.value.retry_after == 3
        assert limits.clients() == 2
    assert limits.clients() == 0 and limits.refused == 1
    with limits.admit("", lambda: 1), limits.admit("", lambda: 1), limits.admit("", lambda: 1):
        pass  # an unknown client is not limited
