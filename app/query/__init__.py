"""The SPARQL service: queries in killable worker processes, updates, the Graph Store."""

from __future__ import annotations

from app.query.cache import QueryResult
from app.query.service import QueryService

__all__ = ["QueryResult", "QueryService"]
