"""The web application: the app factory, its one error handler, CORS, security headers, gzip.

Blueprints: :mod:`fairdicom.web.pages` (``/``, the query page), :mod:`fairdicom.web.sparql`
(``/sparql``, SPARQL 1.1 Protocol and service description), :mod:`fairdicom.web.graph_store`
(``/store``, Graph Store HTTP Protocol), :mod:`fairdicom.web.linked_data` (``/id/...``,
dereferenceable resources, and ``/.well-known/void``), :mod:`fairdicom.web.catalog` (``/catalog``,
DCAT-AP with Hydra paging), :mod:`fairdicom.web.oai` (``/oai``, OAI-PMH 2.0) and
:mod:`fairdicom.web.status` (``/status``: limits, queues and counters, JSON or Prometheus text),
:mod:`fairdicom.web.fdp` (``/fdp``, the FAIR Data Point's records; ``/`` too, for RDF clients),
:mod:`fairdicom.web.curation` (``/mappings``, ``/mappings/coverage``, ``/admin/remap``),
:mod:`fairdicom.web.explore` (``/explore``, the cohort explorer, and its downloads).

Every request is attributed to a client (its address, or the admin token's holder) for the
query service's per-client limits; requests of the Linked Data, catalogue and OAI-PMH pages
take the query service's fast lane. Reads are open to pages of every origin (CORS); writes only
to the origins of ``cors_write_origins``. Every response says ``X-Content-Type-Options:
nosniff`` and ``Referrer-Policy: same-origin``; every HTML page carries a Content-Security-Policy
that allows no inline script.
"""

from __future__ import annotations

import atexit
import gzip
import json
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from fairdicom.config import Settings, load_settings
from fairdicom.errors import FairdicomError, StoreBusy
from fairdicom.query.admission import FAST_PAGE, REQUESTER
from fairdicom.query.service import QueryService
from fairdicom.web import (
    auth,
    catalog,
    curation,
    explore,
    fdp,
    graph_store,
    linked_data,
    oai,
    pages,
    protocol,
    sparql,
    status,
)
from fairdicom.web.protocol import SERVICE_KEY, SETTINGS_KEY

GZIP_MIN_BYTES = 1024
COMPRESSIBLE = ("text/", "application/", "image/svg+xml")
INCOMPRESSIBLE = ("application/gzip", "application/zip", "application/octet-stream")
EXPOSED = "ETag, Location, Content-Length, Fairdicom-Truncated, Retry-After"
READ_METHODS = "GET, HEAD, POST, OPTIONS"
READ_HEADERS = "Content-Type, Accept, If-None-Match"
WRITE_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
WRITE_HEADERS = "Authorization, Content-Type, Accept, If-None-Match"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""The policy of every HTML page: scripts, styles and requests of this origin only, no inline
script (a ``javascript:`` link in a page is inert), no framing."""
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
FAST_BLUEPRINTS = frozenset({"linked_data", "catalog", "oai", "fdp"})
"""The blueprints whose pages the query service answers in its fast lane."""


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """Create the Flask app with one query service over the configured store."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
    )
    if test_config:
        app.config.from_mapping(test_config)
    query_service = QueryService(settings)
    atexit.register(query_service.close)
    app.extensions[SETTINGS_KEY] = settings
    app.extensions[SERVICE_KEY] = query_service
    app.register_blueprint(pages.bp)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(graph_store.bp)
    app.register_blueprint(linked_data.bp)
    app.register_blueprint(catalog.bp)
    app.register_blueprint(oai.bp)
    app.register_blueprint(fdp.bp)
    app.register_blueprint(status.bp)
    app.register_blueprint(curation.bp)
    app.register_blueprint(explore.bp)
    app.register_error_handler(FairdicomError, render_error)
    app.register_error_handler(HTTPException, render_error)
    app.before_request(attribute)
    app.after_request(compress)  # after_request hooks run last-registered first
    app.after_request(secure)
    app.after_request(cors)
    auth.init_app(app, settings)  # registered last: its audit sees the body before gzip
    return app


def attribute() -> None:
    """Name the request's client and lane for the query service."""
    REQUESTER.set(protocol.client_key())
    FAST_PAGE.set(request.blueprint in FAST_BLUEPRINTS)


def render_error(exc: Exception) -> Response:
    """Render any error as ``{"error": {"status", "title", "detail"}}`` (or plain text)."""
    headers: list[tuple[str, str]] = []
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        detail = exc.description or ""
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    else:
        status = getattr(exc, "http_status", 500)
        detail = str(exc)
    title = HTTPStatus(status).phrase
    if status == 401:
        headers.append(("WWW-Authenticate", 'Bearer realm="fairdicom"'))
    if isinstance(exc, StoreBusy):
        headers.append(("Retry-After", str(exc.retry_after)))
    if request.accept_mimetypes.best_match(["application/json", "text/plain"]) == "text/plain":
        response = Response(f"{status} {title}: {detail}\n", status, mimetype="text/plain")
    else:
        error = {"status": status, "title": title, "detail": detail}
        response = Response(json.dumps({"error": error}), status, mimetype="application/json")
    response.headers.extend(headers)
    return response


def cors(response: Response) -> Response:
    """Let browser pages on any origin read; let only ``cors_write_origins`` write."""
    origin = request.headers.get("Origin", "")
    writer = bool(origin) and origin in protocol.settings().cors_write_origins
    response.vary.add("Origin")
    if writer:
        response.headers["Access-Control-Allow-Origin"] = origin
    elif _is_write():
        return response  # no CORS headers: the browser keeps the answer from the page
    else:
        response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = WRITE_METHODS if writer else READ_METHODS
        response.headers["Access-Control-Allow-Headers"] = WRITE_HEADERS if writer else READ_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def _is_write() -> bool:
    """Return whether the request writes or tries to: it changes a resource, is an update, or
    carries a token (which every write needs)."""
    return (
        request.method in ("PUT", "DELETE", "PATCH")
        or "Authorization" in request.headers
        or request.mimetype == "application/sparql-update"
    )


def secure(response: Response) -> Response:
    """Add the security headers; give HTML pages their Content-Security-Policy."""
    response.headers.update(SECURITY_HEADERS)
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def compress(response: Response) -> Response:
    """Gzip a large textual response when the client accepts gzip."""
    response.vary.add("Accept-Encoding")
    if (
        response.direct_passthrough
        or response.status_code < 200
        or response.status_code in (204, 304)
        or "Content-Encoding" in response.headers
        or request.accept_encodings.quality("gzip") <= 0
        or not (response.mimetype or "").startswith(COMPRESSIBLE)
        or (response.mimetype or "").startswith(INCOMPRESSIBLE)
    ):
        return response
    data = response.get_data()
    if len(data) < GZIP_MIN_BYTES:
        return response
    response.set_data(gzip.compress(data, compresslevel=5))
    response.headers["Content-Encoding"] = "gzip"
    return response
