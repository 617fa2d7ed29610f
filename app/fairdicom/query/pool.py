"""A fixed pool of worker processes with real timeouts, memory limits and a bounded queue.

pyoxigraph cannot cancel a query and a Rust panic or a parser's stack overflow aborts the
process that runs it, so every query and every write runs in a worker process. A request
takes an idle worker: it waits at most ``wait`` seconds, behind at most ``max_waiting`` other
requests (otherwise :class:`Overloaded`, 503 with ``Retry-After``); it then sends the job down
the worker's pipe and waits for the answer at most ``timeout`` seconds. A worker that overruns
is killed with SIGKILL and replaced, and the request fails with QueryTimeout; a worker that
dies (memory limit, panic, abort, segfault, OOM kill) is replaced and the request fails with
QueryTooLarge (it hit the memory limit: its standard error says so) or a FairdicomError (500).
Workers come from a ``forkserver``: never a fork of this threaded process, and never a child
that inherited an open store.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import multiprocessing
import queue
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from fairdicom.errors import (
    FairdicomError,
    Overloaded,
    QueryTimeout,
    QueryTooLarge,
    StoreError,
)
from fairdicom.query.jobs import Job
from fairdicom.query.worker import Done, Limits, serve, too_large

WORKER_MODULE = "fairdicom.query.worker"
OUT_OF_MEMORY = (b"memory allocation of", b"MemoryError", b"Cannot allocate memory")
"""What a worker's standard error says when it died of its memory limit."""
log = logging.getLogger("fairdicom.query")


@dataclass(eq=False)
class _Handle:
    process: BaseProcess
    conn: Connection
    stderr: Path | None


