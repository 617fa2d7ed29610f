"""The code that runs inside a worker process: jobs on a store opened through the store interface.

A worker answers one job at a time, read from a pipe, and sends back :class:`Done` or a
:class:`FairdicomError`. Read jobs share one read-only view of the store, opened again whenever
the store's generation changes (so each query sees the data as of its start) or when a writer
in another process compacted away files the view still named. Write jobs open the store
read-write for their own duration.

Limits are set once, when the worker starts (:class:`Limits`): an address-space limit
(``setrlimit(RLIMIT_AS)``), so that a query that needs more memory fails in this process alone;
a seccomp filter against network sockets (:mod:`fairdicom.store.sandbox`); for the lane of heavy
queries a slightly lower CPU priority and the batch scheduling policy. The worker's standard
error goes to a file that the pool reads when the worker dies: the engine says ``memory
allocation of N bytes failed`` there before it aborts. Each worker names its process after its
lane (``fairdicom-query``, ``fairdicom-fast``, ``fairdicom-write``), as ``ps`` and ``top`` show
it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection

from fairdicom.errors import FairdicomError, QueryTooLarge
from fairdicom.query.jobs import Job
from fairdicom.store import GraphStore, StaleView, StoreLocation
from fairdicom.store.sandbox import forbid_network

RETRY_DELAYS = (0.0, 0.02, 0.1, 0.3, 1.0)
"""Pauses before reading again when the store changed under a read (files compacted away):
an ingest's final compaction replaces every file of the store and takes a second or more on a
busy machine."""
MIB = 1024 * 1024
PR_SET_NAME = 15
M_ARENA_MAX = -8
ARENAS = 2


@dataclass(frozen=True)
class Limits:
    """What a worker process may use."""

    memory: int = 0
    """Bytes of address space (0: no limit)."""
    sandbox: bool = False
    """Forbid IPv4 and IPv6 sockets."""
    nice: int = 0
    """How much lower than the server's the worker's CPU priority is."""
    batch: bool = False
    """Schedule the worker as a batch task (Linux ``SCHED_BATCH``): its full share of the CPU,
    but it never preempts the server's threads or the fast lane when it wakes up."""
    stderr: str | None = None
    """File that receives the worker's standard error."""


@dataclass(frozen=True)
class Done:
    """A job's result."""

    value: object


def too_large(memory: int) -> QueryTooLarge:
    """Return the error of a job stopped by the memory limit."""
    return QueryTooLarge(
        f"the request needed more than {memory // MIB} MB of memory (query_memory) and was "
        "stopped; narrow it down (LIMIT, fewer variables to sort or group) or ask the operator"
    )


class Worker:
    """Do jobs, keeping one read-only view of the store per store generation."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._key: tuple[StoreLocation, str | None] | None = None
        self._view: GraphStore | None = None

    def _reader(self, job: Job, fresh: bool) -> GraphStore:
        key = (job.location, job.generation)
        if fresh or self._view is None or self._key != key:
            if self._view is not None:
                self._view.close()
            self._view = None
            self._view = job.location.open(read_only=True)
            self._key = key
        return self._view

    def answer(self, job: Job) -> Done | FairdicomError:
        """Do one job; return the error instead of raising it."""
        try:
            return Done(self._do(job))
        except FairdicomError as exc:
            return exc
        except MemoryError:
            self._view = None
            return too_large(self.limits.memory)
        except Exception as exc:  # a bug, not the request's fault: say so, stay alive
            return FairdicomError(f"the worker could not answer: {type(exc).__name__}: {exc}")

    def _do(self, job: Job) -> object:
        if job.writes:
            store = job.location.open()
            try:
                return job.run(store)
            finally:
                store.close()
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                return job.run(self._reader(job, fresh=attempt > 0))
            except StaleView:
                if delay is None:
                    raise
            time.sleep(delay)
        raise AssertionError("unreachable")


def _limit(limits: Limits) -> None:
    """Apply the limits to this process."""
    if limits.stderr:
        fd = os.open(limits.stderr, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(fd, 2)
        os.close(fd)
    if limits.nice:
        os.nice(limits.nice)
    if limits.batch:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: the nice value only
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    if limits.memory:
        # glibc reserves 64 MB of address space for each thread's malloc arena (RocksDB's
        # threads too): with two arenas an idle worker maps ~180 MB instead of ~500 MB, so the
        # limit counts memory in use, and a thread never fails to start for want of addresses.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).mallopt(M_ARENA_MAX, ARENAS)
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))


def _name(name: str) -> None:
    """Name this process as ``ps`` and ``top`` show it (Linux: 15 bytes at most)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def serve(conn: Connection, limits: Limits, name: str = "fairdicom-query") -> None:
    """Do jobs from the parent process until it closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit(limits)
    sandboxed = limits.sandbox and forbid_network()
    _name(name)  # after the limits: a worker that shows its lane's name runs within them
    worker = Worker(replace(limits, sandbox=sandboxed))
    with conn:
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError):
                return
            conn.send(worker.answer(job))
