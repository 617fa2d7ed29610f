"""The FAIR Data Point (FDP specification v1.0, FDP-O v1.1): its records, RDF only.

``/fdp`` is the FDP's own record (also ``/`` for clients that ask for RDF; browsers get the
query page there); ``/catalog/<id>`` the catalogue's (``<id>`` is its ``dct:identifier``),
``/dataset/<slug>`` and ``/distribution/<key>`` those of a dataset and a distribution, as the
FDP reference implementation and its clients name them. Each record is Turtle by default and
carries the FDP metadata and LDP navigation of :mod:`fairdicom.catalog.fdp`.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF
from werkzeug.exceptions import NotFound

from fairdicom.catalog.fdp import catalog_record, resource_record
from fairdicom.catalog.graph import catalog_iri
from fairdicom.namespaces import DataIris
from fairdicom.web.fdp_records import record_response, root_response

bp = Blueprint("fdp", __name__)


@bp.route("/fdp")
def root() -> Response:
    """Return the FDP's own record."""
    return root_response()


@bp.route("/catalog/<identifier>")
def catalog(identifier: str) -> Response:
    """Return the FDP record of the catalogue whose ``dct:identifier`` is ``identifier``."""

    def build(graph: Graph, iris: DataIris) -> Graph:
        cat = URIRef(catalog_iri(iris))
        if (cat, DCTERMS.identifier, Literal(identifier)) not in graph:
            raise NotFound(f"no catalogue {identifier!r}: the FDP root (/fdp) names its catalogue")
        return catalog_record(graph, iris)

    return record_response(build)


@bp.route("/dataset/<slug>")
def dataset(slug: str) -> Response:
    """Return the FDP record of one dataset of the catalogue."""
    return _resource(lambda iris: iris.dataset(slug), DCAT.Dataset, f"no dataset {slug!r}")


@bp.route("/distribution/<key>")
def distribution(key: str) -> Response:
    """Return the FDP record of one distribution of the catalogue."""
    missing = f"no distribution {key!r}"
    return _resource(lambda iris: iris.resource("distribution", key), DCAT.Distribution, missing)


def _resource(iri: Callable[[DataIris], str], cls: URIRef, missing: str) -> Response:
    def build(graph: Graph, iris: DataIris) -> Graph:
        node = URIRef(iri(iris))
        if (node, RDF.type, cls) not in graph:
            raise NotFound(f"{missing} in the catalogue")
        return resource_record(graph, iris, node)

    return record_response(build)
