"""A memory-bounded LRU cache of serialised results.

Cached results are keyed by the store's generation (:meth:`fairdicom.store.StoreLocation.generation`
and the service's own write count), so a write makes every older entry unreachable (and LRU
evicts it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

ENTRY_OVERHEAD = 256
"""Bytes counted per cache entry on top of its body and key text."""


@dataclass(frozen=True)
class QueryResult:
    """A serialised answer: the bytes, their media type, and whether rows were cut off."""

    body: bytes
    media_type: str
    truncated: bool = False


class ResultCache:
    """Keep serialised results, least recently used out first, within a byte budget."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, max_entry: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.max_entry = max_entry if max_entry is not None else max_bytes // 8
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[QueryResult, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> QueryResult | None:
        """Return the result kept under ``key`` (and mark it recently used), or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: Hashable, result: QueryResult, key_bytes: int = 0) -> None:
        """Keep ``result`` unless it alone would take more than one entry's share."""
        cost = len(result.body) + key_bytes + ENTRY_OVERHEAD
        if cost > self.max_entry:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._entries[key] = (result, cost)
            self.size += cost
            while self.size > self.max_bytes:
                _, (_, freed) = self._entries.popitem(last=False)
                self.size -= freed

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self.size = 0
