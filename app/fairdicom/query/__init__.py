"""The SPARQL service: queries in killable worker processes, updates, the Graph Store."""

from __future__ import annotations

from fairdicom.query.cache import QueryResult
from fairdicom.query.service import QueryService

__all__ = ["QueryResult", "QueryService"]
