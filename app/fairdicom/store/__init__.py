"""Stores: the one interface every reader and writer uses (:mod:`fairdicom.store.base`), and
its implementations, found by location.

:func:`locate` is the one place that maps a ``--store`` value to a backend: a directory is an
embedded Oxigraph store (:mod:`fairdicom.store.embedded`); a remote SPARQL 1.1 backend is added
here, by its URL scheme, and nothing above the store changes.
"""

from __future__ import annotations

from fairdicom.errors import StoreError
from fairdicom.store.base import Answer, Dataset, GraphStore, StaleView, StoreLocation
from fairdicom.store.embedded import EmbeddedLocation
from fairdicom.store.oxigraph_store import EmbeddedStore, MemoryStore, query_form


def locate(location: str) -> StoreLocation:
    """Return the store at a location: a directory (embedded Oxigraph) or an http(s) URL."""
    if location.startswith(("http://", "https://")):
        raise StoreError(
            f"{location}: remote SPARQL stores are not built yet; use a directory for --store"
        )
    return EmbeddedLocation(location)


def open_store(location: str, *, read_only: bool = False) -> GraphStore:
    """Open the store at a location (see :func:`locate`)."""
    return locate(location).open(read_only=read_only)


__all__ = [
    "Answer",
    "Dataset",
    "EmbeddedLocation",
    "EmbeddedStore",
    "GraphStore",
    "MemoryStore",
    "StaleView",
    "StoreLocation",
    "locate",
    "open_store",
    "query_form",
]
