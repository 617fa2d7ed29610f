"""Self-protection seen from a client of a real `fairdicom serve` process on loopback: a heavy
query is stopped at the timeout with a clear error, and a simple ASK answers within 1 s while
it runs and after."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from app.config import load_settings
from app.ingest.pipeline import ingest
from app.resources import SAMPLE
from tests.servers import free_port, running_server
from tests.test_query_service import HEAVY


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("protect")
    ingest([SAMPLE], load_settings(store=str(work / "store"), secret="s"), "sample")
    settings = {"store": str(work / "store"), "query_timeout": "2", "query_workers": "2"}
    with running_server(work, free_port(), settings) as base:
        yield base + "sparql"


def _ask(url: str) -> float:
    """Run a simple ASK; return how long it took."""
    started = time.monotonic()
    query = urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }", "format": "json"})
    with urllib.request.urlopen(f"{url}?{query}", timeout=10) as reply:
        assert json.load(reply)["boolean"] is True
    return time.monotonic() - started


def test_timeout_stops_a_heavy_query_and_asks_stay_fast(endpoint: str) -> None:
    outcome: dict[str, object] = {}

    def heavy() -> None:
        started = time.monotonic()
        body = urllib.parse.urlencode({"query": HEAVY}).encode()
        try:
            urllib.request.urlopen(endpoint, data=body, timeout=30).close()
            outcome["status"] = 200
        except urllib.error.HTTPError as error:
            outcome["status"] = error.code
            outcome["body"] = json.loads(error.read())
            error.close()
        outcome["seconds"] = time.monotonic() - started

    runner = threading.Thread(target=heavy)
    runner.start()
    time.sleep(0.5)
    during = _ask(endpoint)
    runner.join(timeout=30)
    after = _ask(endpoint)
    assert outcome["status"] == 503  # a clear error, never a truncated 200
    assert (
        "timeout" in json.dumps(outcome["body"]).lower()
        or "stopped" in json.dumps(outcome["body"]).lower()
    )
    assert 1.5 <= float(outcome["seconds"]) < 6  # type: ignore[arg-type]
    assert during < 1 and after < 1
