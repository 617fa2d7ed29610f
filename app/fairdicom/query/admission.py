"""Fair service: who asks (set by the web layer), per-client limits, and slowing down token guesses.

The web layer names the client of each request in :data:`REQUESTER` (its address, or the admin
token's holder) and marks the requests of pages that must stay fast (Linked Data, catalogue)
in :data:`FAST_PAGE`; the query service reads both. :class:`ClientLimits` bounds how many
heavy queries one client has running or waiting; :class:`FailedLogins` makes a client that sent
wrong tokens wait, longer after each one, before its next write is even looked at.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from fairdicom.errors import TooManyRequests

REQUESTER: ContextVar[str] = ContextVar("fairdicom_requester", default="")
"""Who sends the request being answered ("" when not known: no per-client limit)."""
FAST_PAGE: ContextVar[bool] = ContextVar("fairdicom_fast_page", default=False)
"""Whether the request is for a page the fast lane serves whatever its queries look like."""


class ClientLimits:
    """Let each client have at most ``limit`` requests at once (0: no limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused = 0
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def admit(self, client: str, retry_after: Callable[[], int]) -> Iterator[None]:
        """Hold one of the client's places for the block, or raise TooManyRequests (429)."""
        if self.limit <= 0 or not client:
            yield
            return
        with self._lock:
            held = self._counts.get(client, 0)
            if held >= self.limit:
                self.refused += 1
                refused = True
            else:
                self._counts[client] = held + 1
                refused = False
        if refused:
            raise TooManyRequests(
                f"this client already has {self.limit} heavy queries running or waiting "
                "(client_concurrency); send the next when one has finished",
                retry_after=retry_after(),
            )
        try:
            yield
        finally:
            with self._lock:
                left = self._counts[client] - 1
                if left:
                    self._counts[client] = left
                else:
                    del self._counts[client]

    def clients(self) -> int:
        """Return how many clients have requests now."""
        with self._lock:
            return len(self._counts)


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class FailedLogins:
    """Count wrong tokens per client; from the ``free``-th on, lock the client out for
    ``first`` seconds, doubling with each further failure up to ``most``; forget a client
    ``forget`` seconds after its last failure, or when it sends the right token."""

    def __init__(
        self,
        free: int = 5,
        first: float = 5.0,
        most: float = 300.0,
        forget: float = 900.0,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.first, self.most, self.forget = free, first, most, forget
        self.capacity = capacity
        self.clock = clock
        self.refused = 0
        self._clients: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Raise TooManyRequests (429) while the client is locked out."""
        now = self.clock()
        with self._lock:
            found = self._clients.get(client)
            if found is None:
                return
            if now - found.last > self.forget:
                del self._clients[client]
                return
            wait = found.locked_until - now
            if wait <= 0:
                return
            self.refused += 1
        raise TooManyRequests(
            f"{found.count} wrong tokens came from this client; wait before the next attempt",
            retry_after=max(1, math.ceil(wait)),
        )

    def failed(self, client: str) -> None:
        """Count a wrong token; lock the client out once it had its free attempts."""
        now = self.clock()
        with self._lock:
            found = self._clients.pop(client, None) or _Failures()
            found.count += 1
            found.last = now
            beyond = found.count - self.free
            if beyond >= 0:
                found.locked_until = now + min(self.most, self.first * 2**beyond)
            self._clients[client] = found
            while len(self._clients) > self.capacity:
                self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        """Forget the client's failures."""
        with self._lock:
            self._clients.pop(client, None)

    def locked(self) -> int:
        """Return how many clients are locked out now."""
        now = self.clock()
        with self._lock:
            return sum(1 for f in self._clients.values() if f.locked_until > now)
