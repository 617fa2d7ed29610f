"""The engine's serialisers for the registry's formats.

The formats themselves are declared once, in :mod:`fairdicom.media_types`, and which of them
each query form offers in :mod:`fairdicom.store.base`; this module only says which pyoxigraph
format writes each of them (looked up by registry name, so that the store stays the only user
of pyoxigraph).
"""

from __future__ import annotations

import pyoxigraph as ox

from fairdicom import media_types

_ENGINE: dict[str, ox.RdfFormat | ox.QueryResultsFormat] = {
    "sparql-json": ox.QueryResultsFormat.JSON,
    "sparql-xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "jsonld": ox.RdfFormat.JSON_LD,
    "n3": ox.RdfFormat.TURTLE,  # Turtle is N3 too; the engine's N3 writer writes N-Triples
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
}
"""The engine's writer of each registry format, by registry name."""
_NAMES = {fmt.media_type: fmt.name for fmt in media_types.FORMATS}


def rdf_format(name: str) -> ox.RdfFormat:
    """Return the engine's writer of the RDF format with this registry name or media type."""
    found = _ENGINE.get(_NAMES.get(name, name))
    if not isinstance(found, ox.RdfFormat):
        raise KeyError(f"{name} is not an RDF format")
    return found


def results_format(name: str) -> ox.QueryResultsFormat:
    """Return the engine's writer of the results format with this registry name or media type."""
    found = _ENGINE.get(_NAMES.get(name, name))
    if not isinstance(found, ox.QueryResultsFormat):
        raise KeyError(f"{name} is not a SPARQL results format")
    return found


RESULT_FORMATS = {fmt.media_type: results_format(fmt.name) for fmt in media_types.RESULTS}
"""The engine's writer of each results format, by the media type a reply is labelled with."""
RDF_FORMATS = {fmt.media_type: rdf_format(fmt.name) for fmt in media_types.RDF}
"""The engine's writer of each RDF format, by the media type a reply is labelled with."""
