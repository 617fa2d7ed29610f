"""Parse on a Dask distributed cluster: the same :class:`FileWorker`, run by the cluster's workers.

``fairdicom ingest --cluster tcp://scheduler:8786`` hands the files, in chunks, to the workers of
a running Dask cluster; each worker reads, de-identifies and converts them exactly as a local
parsing process does, and the outcomes come back here, in input order, to the one writer (whose
batches end at study boundaries, so order matters). The workers read the files themselves: the
inputs must be on a filesystem they share under the same absolute paths (a header is a few KiB
at the front of a file that may hold megabytes of pixels, so sending paths costs the network far
less than sending files). The pseudonym key reaches the workers as a local worker gets it: as an
argument, in memory, never on their disk; it never appears in a task's name or ``repr``.

At most :data:`AHEAD` files are in flight, so memory stays flat however large the corpus. A
worker lost in the middle of a chunk: Dask runs the chunk again elsewhere. A chunk that fails
anyway (its workers died as often as the scheduler allows, its result cannot be read) is tried file
by file, so that only the file at fault is rejected, with a fixed reason; the ingest goes on.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from fairdicom import __version__
from fairdicom.config import DeidOptions
from fairdicom.dicom.sources import Source
from fairdicom.errors import FairdicomError
from fairdicom.ingest.worker import AHEAD, FileWorker, Outcome

CHUNK = 32
"""Files per Dask task: a task costs the scheduler about a millisecond, as much as a header."""
CONNECT_TIMEOUT = 10.0
"""Seconds to reach the scheduler before the ingest stops with an error naming it."""
WORKER_WAIT = 120.0
"""Seconds to wait for a first worker when the scheduler has none."""
INSTALL = "pip install 'fairdicom[cluster]'"
ADDRESS = re.compile(r"(tcp|tls|ucx)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}")
"""A scheduler's address as Dask takes it (a malformed one leaves Dask's client half made)."""


class ClusterError(FairdicomError):
    """The Dask cluster cannot be used: no distributed package, scheduler unreachable or lost."""

    http_status = 503


@dataclass(frozen=True)
class ParserSettings:
    """What a worker needs to parse: the same inputs as a local parsing process's."""

    base_iri: str
    secret: str = field(repr=False)
    options: DeidOptions
    version: str = __version__


_local = threading.local()


def parse_chunk(settings: ParserSettings, chunk: list[Source]) -> list[Outcome]:
    """Run on a Dask worker: return the outcome of each source; never raise (Dask would log
    the task's arguments with the exception)."""
    if settings.version != __version__:
        reason = (
            f"the Dask worker runs fairdicom {__version__}, the ingest {settings.version}: "
            "install the same version on every worker"
        )
        return [Outcome(str(source), rejected=reason) for source in chunk]
    try:
        work = _file_worker(settings)
    except Exception as exc:
        reason = f"the Dask worker cannot start parsing ({type(exc).__name__})"
        return [Outcome(str(source), rejected=reason) for source in chunk]
    outcomes = []
    for source in chunk:
        try:
            outcomes.append(work(source))
        except BaseException as exc:  # FileWorker catches everything; this is the last guard
            reason = f"cannot read or convert ({type(exc).__name__})"
            outcomes.append(Outcome(str(source), rejected=reason))
    return outcomes


def _file_worker(settings: ParserSettings) -> FileWorker:
    """Return this thread's FileWorker for these settings (made once: it keeps its caches)."""
    cached: tuple[ParserSettings, FileWorker] | None = getattr(_local, "worker", None)
    if cached is None or cached[0] != settings:
        work = FileWorker(settings.base_iri, settings.secret, settings.options)
        cached = _local.worker = (settings, work)
    return cached[1]


def worker_version() -> str:
    """Run on every Dask worker: return the version of fairdicom it runs."""
    return __version__


@dataclass
class _Task:
    """Sources handed to the cluster together, and the future of their outcomes."""

    sources: list[Source]
    future: Any
    """A ``distributed.Future`` (the package is imported only when a cluster is used)."""


