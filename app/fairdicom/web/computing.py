"""Figures a page computes in a background thread, once per key (a store generation and
scope), so that a page on a large store answers at once: with its figures when they are ready,
else with "computing" (202, ``Retry-After``) while they are computed, as mature catalogues and
explorers do after a start-up or a write.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import copy_context
from typing import Generic, TypeVar

from flask import Response, render_template

T = TypeVar("T")

RETRY_AFTER = 5
"""Seconds after which a "computing" page asks to be read again (and reloads itself)."""


class Computations(Generic[T]):
    """Results computed in background threads, one per key, the latest ``kept`` kept."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self.lock = threading.Lock()
        self.futures: OrderedDict[Hashable, Future[T]] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], T], wait: float | None) -> T | None:
        """Return the result of ``key``, started in the background unless it already is;
        None when it is not ready within ``wait`` seconds (None: wait for it). A computation
        that failed raises its error once (to the requests waiting, or else the next one);
        the request after that starts it again."""
        with self.lock:
            future = self.futures.get(key)
            if future is not None and future.done() and future.exception() is not None:
                del self.futures[key]  # this request reports the failure; the next one retries
            elif future is None:
                future = Future()
                self.futures[key] = future
                while len(self.futures) > self.kept:
                    self.futures.popitem(last=False)
                context = copy_context()  # the caller's scope and lane go with the work
                thread = threading.Thread(
                    target=context.run, args=(self._run, future, compute), daemon=True
                )
                thread.start()
            else:
                self.futures.move_to_end(key)
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            return None

    def _run(self, future: Future[T], compute: Callable[[], T]) -> None:
        try:
            future.set_result(compute())
        except BaseException as exc:  # the requests waiting, or else the next, answer it
            future.set_exception(exc)


def computing_response(what: str, json: bool = False) -> Response:
    """Answer 202: ``what`` is being computed; read the page again after ``Retry-After``."""
    if json:
        body = f'{{"state": "computing", "retry_after": {RETRY_AFTER}}}\n'
        response = Response(body, 202, mimetype="application/json")
    else:
        page = render_template("computing.html", what=what, retry_after=RETRY_AFTER)
        response = Response(page, 202, mimetype="text/html")
        response.headers["Refresh"] = str(RETRY_AFTER)
    response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response