@dataclass
class PoolStats:
    """What a pool did so far, and what it does now."""

    name: str
    workers: int
    busy: int
    waiting: int
    max_waiting: int
    answered: int
    refused: int
    timeouts: int
    memory_stops: int
    crashes: int
    replaced: int


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
    """Run jobs in ``size`` worker processes, each stopped and replaced on overrun or death."""

    def __init__(
        self,
        size: int,
        timeout: float,
        wait: float,
        *,
        limits: Limits | None = None,
        max_waiting: int = 1 << 30,
        name: str = "query",
    ) -> None:
        self.size = max(1, size)
        self.timeout = timeout
        self.wait = wait
        self.max_waiting = max_waiting
        self.name = name
        self.limits = limits or Limits()
        self.replaced = 0
        self._counts = dict.fromkeys(
            ("answered", "refused", "timeouts", "memory_stops", "crashes"), 0
        )
        self._waiting = 0
        self._seconds = 0.0  # a moving average of how long a job holds a worker
        self._context = multiprocessing.get_context("forkserver")
        # Preloading __main__ too spares every new worker re-importing the main module.
        self._context.set_forkserver_preload(["__main__", WORKER_MODULE])
        self._folder = Path(tempfile.mkdtemp(prefix=f"fairdicom-{name}-"))
        self._numbers = itertools.count()
        self._idle: queue.Queue[_Handle] = queue.Queue()
        self._all: set[_Handle] = set()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(self.size):
            self._idle.put(self._start())

    def _start(self) -> _Handle:
        mine, theirs = self._context.Pipe(duplex=True)
        stderr = self._folder / f"worker-{next(self._numbers)}.err"
        limits = replace(self.limits, stderr=str(stderr))
        title = f"fairdicom-{self.name}"
        process = self._context.Process(
            target=serve, args=(theirs, limits, title), name=title, daemon=True
        )
        process.start()
        theirs.close()
        handle = _Handle(process, mine, stderr)
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
        if handle.stderr is not None:
            handle.stderr.unlink(missing_ok=True)
        return code

    def _replace(self, handle: _Handle) -> int | None:
        code = self._stop(handle)
        with self._lock:
            if self._closed:
                return code
            self.replaced += 1
        self._idle.put(self._start())
        return code

    def retry_after(self) -> int:
        """Return the seconds after which a refused request has a fair chance of a worker."""
        with self._lock:
            ahead = self._waiting + 1
        estimate = self._seconds * ahead / self.size
        return max(1, min(math.ceil(estimate), math.ceil(self.timeout)))

    def _refuse(self, why: str) -> Overloaded:
        with self._lock:
            self._counts["refused"] += 1
        return Overloaded(why, retry_after=self.retry_after())

    def _acquire(self) -> _Handle:
        if self._closed:
            raise StoreError("the query service is closed")
        with self._lock:
            crowded = self._waiting >= self.max_waiting and self._idle.empty()
            if not crowded:
                self._waiting += 1
        if crowded:
            raise self._refuse(
                f"all {self.size} {self.name} workers are busy and {self.max_waiting} requests "
                "wait for them already; retry after the time in Retry-After"
            )
        try:
            handle = self._idle.get(timeout=self.wait)
        except queue.Empty:
            raise self._refuse(
                f"all {self.size} {self.name} workers stayed busy for {self.wait:g} s; "
                "retry after the time in Retry-After"
            ) from None
        finally:
            with self._lock:
                self._waiting -= 1
        if not handle.process.is_alive():  # died while idle (e.g. killed by the OOM killer)
            self._replace(handle)
            return self._acquire()
        return handle

    def run(self, job: Job, timeout: float | None = None) -> object:
        """Run one job in a worker; return its result or raise the worker's error."""
        limit = self.timeout if timeout is None else timeout
        handle = self._acquire()
        healthy = False
        started = time.monotonic()
        mark = handle.stderr.stat().st_size if handle.stderr and handle.stderr.exists() else 0
        try:
            try:
                handle.conn.send(job)
                ready = handle.conn.poll(limit)
            except OSError:
                ready = True  # the pipe broke: the worker is gone, recv() says so below
            if not ready:
                handle.process.kill()
                self._count("timeouts")
                raise QueryTimeout(
                    f"the request ran longer than {limit:g} s and was stopped; "
                    "narrow it down (LIMIT, more specific patterns) or ask the operator"
                )
            try:
                answer = handle.conn.recv()
            except (EOFError, OSError):
                raise self._died(handle, mark) from None
            healthy = True
        finally:
            self._account(time.monotonic() - started)
            if not healthy:
                self._replace(handle)
            elif self._closed:
                self._stop(handle)
            else:
                self._idle.put(handle)
        if isinstance(answer, QueryTooLarge):  # a MemoryError the worker survived
            self._count("memory_stops")
            raise answer
        self._count("answered")  # with a result, or with the request's own error (a 4xx)
        if isinstance(answer, FairdicomError):
            raise answer
        if not isinstance(answer, Done):
            raise FairdicomError(f"the {self.name} worker answered {type(answer).__name__}")
        return answer.value

    def _died(self, handle: _Handle, mark: int) -> FairdicomError:
        """Return the error of a job whose worker died, from how it died and what it said."""
        handle.process.join(1)
        how = _describe(handle.process.exitcode)
        said = b""
        if handle.stderr is not None:
            with contextlib.suppress(OSError), handle.stderr.open("rb") as err:
                err.seek(mark)
                said = err.read(64 * 1024)
        if any(sign in said for sign in OUT_OF_MEMORY):
            self._count("memory_stops")
            megabytes = self.limits.memory // (1024 * 1024)
            log.warning("%s worker hit its memory limit (%d MB, %s)", self.name, megabytes, how)
            return too_large(self.limits.memory)
        self._count("crashes")
        last = said.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(nothing)"]
        log.warning("%s worker stopped (%s), its last words: %s", self.name, how, last[0][:300])
        return FairdicomError(
            f"the {self.name} worker stopped while answering ({how}); the request was not "
            "answered and the worker has been replaced"
        )

    def _count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    def _account(self, seconds: float) -> None:
        with self._lock:
            self._seconds = seconds if not self._seconds else 0.8 * self._seconds + 0.2 * seconds

    def stats(self) -> PoolStats:
        """Return what the pool did so far, and how many jobs run and wait now."""
        with self._lock:
            counts = dict(self._counts)
            waiting = self._waiting
        return PoolStats(
            name=self.name,
            workers=self.size,
            busy=max(0, self.size - self._idle.qsize()),
            waiting=waiting,
            max_waiting=self.max_waiting,
            replaced=self.replaced,
            **counts,
        )

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
        shutil.rmtree(self._folder, ignore_errors=True)
