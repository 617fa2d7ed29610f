"""The embedded store opened read-write for the SPARQL endpoint's writes."""

from __future__ import annotations

from fairdicom.errors import StoreError
from fairdicom.store.oxigraph_store import EmbeddedStore


class UpdateStore(EmbeddedStore):
    """An embedded store that runs SPARQL updates against a base IRI."""

    def update_from(self, update: str, base_iri: str | None) -> None:
        """Run a SPARQL update in one transaction, resolving relative IRIs on ``base_iri``."""
        try:
            self._store.update(update, base_iri=base_iri)
        except OSError as exc:
            raise StoreError(f"{self.location}: write failed: {exc}") from exc
