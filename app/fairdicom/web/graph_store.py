"""``/store``: the SPARQL 1.1 Graph Store HTTP Protocol.

``/store?default`` is the default graph, ``/store?graph=IRI`` a named graph (indirect), and
``/store/<path>`` the graph ``{base_iri}store/<path>`` (direct). GET and HEAD read; PUT
replaces, POST merges (also ``multipart/form-data``, one RDF document a part), DELETE drops;
writes need the admin bearer token. POST to ``/store`` itself creates a new graph.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote, urljoin

from flask import Blueprint, Response, request
from werkzeug.exceptions import NotFound, UnsupportedMediaType
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from fairdicom import media_types
from fairdicom.errors import UsageError
from fairdicom.web.protocol import (
    accepted,
    body_type,
    conditional_get,
    require_admin,
    result_response,
    service,
    settings,
    urlencoded,
)

bp = Blueprint("graph_store", __name__)

METHODS = ["GET", "PUT", "POST", "DELETE"]  # HEAD and OPTIONS come with them
MULTIPART = "multipart/form-data"


@bp.route("/store", methods=METHODS)
def indirect() -> Response:
    """Serve the default graph (``?default``), a named graph (``?graph=``), or the store."""
    params = urlencoded(request.query_string)
    if "default" in params and "graph" in params:
        raise UsageError("give either ?default or ?graph=IRI, not both")
    if "default" in params:
        return _serve(None)
    graphs = params.getlist("graph")
    if len(graphs) > 1:
        raise UsageError("give one ?graph=IRI")
    if graphs:
        return _serve(urljoin(settings().base_iri + "store", graphs[0]))
    if request.method == "POST":
        return _create()
    raise UsageError("name the graph: /store?default, /store?graph=IRI or /store/<path>")


@bp.route("/store/<path:path>", methods=METHODS)
def direct(path: str) -> Response:
    """Serve the graph whose IRI is ``{base_iri}store/<path>``."""
    if request.query_string:
        raise UsageError("a graph's own URL takes no ?default or ?graph= parameter")
    return _serve(direct_iri(path))


def direct_iri(path: str) -> str:
    """Return the IRI of the graph that ``/store/<path>`` identifies."""
    return settings().base_iri + "store/" + quote(path, safe="/:@!$&'()*+,;=-._~%")


def _serve(graph: str | None) -> Response:
    if request.method in ("GET", "HEAD"):
        return conditional_get(lambda: _get(graph))
    require_admin()
    if request.method == "DELETE":
        if not service().graph_delete(graph):
            raise NotFound(f"there is no graph {graph}")
        return Response(status=204)
    if request.method == "PUT":
        data, media_type = _document()
        return Response(status=201 if service().graph_put(graph, data, media_type) else 204)
    created = False
    for data, media_type in _documents():
        created = bool(service().graph_post(graph, data, media_type)) or created
    return Response(status=201 if created else 204)


def _get(graph: str | None) -> Response:
    result = service().graph_get(graph, accepted(request.args.getlist("format")))
    if result is None:
        raise NotFound(f"there is no graph {graph}")
    response = result_response(result.body, result.media_type, result.truncated)
    response.vary.add("Accept")
    return response


def _create() -> Response:
    require_admin()
    name = uuid.uuid4().hex
    for data, media_type in _documents():
        service().graph_post(direct_iri(name), data, media_type)
    response = Response(status=201)
    response.headers["Location"] = direct_iri(name)  # the graph's name: base_iri, not the Host
    return response


def _document() -> tuple[bytes, str]:
    """Return the RDF document of the request body and its media type (415 if not RDF)."""
    data = request.get_data()
    if not data and not request.headers.get("Content-Type"):
        return data, "application/n-triples"  # an empty body is an empty graph
    mimetype, _ = body_type()
    return data, _rdf_type(mimetype, f"{mimetype} is not an RDF format fairdicom reads")


def _documents() -> list[tuple[bytes, str]]:
    """Return the RDF documents of a POST: the body, or each part of a multipart body."""
    if request.mimetype != MULTIPART:
        return [_document()]
    boundary = request.mimetype_params.get("boundary")
    if not boundary:
        raise UsageError("a multipart/form-data body needs a boundary")
    decoder = MultipartDecoder(boundary.encode("latin-1"))
    decoder.receive_data(request.get_data())
    decoder.receive_data(None)
    documents: list[tuple[bytes, str]] = []
    chunks: list[bytes] = []
    part_type = ""
    try:
        event = decoder.next_event()
        while not isinstance(event, Epilogue | NeedData):
            if isinstance(event, Field | File):
                part_type, chunks = _part_type(event), []
            elif isinstance(event, Data):
                chunks.append(event.data)
                if not event.more_data:
                    documents.append((b"".join(chunks), part_type))
            event = decoder.next_event()
    except ValueError as exc:
        raise UsageError(f"the multipart/form-data body is malformed: {exc}") from None
    return documents


def _part_type(part: Field | File) -> str:
    """Return the RDF media type of one multipart part, from its header or file name."""
    mimetype, _ = parse_options_header(part.headers.get("Content-Type", ""))
    if not mimetype and isinstance(part, File):
        found = media_types.by_extension(part.filename.rsplit(".", 1)[-1], media_types.RDF)
        mimetype = found.media_type if found else ""
    return _rdf_type(mimetype, f"part {part.name!r} is not in an RDF format fairdicom reads")


def _rdf_type(mimetype: str, refusal: str) -> str:
    """Return the registry's media type of an RDF request body, or refuse it with 415."""
    found = media_types.find(mimetype, media_types.RDF) if "/" in mimetype else None
    if found is None:
        offer = ", ".join(fmt.media_type for fmt in media_types.RDF)
        raise UnsupportedMediaType(f"{refusal}: send one of {offer}")
    return found.media_type
