"""A fixed pool of query worker processes with real timeouts.

pyoxigraph cannot cancel a query and a Rust panic aborts the process that runs it, so every
query runs in a worker process. A request takes an idle worker (waiting a bounded time, then
StoreBusy), sends the request down its pipe and waits for the answer at most ``timeout``
seconds. A worker that overruns is killed with SIGKILL and replaced, and the request fails with
QueryTimeout; a worker that dies (panic, abort, segfault, OOM kill) is replaced and the request
fails with a FairdicomError (500). Workers come from a ``forkserver``: never a fork of this
threaded process, and never a child that inherited an open store.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from fairdicom.errors import FairdicomError, QueryTimeout, StoreBusy, StoreError
from fairdicom.store.query_worker import Reply, Request, serve

WORKER_MODULE = "fairdicom.store.query_worker"


@dataclass(eq=False)
class _Handle:
    process: BaseProcess
    conn: Connection


def _describe(exitcode: int | None) -> str:
    if exitcode is None:
        return "did not exit"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


class WorkerPool:
    """Run requests in ``size`` worker processes, each stopped and replaced on overrun."""

    def __init__(self, size: int, timeout: float, wait: float, sandbox: bool = False) -> None:
        self.size = max(1, size)
        self.timeout = timeout
        self.wait = wait
        self.sandbox = sandbox
        self.replaced = 0
        self._context = multiprocessing.get_context("forkserver")
        # Preloading __main__ too spares every new worker re-importing the main module.
        self._context.set_forkserver_preload(["__main__", WORKER_MODULE])
        self._idle: queue.Queue[_Handle] = queue.Queue()
        self._all: set[_Handle] = set()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(self.size):
            self._idle.put(self._start())

    def _start(self) -> _Handle:
        mine, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=serve, args=(theirs, self.sandbox), name="fairdicom-query", daemon=True
        )
        process.start()
        theirs.close()
        handle = _Handle(process, mine)
        with self._lock:
            self._all.add(handle)
        return handle

    def _stop(self, handle: _Handle) -> int | None:
        """Kill the worker if it still runs, reap it and release its pipe; return its exit code."""
        with self._lock:
            self._all.discard(handle)
        handle.conn.close()
        process = handle.process
        process.join(0.5)
        if process.exitcode is None:
            process.kill()
            process.join()
        code = process.exitcode
        process.close()
        return code

    def _replace(self, handle: _Handle) -> int | None:
        code = self._stop(handle)
        with self._lock:
            if self._closed:
                return code
            self.replaced += 1
        self._idle.put(self._start())
        return code

    def _acquire(self) -> _Handle:
        if self._closed:
            raise StoreError("the query service is closed")
        try:
            handle = self._idle.get(timeout=self.wait)
        except queue.Empty:
            raise StoreBusy(f"all {self.size} query workers are busy; retry in a moment") from None
        if not handle.process.is_alive():  # died while idle (e.g. killed by the OOM killer)
            self._replace(handle)
            return self._acquire()
        return handle

    def run(self, request: Request) -> Reply:
        """Run one request in a worker; return its reply or raise the worker's error."""
        handle = self._acquire()
        healthy = False
        try:
            try:
                handle.conn.send(request)
                ready = handle.conn.poll(self.timeout)
            except OSError:
                ready = True  # the pipe broke: the worker is gone, recv() says so below
            if not ready:
                handle.process.kill()
                raise QueryTimeout(
                    f"the query ran longer than {self.timeout:g} s and was stopped; "
                    "narrow it down (LIMIT, more specific patterns) or ask the operator"
                )
            try:
                answer = handle.conn.recv()
            except (EOFError, OSError):
                handle.process.join(1)
                how = _describe(handle.process.exitcode)
                raise FairdicomError(
                    f"the query worker stopped while answering ({how}); the query was not "
                    "answered and the worker has been replaced"
                ) from None
            healthy = True
        finally:
            if not healthy:
                self._replace(handle)
            elif self._closed:
                self._stop(handle)
            else:
                self._idle.put(handle)
        if isinstance(answer, FairdicomError):
            raise answer
        if not isinstance(answer, Reply):
            raise FairdicomError(f"the query worker answered {type(answer).__name__}")
        return answer

    def pids(self) -> list[int]:
        """Return the process ids of the workers now running."""
        with self._lock:
            handles = list(self._all)
        pids = []
        for handle in handles:
            with contextlib.suppress(ValueError):  # closed by another thread meanwhile
                if handle.process.pid is not None and handle.process.is_alive():
                    pids.append(handle.process.pid)
        return sorted(pids)

    def close(self) -> None:
        """Stop every worker: idle ones now, busy ones are killed and reaped by their caller."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        while True:
            try:
                handle = self._idle.get_nowait()
            except queue.Empty:
                break
            self._stop(handle)
        with self._lock:
            busy = list(self._all)
        for handle in busy:
            with contextlib.suppress(ValueError, OSError):  # reaped by its caller already
                handle.process.kill()