class ClusterPool:
    """Parse sources on a Dask cluster; outcomes are handed back in input order.

    The scheduler is reached when :meth:`outcomes` is first iterated, so that the local
    processes (curation) are forked before the client's threads start.
    """

    def __init__(self, address: str, settings: ParserSettings) -> None:
        if not ADDRESS.fullmatch(address):
            raise ClusterError(
                f"{address!r} is not a Dask scheduler address: give --cluster (the `cluster` "
                "setting) as tcp://HOST:PORT, e.g. tcp://scheduler:8786 (tls:// with TLS)"
            )
        self._address = address
        self._settings = settings
        self._client: Any = None
        """A ``distributed.Client``, once connected."""

    def __enter__(self) -> ClusterPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def outcomes(self, sources: Iterable[Source]) -> Iterator[Outcome]:
        """Yield the outcome of every source, in input order (call once)."""
        client = self._connect()
        window: deque[_Task] = deque()
        in_flight = 0
        pending = iter(sources)
        exhausted = False
        while True:
            while not exhausted and in_flight < AHEAD:
                chunk = [source for _, source in zip(range(CHUNK), pending, strict=False)]
                exhausted = len(chunk) < CHUNK
                if chunk:
                    window.append(self._submit(client, chunk))
                    in_flight += len(chunk)
            if not window:
                return
            task = window.popleft()
            outcomes = self._result(task)
            if outcomes is None:  # tried again file by file, at the head of the window
                window.extendleft(reversed([self._submit(client, [s]) for s in task.sources]))
                continue
            in_flight -= len(task.sources)
            for source, outcome in zip(task.sources, outcomes, strict=True):
                outcome.source = str(source)  # as given, not the absolute path sent
                yield outcome

    def close(self) -> None:
        """Cancel what is still running on the cluster and disconnect."""
        if self._client is not None:
            client, self._client = self._client, None
            client.close(timeout=CONNECT_TIMEOUT)

    def _connect(self) -> Any:
        """Reach the scheduler and check that its workers can parse; raise ClusterError."""
        distributed = _distributed()
        try:
            client = distributed.Client(
                self._address, timeout=CONNECT_TIMEOUT, set_as_default=False
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {self._address} "
                f"({type(exc).__name__}): start it (`dask scheduler`), or check the address "
                "given with --cluster (the `cluster` setting)"
            ) from None
        self._client = client
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT)
        except TimeoutError:
            raise ClusterError(
                f"the Dask scheduler at {self._address} has had no worker for "
                f"{WORKER_WAIT:.0f} s: start some (`dask worker {self._address}`)"
            ) from None
        self._check_versions(client)
        return client

    def _check_versions(self, client: Any) -> None:
        """Raise ClusterError unless every worker runs this version of fairdicom."""
        try:
            versions: dict[str, str] = client.run(worker_version)
        except Exception as exc:  # the workers cannot import fairdicom
            raise ClusterError(
                f"the Dask workers of {self._address} cannot run fairdicom "
                f"({type(exc).__name__}): install fairdicom {__version__} where they run"
            ) from None
        wrong = sorted(
            f"{worker} ({found})" for worker, found in versions.items() if found != __version__
        )
        if wrong:
            raise ClusterError(
                f"Dask workers run another version of fairdicom than this ingest "
                f"({__version__}): {', '.join(wrong)}; install the same version on every worker"
            )

    def _submit(self, client: Any, chunk: list[Source]) -> _Task:
        """Hand a chunk to the cluster, its paths made absolute (workers have another cwd)."""
        sent = [replace(s, path=os.path.abspath(s.path)) if s.path else s for s in chunk]
        # The key is random: one derived from the arguments would hash the secret with them.
        key = f"fairdicom-parse-{uuid.uuid4().hex}"
        future = client.submit(parse_chunk, self._settings, sent, key=key, pure=False)
        return _Task(chunk, future)

    def _result(self, task: _Task) -> list[Outcome] | None:
        """Return the outcomes of a task; None when a chunk of several must be tried file by
        file; a rejection of its file when a single file failed; ClusterError when the
        scheduler is lost."""
        try:
            outcomes: list[Outcome] = task.future.result()
        except CancelledError:
            raise ClusterError(
                f"lost the Dask scheduler at {self._address} in the middle of the ingest: the "
                "batches written so far are kept; run the ingest again when it is back"
            ) from None
        except Exception as exc:
            if len(task.sources) > 1:
                return None
            return [Outcome(str(task.sources[0]), rejected=_failure(exc))]
        finally:
            task.future.release()
        if len(outcomes) != len(task.sources):
            return (
                None
                if len(task.sources) > 1
                else [Outcome(str(task.sources[0]), rejected="the Dask worker answered wrongly")]
            )
        return outcomes


def _failure(exc: Exception) -> str:
    """Return why the cluster could not parse one file, in fixed words."""
    if type(exc).__name__ == "KilledWorker":
        return "the Dask workers that read this file died each time (out of memory?)"
    return f"the Dask cluster could not parse this file ({type(exc).__name__})"


def _distributed() -> Any:
    """Import the Dask distributed package; raise ClusterError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            f"parsing on a Dask cluster needs the distributed package: {INSTALL}"
        ) from None
    return distributed
