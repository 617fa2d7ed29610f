"""Where a remote store is: the engine's SPARQL query, update and Graph Store URLs, how to sign
in, and the store's generation.

``--store http://host:7878`` alone names an Oxigraph server (``/query``, ``/update``,
``/store``); ``store_query_url``, ``store_update_url`` and ``store_graph_store_url`` name the
endpoints of any other engine (Fuseki, Virtuoso: docs/deployment.md). Credentials come from
settings (``store_token``, or ``store_user`` and ``store_password``; the environment or
``fairdicom.toml``, never the command line).

Generation: SPARQL engines keep no change counter that the protocol shows, so fairdicom keeps
its own (:mod:`fairdicom.store.remote_generation`): every fairdicom process that writes the
engine changes it; a write that bypasses fairdicom (the engine's own loader,
another tool) does not, so after one, restart ``fairdicom serve`` or write anything through
fairdicom (``fairdicom catalog``) to drop cached results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fairdicom.config import Settings
from fairdicom.errors import FairdicomError
from fairdicom.store.base import GraphStore
from fairdicom.store.remote_generation import read_query
from fairdicom.store.remote_http import Credentials, SparqlHttp
from fairdicom.store.remote_store import RemoteStore

PROBE_RETRIES = 0
"""Retries of a generation lookup: the request it serves fails soon enough if the engine is
gone."""


@dataclass(frozen=True)
class RemoteLocation:
    """A SPARQL 1.1 engine reached over HTTP."""

    location: str
    query_url: str
    update_url: str
    graph_store_url: str
    credentials: Credentials = field(default_factory=Credentials)
    retries: int = 3
    timeout: float = 600.0

    @classmethod
    def of(cls, location: str, settings: Settings | None = None) -> RemoteLocation:
        """Return the location of ``--store URL``, with the endpoint URLs and credentials of
        the settings (Oxigraph server's paths under the URL where none is set)."""
        root = location.rstrip("/")
        if settings is None:
            return cls(location, f"{root}/query", f"{root}/update", f"{root}/store")
        return cls(
            location,
            settings.store_query_url or f"{root}/query",
            settings.store_update_url or f"{root}/update",
            settings.store_graph_store_url or f"{root}/store",
            Credentials(settings.store_token, settings.store_user, settings.store_password),
            settings.store_retries,
            float(settings.store_timeout),
        )

    def __repr__(self) -> str:
        """Name the endpoint, never the credentials."""
        return f"RemoteLocation({self.location!r})"

    @property
    def local(self) -> bool:
        """Return False: the store is reached over the network."""
        return False

    def http(self, retries: int | None = None) -> SparqlHttp:
        """Return an HTTP session to the engine."""
        count = self.retries if retries is None else retries
        return SparqlHttp(self.credentials, retries=count, timeout=self.timeout)

    def generation(self) -> str | None:
        """Return the token of the last write made through fairdicom ("none" before the
        first); None when the engine cannot be asked now (then nothing is cached)."""
        http = self.http(PROBE_RETRIES)
        try:
            with http.request(
                "POST",
                self.query_url,
                data={"query": read_query()},
                headers={"Accept": "text/tab-separated-values"},
            ) as response:
                lines = response.text.splitlines()
        except FairdicomError:
            return None
        finally:
            http.close()
        return lines[1].strip().strip('"') if len(lines) > 1 else "none"

    def open(self, *, read_only: bool = False) -> GraphStore:
        """Return a store that sends its requests to the engine (no request is made yet)."""
        return RemoteStore(self, read_only=read_only)
