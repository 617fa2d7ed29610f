"""The web application: the app factory, its one error handler, CORS and gzip.

Blueprints: :mod:`fairdicom.web.pages` (``/``, the query page), :mod:`fairdicom.web.sparql`
(``/sparql``, SPARQL 1.1 Protocol and service description), :mod:`fairdicom.web.graph_store`
(``/store``, Graph Store HTTP Protocol), :mod:`fairdicom.web.linked_data` (``/id/...``,
dereferenceable resources, and ``/.well-known/void``), :mod:`fairdicom.web.catalog` (``/catalog``,
DCAT-AP with Hydra paging) and :mod:`fairdicom.web.oai` (``/oai``, OAI-PMH 2.0).
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
from fairdicom.query.service import QueryService
from fairdicom.web import catalog, graph_store, linked_data, oai, pages, sparql
from fairdicom.web.protocol import SERVICE_KEY, SETTINGS_KEY

GZIP_MIN_BYTES = 1024
COMPRESSIBLE = ("text/", "application/", "image/svg+xml")
INCOMPRESSIBLE = ("application/gzip", "application/zip", "application/octet-stream")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, Location, Content-Length, Fairdicom-Truncated",
}
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept, If-None-Match",
    "Access-Control-Max-Age": "86400",
}


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
    app.register_error_handler(FairdicomError, render_error)
    app.register_error_handler(HTTPException, render_error)
    app.after_request(compress)  # after_request hooks run last-registered first
    app.after_request(cors)
    return app


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
        headers.append(("Retry-After", "2"))
    if request.accept_mimetypes.best_match(["application/json", "text/plain"]) == "text/plain":
        response = Response(f"{status} {title}: {detail}\n", status, mimetype="text/plain")
    else:
        error = {"status": status, "title": title, "detail": detail}
        response = Response(json.dumps({"error": error}), status, mimetype="application/json")
    response.headers.extend(headers)
    return response


def cors(response: Response) -> Response:
    """Let browser pages on any origin read responses; answer preflight requests."""
    response.headers.update(CORS_HEADERS)
    if request.method == "OPTIONS":
        response.headers.update(PREFLIGHT_HEADERS)
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
