"""Run the web app on waitress until Ctrl-C or SIGTERM, then close the query service.

Waitress gets enough threads for every request the query service admits (each running or
waiting query holds one, blocked on a pipe, the GIL released) plus a few for cached answers,
pages and static files, so that a request the service would answer at once is never left
in waitress's own queue behind queries waiting for a worker. Behind a reverse proxy
(``trusted_proxy``), waitress takes the client's address from ``X-Forwarded-For``.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from dataclasses import replace
from types import FrameType
from typing import Any

from waitress import create_server

from fairdicom.config import Settings, base_is_derived, listen_base
from fairdicom.errors import FairdicomError, UsageError
from fairdicom.query.service import QueryService
from fairdicom.web import create_app
from fairdicom.web.auth import access_notes
from fairdicom.web.protocol import SERVICE_KEY

SPARE_THREADS = 4
"""Threads beyond what the query service admits: cached answers, pages, static files."""
PROVENANCE = "/graph/provenance"
"""How the name of a provenance graph ends (``{base}graph/provenance``)."""


def listen(settings: Settings) -> socket.socket:
    """Bind the server's socket to ``host``:``port`` (port 0: a free one) before anything is
    served, so that the address, and the ``base_iri`` derived from it, is known."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host or None, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from None
    return sock


def listening_settings(settings: Settings, sock: socket.socket) -> Settings:
    """Return the settings with the port the socket got and, when ``base_iri`` is not set, the
    base derived from the address it listens on."""
    port = int(sock.getsockname()[1])
    if not base_is_derived(settings):
        return replace(settings, port=port)
    return replace(settings, port=port, base_iri=listen_base(settings.host, port))


def serve(
    settings: Settings, echo: Callable[[str], None], sock: socket.socket | None = None
) -> None:
    """Serve the app on ``sock`` (default: a socket bound to ``settings.host``:``settings.port``);
    say where and under which base IRI; block until stopped."""
    sock = sock or listen(settings)
    derived = base_is_derived(settings)
    settings = listening_settings(settings, sock)
    app = create_app(settings)
    service = app.extensions[SERVICE_KEY]
    try:
        server: Any = create_server(app, sockets=[sock], ident="fairdicom", **options(settings))
    except OSError as exc:
        service.close()
        raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from None
    host, port = getattr(server, "effective_listen", [None])[0] or (
        server.effective_host,
        server.effective_port,
    )
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    echo(f"fairdicom serving {settings.store}: SPARQL {url}sparql, graph store {url}store")
    graphs = _graphs(service)  # the store's list of graph names: no scan of its data
    for line in base_notes(settings, derived, graphs) + access_notes(app, graphs):
        echo(line)
    echo("stop with Ctrl-C")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()  # returns on KeyboardInterrupt / SystemExit
    finally:
        server.close()
        service.close()


def options(settings: Settings) -> dict[str, Any]:
    """Return waitress's settings: threads for what the query service admits, the proxy."""
    admitted = settings.query_workers + settings.fast_lane_workers + 1 + 2 * settings.queue_size
    found: dict[str, Any] = {
        "threads": admitted + SPARE_THREADS,
        "connection_limit": max(100, 4 * admitted),
        "channel_timeout": max(120, 2 * (settings.query_timeout + settings.queue_wait)),
    }
    if settings.trusted_proxy:
        found.update(
            trusted_proxy=settings.trusted_proxy,
            trusted_proxy_count=1,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
            clear_untrusted_proxy_headers=True,
        )
    return found


def base_notes(settings: Settings, derived: bool, graphs: list[str]) -> list[str]:
    """Say which base IRI the IRIs and links use, and whether the store's data was minted
    under another one (its /id/ pages and catalogue are then not found here).

    The bases are read from the names of the provenance graphs (``{base}graph/provenance``),
    which the engine lists without reading any data: the start-up costs the same whatever the
    size of the store (a query for the graphs that hold a triple took 26 s on a million
    instances).
    """
    base = settings.base_iri
    if derived:
        lines = [
            f"base_iri not set: IRIs and links use {base}, derived from the address this server "
            "listens on (set base_iri to the server's public URL)"
        ]
    else:
        lines = [f"base_iri: {base}"]
    minted = sorted(
        {graph.removesuffix("graph/provenance") for graph in graphs if graph.endswith(PROVENANCE)}
    )
    if minted and base not in minted:
        lines.append(
            f"warning: the store's data was ingested under {', '.join(minted)}: its /id/ pages and "
            f"catalogue are not found under {base}; set base_iri to that base, or ingest again"
        )
    return lines


def _graphs(service: QueryService) -> list[str]:
    """Return the names of the store's named graphs (none if the store cannot answer now)."""
    try:
        return list(service.graph_names())
    except FairdicomError:
        return []


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
