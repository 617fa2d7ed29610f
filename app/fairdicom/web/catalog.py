"""``/catalog``: the DCAT-AP + HealthDCAT-AP catalogue, Hydra-paged, by content negotiation.

The catalogue graph ``{base}graph/catalog`` is written by ``fairdicom catalog``; this
blueprint only reads it (one CONSTRUCT, parsed once per store generation). ``/catalog``
returns one page of datasets (``?page=N&pageSize=M``, default size 100) with the
``hydra:PartialCollectionView`` harvesters such as piveau and ckanext-dcat follow
(``hydra:first``, ``hydra:next``, ``hydra:last`` as IRIs, ``hydra:totalItems`` on the
catalogue). ``/catalog/dataset/<slug>`` is the dataset's landing page (HTML with schema.org
JSON-LD) or its RDF, and ``.../dump.nq.gz`` its gzip N-Quads dump.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, send_file
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, RDF
from werkzeug.exceptions import NotFound

from fairdicom.catalog.dump import dump_path
from fairdicom.catalog.fdp import add_record_metadata, served_page
from fairdicom.catalog.graph import catalog_iri
from fairdicom.catalog.landing import breakdown, catalog_rows, dataset_view, schema_org
from fairdicom.catalog.served import DEFAULT_PAGE_SIZE, catalog_page, dataset_document
from fairdicom.errors import UsageError
from fairdicom.media_types import DOCUMENT, HTML, SPARQL_JSON, Format
from fairdicom.namespaces import DataIris
from fairdicom.sparql_files import sparql
from fairdicom.web.auth import request_scope
from fairdicom.web.catalog_cache import catalog_graph
from fairdicom.web.protocol import conditional_get, iri_ref, negotiate, service, settings

bp = Blueprint("catalog", __name__, template_folder="templates")

MAX_PAGE_SIZE = 1000


@bp.route("/catalog")
def catalog() -> Response:
    """Return one Hydra page of the catalogue in the negotiated format."""
    fmt = negotiate(DOCUMENT)
    page, size = _int_arg("page", 1, None), _int_arg("pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    return conditional_get(lambda: _catalog_page(fmt, page, size))


@bp.route("/catalog/dataset/<slug>")
def dataset(slug: str) -> Response:
    """Return a dataset's landing page (HTML) or its description (RDF)."""
    fmt = negotiate(DOCUMENT)
    return conditional_get(lambda: _dataset(slug, fmt))


@bp.route("/catalog/dataset/<slug>/dump.nq.gz")
def dump(slug: str) -> Response:
    """Send the dataset's gzip N-Quads dump written by ``fairdicom catalog``."""
    graph, iris = catalog_graph(), _iris()
    path = dump_path(settings().data_folder, slug)
    if not request_scope().may_read_dataset(slug):  # 404, not 403: say nothing of it
        raise NotFound(f"no dump of a dataset {slug!r} in the catalogue")
    if (URIRef(iris.dataset(slug)), RDF.type, DCAT.Dataset) not in graph or not path.is_file():
        raise NotFound(f"no dump of a dataset {slug!r} in the catalogue")
    return send_file(Path(path), mimetype="application/gzip", download_name=f"{slug}.nq.gz")


def _iris() -> DataIris:
    return DataIris(settings().base_iri)


def _int_arg(name: str, default: int, most: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1 or (most is not None and int(raw) > most):
        limit = f" and at most {most}" if most else ""
        raise UsageError(f"{name} must be a whole number at least 1{limit}, not {raw!r}")
    return int(raw)


def _respond(graph: Graph, fmt: Format) -> Response:
    if fmt.rdflib is None:
        raise TypeError(f"{fmt.label} is not an RDF format")
    body = graph.serialize(format=fmt.rdflib)
    response = Response(body, mimetype=fmt.media_type)
    response.vary.add("Accept")
    return response


def _catalog_page(fmt: Format, number: int, size: int) -> Response:
    graph, iris = catalog_graph(), _iris()
    if (URIRef(catalog_iri(iris)), RDF.type, DCAT.Catalog) not in graph:
        raise NotFound("the store has no catalogue yet: run `fairdicom catalog`")
    page = served_page(graph, iris, number, size)
    if page is None:
        last = catalog_page(graph, iris, 1, size)
        raise NotFound(f"page {number} is past the last page ({last.last if last else 1})")
    if fmt != HTML:
        return _respond(page.graph, fmt)
    pages = {"first": 1, "previous": number - 1 if number > 1 else None, "last": page.last}
    pages["next"] = number + 1 if number < page.last else None
    rows = catalog_rows(graph, page.datasets)
    page_html = render_template(
        "catalog/catalog.html", rows=rows, total=page.total, page=number, size=size, pages=pages
    )
    return Response(page_html, mimetype=HTML.media_type)


def _dataset(slug: str, fmt: Format) -> Response:
    graph, iris = catalog_graph(), _iris()
    node = URIRef(iris.dataset(slug))
    if (node, RDF.type, DCAT.Dataset) not in graph:
        raise NotFound(f"no dataset {slug!r} in the catalogue")
    if fmt != HTML:
        document = dataset_document(graph, iris, node)
        return _respond(add_record_metadata(document, graph, iris, part_of_root=False), fmt)
    view = dataset_view(graph, node, iris)
    readable = request_scope().may_read_dataset(slug)
    if readable:  # figures of the records themselves: only for those who may read them
        view.breakdown = breakdown(_bindings(slug, iris))
    json_ld = schema_org(view)
    page = render_template(
        "catalog/dataset.html",
        view=view,
        json_ld=json_ld,
        readable=readable,
        explore=f"{request.script_root}/explore?{urlencode({'dataset': slug})}",
    )
    return Response(page, mimetype=HTML.media_type)


def _bindings(slug: str, iris: DataIris) -> list[dict[str, dict[str, str]]]:
    """Run the landing page's per-modality and per-body-part query in the caller's scope."""
    text = sparql(__file__, "landing_breakdown").replace(
        "$CURATED", iri_ref(iris.graph(slug, "curated"))
    )
    result = service().query(text, accept=[SPARQL_JSON.media_type])
    rows: list[dict[str, dict[str, str]]] = json.loads(result.body)["results"]["bindings"]
    return rows
