"""Dereferenceable Linked Data: ``/id/...`` for the IRIs the store mints, and ``/.well-known/void``.

Convention: data IRIs ``{base_iri}id/{kind}/{key}`` are slash IRIs served directly with
200 (no hash IRI, no 303 redirect): the document at an IRI is the description of the
resource it names, i.e. every triple with it as subject in any named graph plus the
``rdfs:label`` of its objects. Browsers (``Accept: text/html``) get an HTML page, other
clients Turtle by default, or any RDF format of :data:`fairdicom.media_types.RDF` (JSON-LD,
RDF/XML, N-Triples, N3, N-Quads, TriG) by ``Accept`` or ``?format=``, as at ``/sparql``;
``Link: rel="alternate"`` headers name the other formats. An IRI without triples is 404.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from werkzeug.exceptions import NotFound

from fairdicom import media_types
from fairdicom.catalog.graph import catalog_graph_iri
from fairdicom.media_types import DOCUMENT, HTML, RDF, Format
from fairdicom.namespaces import PREFIXES, DataIris
from fairdicom.sparql_files import sparql
from fairdicom.web.protocol import (
    conditional_get,
    iri_ref,
    negotiate,
    result_response,
    service,
    settings,
)

bp = Blueprint("linked_data", __name__, template_folder="templates")


@dataclass(frozen=True)
class Term:
    """One RDF term of the HTML page: its text, its link (if any) and its datatype."""

    text: str
    href: str | None = None
    datatype: str | None = None


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
    table = [
        (
            _term(row["p"]),
            _term(row["o"]),
            row.get("label", {}).get("value"),
            row.get("predicateLabel", {}).get("value"),
        )
        for row in rows
    ]
    alternates = [(other, _alternate(other)) for other in DOCUMENT if other != HTML]
    page = render_template("linked_data/resource.html", iri=iri, rows=table, alt=alternates)
    return _linked(Response(page, mimetype=HTML.media_type), fmt)


def _rows(text: str) -> list[dict[str, Any]]:
    result = service().query(text, accept=[media_types.SPARQL_JSON.media_type])
    bindings: list[dict[str, Any]] = json.loads(result.body)["results"]["bindings"]
    return bindings


def _rdf(text: str, fmt: Format) -> Response:
    result = service().query(text, accept=[fmt.media_type])
    return _linked(result_response(result.body, result.media_type, result.truncated), fmt)


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


def _term(binding: dict[str, str]) -> Term:
    """Return a SPARQL JSON term as page text: IRIs compacted and linked, literals typed."""
    value = binding["value"]
    if binding["type"] == "bnode":
        return Term(f"_:{value}")
    if binding["type"] != "uri":
        lang = binding.get("xml:lang")
        datatype = (
            f"@{lang}" if lang else _compact(binding.get("datatype", PREFIXES["xsd"] + "string"))
        )
        return Term(value, datatype=datatype)
    local = _base() + "id/"
    href = url_for(".resource", rest=value[len(local) :]) if value.startswith(local) else value
    return Term(_compact(value), href)


def _compact(iri: str) -> str:
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri
