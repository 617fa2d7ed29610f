"""The catalogue graph as ``/catalog``, ``/oai`` and the FAIR Data Point serve it: read from the
store, typed as the profiles demand (:func:`fairdicom.catalog.served.served_catalog`), parsed
once per store generation.

The blueprints serve the same ``{base}graph/catalog``; they share this module instead of
importing each other.
"""

from __future__ import annotations

import threading

from rdflib import Graph

from fairdicom.catalog.graph import catalog_graph_iri
from fairdicom.catalog.served import served_catalog
from fairdicom.namespaces import DataIris
from fairdicom.sparql_files import sparql
from fairdicom.web.protocol import service, settings

_cache: dict[str, tuple[str, Graph]] = {}
_cache_lock = threading.Lock()


def catalog_graph() -> Graph:
    """Return the catalogue graph of the current store generation (parsed once per change)."""
    generation = service().generation()
    key = f"{settings().store}\n{settings().base_iri}"
    with _cache_lock:
        cached = _cache.get(key)
        if cached and generation is not None and cached[0] == generation:
            return cached[1]
    graph_iri = catalog_graph_iri(DataIris(settings().base_iri))
    text = sparql(__file__, "catalog_graph").replace("$CATALOG", f"<{graph_iri}>")
    result = service().query(text, accept=["application/n-triples"])
    graph = served_catalog(Graph().parse(data=result.body.decode("utf-8"), format="nt"))
    if generation is not None:  # a store that cannot tell its changes is read every time
        with _cache_lock:
            _cache[key] = (generation, graph)
    return graph

