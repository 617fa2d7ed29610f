"""What one request may read: the datasets whose graphs enter its queries' dataset.

A dataset's graphs are ``{base}graph/{slug}/{layer}`` (raw, curated, quarantine, and the
harvest state of its DICOMweb sources, which names its studies); every other named graph
(catalogue, vocabulary, mappings, provenance: runs with their counts, software and mapping
versions, nothing of a record) is public.
The scope of the current request lives in :data:`SCOPE`, set once per request by the web layer
and read by the query service, which turns it into the engine's dataset restriction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass

from fairdicom.sparql_files import sparql

_DATASET_GRAPH = re.compile(r"/graph/([^/]+)/[^/]+$")


@dataclass(frozen=True)
class Scope:
    """The datasets one principal may read (None: every graph of the store)."""

    readable: frozenset[str] | None = None
    audited: tuple[str, ...] = ()
    """The non-public datasets among ``readable``: reading them is written to the audit log."""

    @property
    def everything(self) -> bool:
        """Return whether nothing is hidden from this scope."""
        return self.readable is None

    @property
    def key(self) -> str:
        """Return a text that differs between scopes that may see different data."""
        return "*" if self.readable is None else " ".join(sorted(self.readable))

    def dataset_of(self, graph: str) -> str | None:
        """Return the slug of the dataset a graph belongs to (None: no dataset's graph).

        Any ``.../graph/SLUG/LAYER`` counts, whatever its base: a store minted under another
        ``base_iri`` than the server's stays closed rather than open.
        """
        found = _DATASET_GRAPH.search(graph)
        return found.group(1) if found else None

    def may_read(self, graph: str) -> bool:
        """Return whether this scope may read the named graph ``graph``."""
        if self.readable is None:
            return True
        slug = self.dataset_of(graph)
        return slug is None or self.may_read_dataset(slug)

    def may_read_dataset(self, slug: str) -> bool:
        """Return whether this scope may read the records of dataset ``slug``."""
        return self.readable is None or slug in self.readable

    def visible(self, graphs: Iterable[str]) -> tuple[str, ...]:
        """Return the graphs of ``graphs`` this scope may read, in their order."""
        return tuple(g for g in graphs if self.may_read(g))


EVERYTHING = Scope()
"""The scope of the admin, of the server's own catalogue pages, and of a site without access
control."""
SCOPE: ContextVar[Scope] = ContextVar("fairdicom_scope", default=EVERYTHING)
"""The scope of the request being answered."""
NAMED_GRAPHS = sparql(__file__, "named_graphs")
"""The query that lists the store's named graphs (one ``?g`` per row)."""
