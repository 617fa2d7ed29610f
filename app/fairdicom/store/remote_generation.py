"""The generation token of a remote store, kept by fairdicom in one graph of the engine.

Every write fairdicom sends to a remote store ends with :func:`bump`: in the same update
request (one transaction on engines that run a request as one, as Oxigraph does), the token in
:data:`GENERATION_GRAPH` is replaced by a new random one, so that every fairdicom process sees
that the store changed (:meth:`fairdicom.store.remote_location.RemoteLocation.generation`).
"""

from __future__ import annotations

import uuid

from fairdicom.sparql_files import sparql

GENERATION_GRAPH = "urn:x-fairdicom:generation"
"""The named graph holding the store's generation token (one triple; hidden from
:meth:`GraphStore.graphs`, exports and counts, and in no dataset of fairdicom)."""


def bump() -> str:
    """Return the update operations that replace the generation token (no trailing ``;``)."""
    return sparql(__file__, "remote_bump").replace("$TOKEN", uuid.uuid4().hex).strip()


def read_query() -> str:
    """Return the query whose one row is the current token (no row before the first write)."""
    return sparql(__file__, "remote_generation")
