"""``/sparql``: the SPARQL 1.1 Protocol (query and update) and the service description.

Query by GET (``query=``), by POST form or by POST ``application/sparql-query``; update by
POST form (``update=``) or POST ``application/sparql-update`` with the admin bearer token.
Without a query, GET answers the service description (Turtle unless asked otherwise), or sends
a browser that prefers HTML (a link to the endpoint followed from a page) to the query page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import UnsupportedMediaType

from fairdicom import media_types
from fairdicom.errors import UsageError
from fairdicom.sparql_files import sparql
from fairdicom.web.protocol import (
    accepted,
    body_type,
    conditional_get,
    decode_utf8,
    iri_ref,
    require_admin,
    result_response,
    service,
    settings,
    urlencoded,
)

bp = Blueprint("sparql", __name__)

FORM = "application/x-www-form-urlencoded"
QUERY_TYPE = "application/sparql-query"
UPDATE_TYPE = "application/sparql-update"
QUERY_DATASET = ("default-graph-uri", "named-graph-uri")
UPDATE_DATASET = ("using-graph-uri", "using-named-graph-uri")


@dataclass(frozen=True)
class Operation:
    """One protocol request: a query or an update, its text and its parameters."""

    kind: str
    text: str
    params: MultiDict[str, str]


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint() -> Response:
    """Run the query or update of the request, or describe the service."""
    params = urlencoded(request.query_string)
    if request.method == "POST":
        operation = _posted(params)
    else:
        if "update" in params:
            raise UsageError("an update must be sent by POST, not GET")
        if "query" not in params:
            if _prefers_html(params):
                return Response(status=303, headers={"Location": url_for("pages.query")})
            return conditional_get(lambda: _service_description(params))
        operation = _operation(params)
        return conditional_get(lambda: _query(operation))
    if operation.kind == "update":
        return _update(operation)
    return _query(operation)


def _prefers_html(params: MultiDict[str, str]) -> bool:
    """Return whether the client asks for HTML before any RDF format (a browser)."""
    if params.getlist("format"):
        return False
    offered = [fmt.media_type for fmt in media_types.RDF]
    return request.accept_mimetypes.best_match([*offered, "text/html"]) == "text/html"


def _posted(params: MultiDict[str, str]) -> Operation:
    mimetype, _ = body_type()
    if mimetype == FORM:
        form = urlencoded(request.get_data(), "the form")
        for key, values in form.lists():
            params.setlist(key, params.getlist(key) + values)
        return _operation(params)
    if mimetype in (QUERY_TYPE, UPDATE_TYPE):
        if "query" in params or "update" in params:
            raise UsageError(f"a {mimetype} body cannot come with query= or update= too")
        kind = "query" if mimetype == QUERY_TYPE else "update"
        return _checked(Operation(kind, decode_utf8(request.get_data(), f"the {kind}"), params))
    raise UnsupportedMediaType(
        f"POST {mimetype} is not supported: send {FORM}, {QUERY_TYPE} or {UPDATE_TYPE}"
    )


def _operation(params: MultiDict[str, str]) -> Operation:
    queries, updates = params.getlist("query"), params.getlist("update")
    if queries and updates:
        raise UsageError("a request carries either query= or update=, not both")
    if len(queries) + len(updates) != 1:
        raise UsageError("give exactly one query= or update= parameter")
    kind = "query" if queries else "update"
    return _checked(Operation(kind, (queries or updates)[0], params))


def _checked(operation: Operation) -> Operation:
    wrong = UPDATE_DATASET if operation.kind == "query" else QUERY_DATASET
    for name in wrong:
        if name in operation.params:
            raise UsageError(f"{name} does not apply to a SPARQL {operation.kind}")
    return operation


def _query(operation: Operation) -> Response:
    result = service().query(
        operation.text,
        accept=accepted(operation.params.getlist("format")),
        default_graphs=operation.params.getlist("default-graph-uri"),
        named_graphs=operation.params.getlist("named-graph-uri"),
    )
    response = result_response(result.body, result.media_type, result.truncated)
    response.vary.add("Accept")
    return response


def _update(operation: Operation) -> Response:
    require_admin()
    service().update(
        operation.text,
        using_graphs=operation.params.getlist("using-graph-uri"),
        using_named_graphs=operation.params.getlist("using-named-graph-uri"),
    )
    return Response(status=204)


def _service_description(params: MultiDict[str, str]) -> Response:
    """Describe the endpoint, its formats and its default dataset with triple counts."""
    feature = "sd:UnionDefaultGraph" if settings().union_default_graph else "UNDEF"
    formats = (fmt.w3c for fmt in (*media_types.RESULTS, *media_types.RDF) if fmt.w3c)
    text = (
        sparql(__file__, "service_description")
        .replace("$ENDPOINT", iri_ref(request.base_url))
        .replace("$FEATURE", feature)
        .replace("$FORMATS", " ".join(sorted({iri_ref(iri) for iri in formats})))
    )
    result = service().query(text, accept=accepted(params.getlist("format")))
    response = result_response(result.body, result.media_type)
    response.vary.add("Accept")
    return response
