"""Run the web app on waitress until Ctrl-C or SIGTERM, then close the query service."""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from waitress import create_server

from fairdicom.config import Settings
from fairdicom.errors import UsageError
from fairdicom.web import create_app
from fairdicom.web.protocol import SERVICE_KEY


def serve(settings: Settings, echo: Callable[[str], None]) -> None:
    """Serve the app on ``settings.host``:``settings.port``; say where; block until stopped."""
    app = create_app(settings)
    service = app.extensions[SERVICE_KEY]
    # Queries run in worker processes, so a thread mostly waits on one: a few per worker
    # keep the workers busy while requests for cached results and writes go on beside them.
    threads = max(4, 2 * settings.query_workers)
    try:
        server: Any = create_server(
            app, host=settings.host, port=settings.port, threads=threads, ident="fairdicom"
        )
    except OSError as exc:
        service.close()
        raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from None
    host, port = getattr(server, "effective_listen", [None])[0] or (
        server.effective_host,
        server.effective_port,
    )
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    echo(f"fairdicom serving {settings.store}: SPARQL {url}sparql, graph store {url}store")
    echo("stop with Ctrl-C")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()  # returns on KeyboardInterrupt / SystemExit
    finally:
        server.close()
        service.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
