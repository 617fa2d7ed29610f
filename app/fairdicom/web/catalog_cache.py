"""The catalogue graph as ``/catalog`` and ``/oai`` read it: parsed once per store generation.

Both blueprints serve the same ``{base}graph/catalog``; they share this module instead of
importing each other.
"""

from __future__ import annotations

import threading

from rdflib import Graph, Literal
from rdflib.term import Node

from fairdicom.catalog.graph import catalog_graph_iri
from fairdicom.namespaces import DataIris
from fairdicom.sparql_files import sparql
from fairdicom.web.protocol import service, settings

_cache: dict[str, tuple[str, Graph]] = {}
_cache_lock = threading.Lock()


def catalog_graph() -> Graph:
    """Return the catalogue graph of the current store generation (parsed once per change)."""
    generation = service().generation()
    key = settings().store
    with _cache_lock:
        cached = _cache.get(key)
        if cached and cached[0] == generation:
            return cached[1]
    graph_iri = catalog_graph_iri(DataIris(settings().base_iri))
    text = sparql(__file__, "catalog_graph").replace("$CATALOG", f"<{graph_iri}>")
    result = service().query(text, accept=["application/n-triples"])
    graph = Graph().parse(data=result.body.decode("utf-8"), format="nt")
    with _cache_lock:
        _cache[key] = (generation, graph)
    return graph


def closure(graph: Graph, start: Node, stop: set[Node], out: Graph) -> None:
    """Copy the triples of ``start`` and of the nodes it leads to, not entering ``stop``."""
    todo: list[Node] = [start]
    seen = {start}
    while todo:
        node = todo.pop()
        for p, o in graph.predicate_objects(node):
            out.add((node, p, o))
            if not isinstance(o, Literal) and o not in seen and o not in stop:
                seen.add(o)
                todo.append(o)
