"""A real ``fairdicom serve`` process on loopback with a fresh store, for the W3C tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import free_port, running_server
from tests.w3c.harness import TOKEN, Server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Start ``python -m fairdicom.cli serve`` on a free loopback port with a fresh store."""
    work = tmp_path_factory.mktemp("w3c")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    settings = {
        "store": str(work / "store"),
        "secret": "w3c-secret",
        "admin_token": TOKEN,
        "base_iri": base,
        "query_workers": "1",
    }
    with running_server(work, port, settings):
        yield Server(base, port)
