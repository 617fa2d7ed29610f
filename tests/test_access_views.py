"""The query service under access control: a caller who may read every graph of the store runs
on the engine's own dataset (the fast path), and a graph that comes between the check and the
query is hidden all the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fairdicom.access import ANONYMOUS, SCOPE
from fairdicom.access.policy import Policy
from fairdicom.config import load_settings
from fairdicom.query.service import QueryService
from fairdicom.store import EmbeddedStore

BASE = "http://localhost:8000/"
OPEN, CLOSED = BASE + "graph/open/raw", BASE + "graph/closed/raw"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
JSON = ["application/sparql-results+json"]


def _count(service: QueryService) -> int:
    body = json.loads(service.query(COUNT, accept=JSON).body)
    return int(body["results"]["bindings"][0]["n"]["value"])


def _add(store: Path, graph: str, triples: int) -> None:
    opened = EmbeddedStore(str(store))
    try:
        lines = [f"<urn:s{i}> <urn:p> <urn:o> .\n" for i in range(triples)]
        opened.add({graph: lines})
        opened.flush()
    finally:
        opened.close()


@pytest.fixture()
def anonymous() -> object:
    token = SCOPE.set(Policy({"open": "PUBLIC", "closed": "NON_PUBLIC"}, ()).scope(ANONYMOUS))
    yield
    SCOPE.reset(token)


def test_a_graph_that_comes_after_the_check_stays_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anonymous: object
) -> None:
    store = tmp_path / "store"
    _add(store, OPEN, 3)
    with QueryService(load_settings(store=str(store), query_workers=1)) as service:
        assert _count(service) == 3  # every graph readable: the engine's own union
        _add(store, CLOSED, 5)
        assert _count(service) == 3  # the closed graph is hidden from now on
        # The race: the service saw the graphs before the closed one came (a write between
        # its check and the worker's view); the worker notices, the query runs restricted.
        monkeypatch.setattr(service, "_graph_names", lambda generation: (OPEN,))
        assert _count(service) == 3
