"""Dereferenceable Linked Data: ``/id/...`` for the IRIs the store mints, and ``/.well-known/void``.

Convention: data IRIs ``{base_iri}id/{kind}/{key}`` are slash IRIs served directly with
200 (no hash IRI, no 303 redirect): the document at an IRI is the description of the
resource it names, i.e. every triple with it as subject in any named graph plus the
``rdfs:label`` of its objects. Browsers (``Accept: text/html``) get an HTML page, other
clients Turtle by default, or JSON-LD, RDF/XML or N-Triples by ``Accept`` or ``?format=``;
``Link: rel="alternate"`` headers name the other formats. An IRI without triples is 404.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from werkzeug.exceptions import NotFound

from app.namespaces import PREFIXES
from app.sparql_files import sparql
from app.web.protocol import (
    HTML,
    conditional_get,
    iri_ref,
    negotiate,
    result_response,
    service,
    settings,
)

bp = Blueprint("linked_data", __name__, template_folder="templates")

RDF_TYPES: dict[str, str] = {
    "text/turtle": "ttl",
    "application/ld+json": "jsonld",
    "application/rdf+xml": "rdf",
    "application/n-triples": "nt",
}
"""RDF media types offered, the default first, with their ``?format=`` names."""


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
    media_type = negotiate(["text/turtle", HTML, *list(RDF_TYPES)[1:]])
    return conditional_get(lambda: _describe(iri, media_type))


@bp.route("/.well-known/void")
def void() -> Response:
    """Describe the store as a VoID dataset in the negotiated RDF format."""
    media_type = negotiate(list(RDF_TYPES))
    base = _base()
    text = (
        sparql(__file__, "void")
        .replace("$DATASET", iri_ref(base + ".well-known/void#store"))
        .replace("$ENDPOINT", iri_ref(base + "sparql"))
        .replace("$URISPACE", json.dumps(base + "id/"))
    )
    return conditional_get(lambda: _rdf(text, media_type))


def _base() -> str:
    base = settings().base_iri
    return base if base.endswith("/") else base + "/"


def _describe(iri: str, media_type: str) -> Response:
    """Answer the description of one IRI, or 404 when the store says nothing of it."""
    resource = iri_ref(iri)
    rows = _rows(sparql(__file__, "describe_rows").replace("$RESOURCE", resource))
    if not rows:
        if media_type == HTML:
            page = render_template("linked_data/not_found.html", iri=iri)
            return _linked(Response(page, 404, mimetype=HTML), media_type)
        raise NotFound(f"the store has no triple about {iri}")
    if media_type != HTML:
        return _rdf(sparql(__file__, "describe").replace("$RESOURCE", resource), media_type)
    table = [(_term(row["p"]), _term(row["o"]), row.get("label", {}).get("value")) for row in rows]
    alternates = {name: f"{request.base_url}?format={name}" for name in RDF_TYPES.values()}
    page = render_template("linked_data/resource.html", iri=iri, rows=table, alt=alternates)
    return _linked(Response(page, mimetype=HTML), media_type)


def _rows(text: str) -> list[dict[str, Any]]:
    result = service().query(text, accept=["application/sparql-results+json"])
    bindings: list[dict[str, Any]] = json.loads(result.body)["results"]["bindings"]
    return bindings


def _rdf(text: str, media_type: str) -> Response:
    result = service().query(text, accept=[media_type])
    return _linked(result_response(result.body, result.media_type, result.truncated), media_type)


def _linked(response: Response, media_type: str) -> Response:
    """Add ``Link: rel="alternate"`` headers for the other formats, and ``Vary: Accept``."""
    types = dict(RDF_TYPES)
    if request.endpoint == "linked_data.resource":
        types[HTML] = "html"
    for other, name in types.items():
        if other != media_type:
            url = f"{request.base_url}?format={name}"
            response.headers.add("Link", f'<{url}>; rel="alternate"; type="{other}"')
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
