"""Self-protection seen from a client of a real `fairdicom serve` process on loopback: a heavy
query is stopped at the timeout with a clear error, and a simple ASK answers while it runs
(before it is stopped) and after."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import suppress

import pytest
from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.resources import SAMPLE

from tests.servers import Server, cpu_ticks, gone, query_workers, serving, wait_until
from tests.test_query_service import HEAVY

TIMEOUT = 5
"""The server's query timeout (s): long enough for an ASK on a busy machine to overtake it."""
BUSY = 50
"""CPU clock ticks (0.5 s) a worker uses only when it runs a query that long: the event that
the heavy query runs (a worker that starts or answers an ASK uses a few)."""


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("protect")
    ingest([SAMPLE], load_settings(store=str(work / "store"), secret="s"), "sample")
    settings = {"store": str(work / "store"), "query_timeout": str(TIMEOUT), "query_workers": "2"}
    with serving(work, 0, settings) as server:
        yield server


def _ask(url: str, text: str = "ASK { ?s ?p ?o }") -> bool:
    """Run an ASK; return its answer."""
    query = urllib.parse.urlencode({"query": text, "format": "json"})
    with urllib.request.urlopen(f"{url}sparql?{query}", timeout=60) as reply:
        answer: bool = json.load(reply)["boolean"]
        return answer


def test_timeout_stops_a_heavy_query_and_asks_still_answer(endpoint: Server) -> None:
    url = endpoint.url
    assert _ask(url, "ASK { }") is True  # the server answers
    wait_until(lambda: len(query_workers(endpoint.pid)) == 2, "both query workers run")
    idle = {pid: cpu_ticks(pid) for pid in query_workers(endpoint.pid)}
    outcome: dict[str, object] = {}
    done = threading.Event()

    def heavy() -> None:
        started = time.monotonic()
        body = urllib.parse.urlencode({"query": HEAVY}).encode()
        try:
            urllib.request.urlopen(f"{url}sparql", data=body, timeout=120).close()
            outcome["status"] = 200
        except urllib.error.HTTPError as error:
            outcome["status"] = error.code
            outcome["body"] = json.loads(error.read())
            error.close()
        outcome["seconds"] = time.monotonic() - started
        done.set()

    def running() -> list[int]:
        found = []
        for pid, ticks in idle.items():
            with suppress(OSError):  # a worker that is gone runs nothing
                if cpu_ticks(pid) >= ticks + BUSY:
                    found.append(pid)
        return found

    runner = threading.Thread(target=heavy)
    runner.start()
    wait_until(lambda: bool(running()), "a query worker runs the heavy query")
    (busy,) = running()
    assert _ask(url) is True
    # The ASK was answered while the heavy query still ran: its worker had not been stopped.
    assert not done.is_set() and not gone(busy)
    runner.join(timeout=120)
    assert _ask(url, "ASK { ?x ?y ?z }") is True  # after it: a fresh query, not the cache
    assert outcome["status"] == 503  # a clear error, never a truncated 200
    assert (
        "timeout" in json.dumps(outcome["body"]).lower()
        or "stopped" in json.dumps(outcome["body"]).lower()
    )
    # Stopped at the timeout, not before (unstopped, the query would run for hours): the
    # worker that ran it is gone, killed.
    assert float(outcome["seconds"]) >= TIMEOUT - 0.5  # type: ignore[arg-type]
    assert gone(busy)
