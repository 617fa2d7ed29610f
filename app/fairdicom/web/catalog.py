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

from pathlib import Path

from flask import Blueprint, Response, render_template, request, send_file
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, FOAF, RDF, XSD
from rdflib.term import Node
from werkzeug.exceptions import NotFound

from fairdicom.catalog.dump import dump_path
from fairdicom.catalog.graph import catalog_iri
from fairdicom.catalog.landing import catalog_rows, dataset_view, schema_org
from fairdicom.errors import UsageError
from fairdicom.media_types import DOCUMENT, HTML, Format
from fairdicom.namespaces import DataIris
from fairdicom.web.catalog_cache import catalog_graph, closure
from fairdicom.web.protocol import conditional_get, negotiate, settings

bp = Blueprint("catalog", __name__, template_folder="templates")

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
DEFAULT_PAGE_SIZE = 100
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
    path = dump_path(settings().store, slug)
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
    graph.bind("hydra", HYDRA)
    body = graph.serialize(format=fmt.rdflib)
    response = Response(body, mimetype=fmt.media_type)
    response.vary.add("Accept")
    return response


def _catalog_page(fmt: Format, page: int, size: int) -> Response:
    graph, iris = catalog_graph(), _iris()
    cat = URIRef(catalog_iri(iris))
    if (cat, RDF.type, DCAT.Catalog) not in graph:
        raise NotFound("the store has no catalogue yet: run `fairdicom catalog`")
    datasets: list[Node] = sorted(graph.objects(cat, DCAT.dataset), key=str)
    total = len(datasets)
    last = max(1, -(-total // size))
    if page > last:
        raise NotFound(f"page {page} is past the last page ({last})")
    chosen = datasets[(page - 1) * size : page * size]
    records = {r: graph.value(r, FOAF.primaryTopic) for r in graph.objects(cat, DCAT.record)}
    stop: set[Node] = {cat, *datasets, *records}
    out = Graph(namespace_manager=graph.namespace_manager)
    for p, o in graph.predicate_objects(cat):
        if (p == DCAT.dataset and o not in chosen) or (
            p == DCAT.record and records.get(o) not in chosen
        ):
            continue
        out.add((cat, p, o))
        if o not in stop and not isinstance(o, Literal):
            closure(graph, o, stop, out)
    for node in chosen:
        closure(graph, node, stop - {node}, out)
    for record, topic in records.items():
        if topic in chosen:
            closure(graph, record, stop - {record}, out)

    def link(n: int) -> URIRef:
        return URIRef(f"{cat}?page={n}&pageSize={size}")

    view = link(page)
    out.add((cat, RDF.type, HYDRA.Collection))
    out.add((cat, HYDRA.totalItems, Literal(total, datatype=XSD.integer)))
    out.add((cat, HYDRA.view, view))
    out.add((view, RDF.type, HYDRA.PartialCollectionView))
    out.add((view, HYDRA.first, link(1)))
    out.add((view, HYDRA.last, link(last)))
    if page < last:
        out.add((view, HYDRA.next, link(page + 1)))
    if page > 1:
        out.add((view, HYDRA.previous, link(page - 1)))
    if fmt != HTML:
        return _respond(out, fmt)
    pages = {"first": 1, "previous": page - 1 if page > 1 else None, "last": last}
    pages["next"] = page + 1 if page < last else None
    rows = catalog_rows(graph, [URIRef(str(d)) for d in chosen])
    page_html = render_template(
        "catalog/catalog.html", rows=rows, total=total, page=page, size=size, pages=pages
    )
    return Response(page_html, mimetype=HTML.media_type)


def _dataset(slug: str, fmt: Format) -> Response:
    graph, iris = catalog_graph(), _iris()
    node = URIRef(iris.dataset(slug))
    if (node, RDF.type, DCAT.Dataset) not in graph:
        raise NotFound(f"no dataset {slug!r} in the catalogue")
    if fmt != HTML:
        cat = URIRef(catalog_iri(iris))
        out = Graph(namespace_manager=graph.namespace_manager)
        others = set(graph.subjects(RDF.type, DCAT.Dataset)) - {node}
        closure(graph, node, {cat, *others}, out)
        for record in graph.subjects(FOAF.primaryTopic, node):
            closure(graph, record, {cat, node}, out)
        return _respond(out, fmt)
    view = dataset_view(graph, node, iris)
    json_ld = schema_org(view)
    return Response(
        render_template("catalog/dataset.html", view=view, json_ld=json_ld),
        mimetype=HTML.media_type,
    )
