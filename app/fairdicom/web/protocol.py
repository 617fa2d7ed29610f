"""HTTP helpers of the SPARQL and Graph Store blueprints: parameters, conneg, auth, ETags."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl, quote

from flask import Response, current_app, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.http import parse_options_header

from fairdicom import media_types
from fairdicom.access import SCOPE
from fairdicom.config import Settings
from fairdicom.errors import Forbidden, Unauthorized, UsageError
from fairdicom.media_types import Format
from fairdicom.query.service import QueryService

SETTINGS_KEY = "fairdicom.settings"
SERVICE_KEY = "fairdicom.query"
UTF8 = ("utf-8", "utf8", "us-ascii", "ascii")


def settings() -> Settings:
    """Return the settings of the running app."""
    value: Settings = current_app.extensions[SETTINGS_KEY]
    return value


def service() -> QueryService:
    """Return the app's one query service."""
    value: QueryService = current_app.extensions[SERVICE_KEY]
    return value


def decode_utf8(data: bytes, what: str) -> str:
    """Decode a request body as UTF-8, or refuse it with 400."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} is not UTF-8: {exc.reason} at byte {exc.start}") from None


def urlencoded(data: bytes, what: str = "the query string") -> MultiDict[str, str]:
    """Parse ``application/x-www-form-urlencoded`` data strictly as UTF-8 (400 otherwise)."""
    try:
        pairs = parse_qsl(decode_utf8(data, what), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} is not percent-encoded UTF-8: {exc.reason}") from None
    return MultiDict(pairs)


def body_type() -> tuple[str, str | None]:
    """Return the media type of the request body and its charset (415 when a body has none)."""
    header = request.headers.get("Content-Type", "")
    if not header.strip():
        raise UnsupportedMediaType("the request body needs a Content-Type")
    mimetype, options = parse_options_header(header)
    charset = options.get("charset")
    if charset is not None and charset.lower() not in UTF8:
        raise UnsupportedMediaType(f"charset {charset} is not supported: send UTF-8")
    return mimetype.lower(), charset


def accepted(formats: Sequence[str]) -> list[str]:
    """Return what the client asks for, in its order: the ``format=`` values if any, else
    the entries of ``Accept`` (see :func:`fairdicom.media_types.negotiate`)."""
    return media_types.wishes(formats, request.headers.get("Accept"))


def bearer() -> str:
    """Return the bearer token of the request ("" when it has none)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def is_admin(given: str) -> bool:
    """Return whether ``given`` is the admin token (compared in constant time)."""
    token = settings().admin_token
    return bool(token and given) and hmac.compare_digest(given.encode(), token.encode())


def client_key() -> str:
    """Return who sends the request: the admin token's holder, or the client's address (the
    reverse proxy's ``X-Forwarded-For`` when ``trusted_proxy`` names it: see server.py)."""
    if is_admin(bearer()):
        return "admin"
    return f"address {request.remote_addr or 'unknown'}"


def require_admin() -> None:
    """Refuse a write unless it carries ``Authorization: Bearer <admin_token>``; a client that
    sent wrong tokens must wait longer after each one before its next is even compared."""
    if not settings().admin_token:
        raise Forbidden("writes over HTTP are disabled: set admin_token (FAIRDICOM_ADMIN_TOKEN)")
    given = bearer()
    if not given:
        raise Unauthorized("this write needs the header 'Authorization: Bearer <admin token>'")
    logins = service().logins
    client = f"address {request.remote_addr or 'unknown'}"
    logins.check(client)
    if not is_admin(given):
        logins.failed(client)
        raise Forbidden("the bearer token is not the admin token")
    logins.succeeded(client)


def iri_ref(iri: str) -> str:
    """Return ``<iri>`` with the characters SPARQL forbids in IRIs percent-encoded."""
    return "<" + quote(iri, safe=":/?#[]@!$&'()*+,;=%-._~") + ">"


def conditional_get(build: Callable[[], Response]) -> Response:
    """Answer a read of the store: 304 when If-None-Match holds the current ETag, else build.

    The ETag hashes the store generation with the request (URL and Accept), so it changes
    whenever the store does; ``Cache-Control: no-cache`` makes clients revalidate each time.
    It is weak because a gzipped body is the same representation.
    """
    generation = service().generation()
    if generation is None:  # the store cannot tell when it changes: no validator
        return build()
    scope = SCOPE.get().key  # what one principal sees, another may not
    key = "\n".join([generation, scope, request.url, request.headers.get("Accept", "")])
    tag = hashlib.sha256(key.encode()).hexdigest()[:32]
    if request.if_none_match.contains_weak(tag):
        response = Response(status=304)
    else:
        response = build()
        if response.status_code != 200:
            return response
    response.set_etag(tag, weak=True)
    response.headers["Cache-Control"] = "no-cache"
    response.vary.update(("Accept", "Accept-Encoding"))
    return response


def result_response(body: bytes, media_type: str, truncated: bool = False) -> Response:
    """Return a 200 response for a serialised result, flagging results cut at max_rows."""
    response = Response(body, status=200, mimetype=media_type.split(";")[0].strip())
    if ";" in media_type:
        response.headers["Content-Type"] = media_type
    if truncated:
        response.headers["Fairdicom-Truncated"] = str(settings().max_rows)
    return response


def negotiate(offered: Sequence[Format]) -> Format:
    """Return the format of ``offered`` that ``?format=`` or ``Accept`` asks for (the first
    one when the client says nothing); raise NotAcceptable naming the offer otherwise."""
    return media_types.negotiate(offered, accepted(request.args.getlist("format")))
