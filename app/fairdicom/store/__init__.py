"""Stores: the embedded Oxigraph store on disk (and later remote SPARQL servers)."""

from __future__ import annotations

from fairdicom.errors import StoreError
from fairdicom.store.base import GraphStore
from fairdicom.store.oxigraph_store import EmbeddedStore, MemoryStore, query_form


def open_store(location: str, *, read_only: bool = False) -> GraphStore:
    """Open the store at a location: a directory (embedded Oxigraph) or an http(s) URL."""
    if location.startswith(("http://", "https://")):
        raise StoreError(
            f"{location}: remote SPARQL stores are not built yet; use a directory for --store"
        )
    return EmbeddedStore(location, read_only=read_only)


__all__ = ["EmbeddedStore", "GraphStore", "MemoryStore", "open_store", "query_form"]
