"""Dereferenceable Linked Data: ``/id/...`` for the IRIs the store mints, and ``/.well-known/void``.

Convention: data IRIs ``{base_iri}id/{kind}/{key}`` are slash IRIs served directly with
200 (no hash IRI, no 303 redirect): the document at an IRI is the description of the
resource it names, i.e. every triple with it as subject in any named graph plus the
``rdfs:label`` of its objects. Browsers (``Accept: text/html``) get an HTML page, other
clients Turtle by default, or any RDF format of :data:`fairdicom.media_types.RDF` (JSON-LD,
RDF/XML, N-Triples, N3, N-Quads, TriG) by ``Accept`` or ``?format=``, as at ``/sparql``;
``Link: rel="alternate"`` headers name the other formats. An IRI without triples is 404.
The HTML page is made for browsing (:mod:`fairdicom.web.linked_data_page`): breadcrumbs, the
curated properties, the resources below it paged with ``?page=N``, the raw DICOM attributes.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from werkzeug.exceptions import NotFound

from fairdicom import media_types
from fairdicom.catalog.graph import catalog_graph_iri
from fairdicom.errors import UsageError
from fairdicom.media_types import DOCUMENT, HTML, RDF, Format
from fairdicom.namespaces import DataIris
from fairdicom.sparql_files import sparql
from fairdicom.web.linked_data_page import (
    CHILDREN,
    PAGE_SIZE,
    Children,
    breadcrumbs,
    children_page,
    kind_name,
    references,
    short_key,
    split_rows,
)
from fairdicom.web.protocol import (
    conditional_get,
    iri_ref,
    negotiate,
    result_response,
    service,
    settings,
)

bp = Blueprint("linked_data", __name__, template_folder="templates")


@bp.route("/id/<path:rest>")
def resource(rest: str) -> Response:
    """Describe the resource ``{base_iri}id/{rest}`` in the negotiated format."""
    iri = _base() + "id/" + rest
    fmt = negotiate(DOCUMENT)
    return conditional_get(lambda: _describe(iri, fmt))


@bp.route("/.well-known/void")
def void() -> Response:
    """Describe the store as a VoID dataset in the negotiated RDF format."""
    fmt = negotiate(RDF)
    base = _base()
    text = (
        sparql(__file__, "void")
        .replace("$DATASET", iri_ref(base + ".well-known/void#store"))
        .replace("$ENDPOINT", iri_ref(base + "sparql"))
        .replace("$URISPACE", json.dumps(base + "id/"))
        .replace("$CATALOG", iri_ref(catalog_graph_iri(DataIris(base))))
    )
    return conditional_get(lambda: _rdf(text, fmt))


def _base() -> str:
    base = settings().base_iri
    return base if base.endswith("/") else base + "/"


def _describe(iri: str, fmt: Format) -> Response:
    """Answer the description of one IRI, or 404 when the store says nothing of it."""
    resource = iri_ref(iri)
    rows = _rows(sparql(__file__, "describe_rows").replace("$RESOURCE", resource))
    if not rows:
        if fmt == HTML:
            page = render_template("linked_data/not_found.html", iri=iri)
            return _linked(Response(page, 404, mimetype=HTML.media_type), fmt)
        raise NotFound(f"the store has no triple about {iri}")
    if fmt != HTML:
        return _rdf(sparql(__file__, "describe").replace("$RESOURCE", resource), fmt)
    page = render_template("linked_data/resource.html", **_page(iri, resource, rows))
    return _linked(Response(page, mimetype=HTML.media_type), fmt)


def _rows(text: str) -> list[dict[str, Any]]:
    result = service().query(text, accept=[media_types.SPARQL_JSON.media_type])
    bindings: list[dict[str, Any]] = json.loads(result.body)["results"]["bindings"]
    return bindings


def _rdf(text: str, fmt: Format) -> Response:
    result = service().query(text, accept=[fmt.media_type])
    return _linked(result_response(result.body, result.media_type, result.truncated), fmt)


def _page(iri: str, resource: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Collect what the HTML page of a resource shows (every query in the caller's scope)."""
    curated, raw, _ = split_rows(rows, _link)
    ancestry = _rows(sparql(__file__, "ancestors").replace("$RESOURCE", resource))
    crumbs, cls, slug = breadcrumbs(ancestry, iri, _link, _dataset_link)
    children = None
    if cls in CHILDREN:
        name, up, query = CHILDREN[cls]
        count = sparql(__file__, "child_count").replace("$LINK", iri_ref(up))
        (total,) = _rows(count.replace("$RESOURCE", resource))
        children = _children(name, query, resource, int(total["n"]["value"]))
    referenced = _rows(sparql(__file__, "referenced_by").replace("$RESOURCE", resource))
    alternates = [(other, _alternate(other)) for other in DOCUMENT if other != HTML]
    return {
        "iri": iri,
        "kind": kind_name(cls, iri),
        "key": short_key(iri),
        "rows": curated,
        "raw": raw,
        "crumbs": crumbs,
        "children": children,
        "references": references(referenced, iri, _link),
        "dataset": slug,
        "alt": alternates,
        "query_url": url_for("pages.query"),
    }


def _children(name: str, query: str, resource: str, total: int) -> Children:
    """Read the page of the resources below this one that ``?page=`` asks for."""
    raw = request.args.get("page", "1")
    last = max(1, -(-total // PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= last:
        raise UsageError(f"page must be a whole number from 1 to {last}, not {raw!r}")
    page = int(raw)
    text = (
        sparql(__file__, query)
        .replace("$RESOURCE", resource)
        .replace("$LIMIT", str(PAGE_SIZE))
        .replace("$OFFSET", str((page - 1) * PAGE_SIZE))
    )
    return children_page(name, total, page, _rows(text), _link)


def _link(iri: str) -> str:
    """Return the link of an IRI: its ``/id/`` page on this server when it is one of ours."""
    local = _base() + "id/"
    return url_for(".resource", rest=iri[len(local) :]) if iri.startswith(local) else iri


def _dataset_link(slug: str) -> str:
    return url_for("catalog.dataset", slug=slug)


def _alternate(fmt: Format) -> str:
    return f"{request.base_url}?format={fmt.short}"


def _linked(response: Response, fmt: Format) -> Response:
    """Add ``Link: rel="alternate"`` headers for the other formats, and ``Vary: Accept``."""
    offered = DOCUMENT if request.endpoint == "linked_data.resource" else RDF
    for other in offered:
        if other != fmt:
            link = f'<{_alternate(other)}>; rel="alternate"; type="{other.media_type}"'
            response.headers.add("Link", link)
    response.vary.add("Accept")
    return response
