"""The FAIR Data Point records as HTTP responses, shared by the FDP blueprint and ``/``.

Records are RDF only: Turtle unless the client asks for another RDF format (the FDP
specification makes Turtle the default), labelled with the bare media type
(``text/turtle``, no ``charset`` parameter: FDP clients compare the type as a whole).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response
from rdflib import Graph

from fairdicom import __version__
from fairdicom.catalog.fdp import root_record
from fairdicom.media_types import RDF, Format
from fairdicom.namespaces import DataIris
from fairdicom.web.catalog_cache import catalog_graph
from fairdicom.web.protocol import conditional_get, negotiate, settings

Build = Callable[[Graph, DataIris], Graph]


def record_response(build: Build, fmt: Format | None = None) -> Response:
    """Answer a record built from the catalogue graph, in ``fmt`` or the negotiated format."""
    chosen = fmt or negotiate(RDF)

    def respond() -> Response:
        record = build(catalog_graph(), DataIris(settings().base_iri))
        assert chosen.rdflib is not None  # every format of RDF has a serialiser
        response = Response(record.serialize(format=chosen.rdflib), content_type=chosen.media_type)
        response.vary.add("Accept")
        return response

    return conditional_get(respond)


def root_response(fmt: Format | None = None) -> Response:
    """Answer the FDP's own record (the metadata service and its catalogue)."""
    return record_response(
        lambda graph, iris: root_record(graph, iris, f"fairdicom {__version__}"), fmt
    )
