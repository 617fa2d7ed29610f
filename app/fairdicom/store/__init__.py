"""Stores: the one interface every reader and writer uses (:mod:`fairdicom.store.base`), and
its implementations, found by location.

:func:`locate` is the one place that maps a ``--store`` value to a backend: a directory is an
embedded Oxigraph store (:mod:`fairdicom.store.embedded`), an http(s) URL a remote SPARQL 1.1
engine (:mod:`fairdicom.store.remote_location`); nothing above the store changes.
"""

from __future__ import annotations

from fairdicom.config import Settings
from fairdicom.store.base import Answer, Dataset, GraphStore, StaleView, StoreLocation
from fairdicom.store.embedded import EmbeddedLocation
from fairdicom.store.oxigraph_store import EmbeddedStore, MemoryStore, query_form
from fairdicom.store.remote_location import RemoteLocation
from fairdicom.store.remote_store import RemoteStore


def locate(location: str | Settings) -> StoreLocation:
    """Return the store at a location: a directory (embedded Oxigraph) or an http(s) URL (a
    remote SPARQL 1.1 engine); given the settings, the store they name, with the endpoints
    and credentials of a remote one."""
    settings = location if isinstance(location, Settings) else None
    where = location.store if isinstance(location, Settings) else location
    if where.startswith(("http://", "https://")):
        return RemoteLocation.of(where, settings)
    return EmbeddedLocation(where)


def open_store(location: str | Settings, *, read_only: bool = False) -> GraphStore:
    """Open the store at a location, or the store of the settings (see :func:`locate`)."""
    return locate(location).open(read_only=read_only)


__all__ = [
    "Answer",
    "Dataset",
    "EmbeddedLocation",
    "EmbeddedStore",
    "GraphStore",
    "MemoryStore",
    "RemoteLocation",
    "RemoteStore",
    "StaleView",
    "StoreLocation",
    "locate",
    "open_store",
    "query_form",
]
