"""The per-file work of an ingest, run in worker processes: read, de-identify, convert.

Whatever happens to one file costs that file only. :class:`FileWorker` turns every failure
(an exception from pydicom or from our code, MemoryError, RecursionError) into a rejection
with a fixed reason: never the exception's text, which may quote header bytes. The
:class:`ParsingPool` runs it in worker processes and knows which file each worker holds, so a
worker that dies (the out-of-memory killer) or hangs costs the file it was reading; the pool
starts a new worker and hands the worker's other files to the living ones.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from ctypes import c_longlong
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkContext, ForkServerContext
from multiprocessing.process import BaseProcess
from types import TracebackType

from fairdicom.config import DeidOptions
from fairdicom.dicom.deidentify import Profile, Pseudonymizer
from fairdicom.dicom.reader import NotDicom, read_instance
from fairdicom.dicom.sources import NotAFile, Source, UnsafeMember
from fairdicom.errors import DicomReadError, FairdicomError
from fairdicom.ingest.forked import own_standard_streams
from fairdicom.namespaces import DataIris
from fairdicom.rdf.raw import InstanceRecord, RawConverter

FILE_TIMEOUT = 300.0
"""Seconds one file may take in a worker before the worker is stopped and the file rejected
(a header takes milliseconds; this is for a file that makes the parser loop)."""
START_TIMEOUT = 120.0
"""Seconds a new worker may take to start (a busy machine can be slow to start Python)."""
AHEAD = 2048
"""Files handed out but not yet consumed: memory stays flat however large the corpus."""
DEPTH = 16
"""Files queued at one worker, so that it never waits for the next one."""
QUEUED_BYTES = 32 * 1024
"""Bytes of file names queued at one worker: below a socket's buffer, so handing out work
never blocks the pool while the worker is blocked handing back results."""
MAX_RESULT_BYTES = 64 * 2**20
"""Largest converted header a worker hands back; a bigger one rejects its file."""
MAX_FAILED_STARTS = 3
ANSWERS_PER_MESSAGE = 8
"""Outcomes a worker hands back in one message (a message per file cost about 15 % of an
ingest's instructions, sending, waking and receiving); the number of the file it is reading is
kept in shared memory, so a worker that dies still costs exactly that file."""


@dataclass
class Outcome:
    """What became of one file: a record, or the reason it was skipped or rejected."""

    source: str
    record: InstanceRecord | None = None
    skipped: str = ""
    rejected: str = ""


class FileWorker:
    """Everything one process needs to turn files into raw-layer records."""

    def __init__(self, base_iri: str, secret: str, options: DeidOptions) -> None:
        self.pseudonyms = Pseudonymizer(secret)
        self.profile = Profile(options)
        self.converter = RawConverter(DataIris(base_iri), self.pseudonyms.token)

    def __call__(self, source: Source) -> Outcome:
        """Process one file; never raise, never pass on an exception's text."""
        name = str(source)
        if source.skipped or source.rejected:
            return walk_outcome(source)
        try:
            header = read_instance(source, self.profile, self.pseudonyms)
            return Outcome(name, record=self.converter.record(header).pack())
        except (NotDicom, NotAFile) as exc:
            return Outcome(name, skipped=str(exc))
        except (DicomReadError, UnsafeMember) as exc:  # our own words, without values
            return Outcome(name, rejected=str(exc))
        except OSError as exc:
            return Outcome(name, rejected=f"cannot read file: {exc.strerror or type(exc).__name__}")
        except RecursionError:
            return Outcome(name, rejected="nested too deeply to read (RecursionError)")
        except MemoryError:
            return Outcome(name, rejected="too large to read (MemoryError)")
        except Exception as exc:  # the text of a pydicom exception may quote header bytes
            return Outcome(name, rejected=f"cannot read or convert ({type(exc).__name__})")


def walk_outcome(source: Source) -> Outcome:
    """Return the outcome of a source the walk did not hand over for reading."""
    return Outcome(str(source), skipped=source.skipped, rejected=source.rejected)


WorkerArgs = tuple[str, str, DeidOptions]
WorkerFactory = Callable[[str, str, DeidOptions], Callable[[Source], Outcome]]


def _serve(
    factory: WorkerFactory,
    args: WorkerArgs,
    channel: Connection,
    inherited: list[int],
    reading: c_longlong,
) -> None:
    """Run in a worker process: answer each (number, source) of each task, in order, with
    (number, outcome), up to ANSWERS_PER_MESSAGE a message; ``reading`` holds the number of
    the file being read."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the pool
    own_standard_streams()
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    work = factory(*args)
    try:
        channel.send_bytes(b"")  # ready: from now on a death is the read file's doing
        while (task := channel.recv()) is not None:
            answers: list[bytes] = []
            for number, source in task:
                reading.value = number
                answers.append(_answer(number, source, work))
                if len(answers) == ANSWERS_PER_MESSAGE:
                    channel.send_bytes(_framed(answers))
                    answers = []
            if answers:
                channel.send_bytes(_framed(answers))
    except (EOFError, OSError):
        return  # the parent has gone


def _framed(answers: list[bytes]) -> bytes:
    """Return answers as one message: each preceded by its length."""
    return b"".join(len(answer).to_bytes(4, "little") + answer for answer in answers)


def _frames(message: bytes) -> Iterator[memoryview]:
    """Yield the answers of one message."""
    view, start = memoryview(message), 0
    while start < len(view):
        end = start + 4 + int.from_bytes(view[start : start + 4], "little")
        yield view[start + 4 : end]
        start = end


def _answer(number: int, source: Source, work: Callable[[Source], Outcome]) -> bytes:
    """Return the pickled (number, outcome) of one source, bounded in size."""
    try:
        data = pickle.dumps((number, work(source)), pickle.HIGHEST_PROTOCOL)
    except Exception:  # MemoryError, RecursionError: the outcome cannot be handed back
        data = b""
    if not data or len(data) > MAX_RESULT_BYTES:
        too_big = Outcome(str(source), rejected="converted header too large to hand back")
        data = pickle.dumps((number, too_big), pickle.HIGHEST_PROTOCOL)
    return data


@dataclass
class _Slot:
    """One worker process and the files it holds, oldest (the one it is reading) first."""

    process: BaseProcess
    channel: Connection
    reading: c_longlong
    """The number of the file the worker is reading (or has read last)."""
    held: deque[tuple[int, Source]] = field(default_factory=deque)
    queued_bytes: int = 0
    ready: bool = False
    broken: bool = False
    since: float = field(default_factory=time.monotonic)
    """When the worker began the file it is reading (or began to start)."""


class ParsingPool:
    """Worker processes that turn sources into outcomes, handed back in input order.

    The first workers are forked when the pool is made (before the caller opens the store: a
    child that inherits an open store hangs on flush); a worker that dies or runs out of time
    is replaced from a fork server, which never saw the store.
    """

    def __init__(
        self,
        size: int,
        args: WorkerArgs,
        factory: WorkerFactory = FileWorker,
        timeout: float = FILE_TIMEOUT,
    ) -> None:
        self._args = args
        self._factory = factory
        self._timeout = timeout
        self._cond = threading.Condition()
        self._done: dict[int, Outcome] = {}
        self._next_in = 0
        self._next_out = 0
        self._retry: deque[tuple[int, Source]] = deque()
        self._finished = False
        self._stopping = False
        self._starved = False
        self._error: BaseException | None = None
        self._failed_starts = 0
        self._thread: threading.Thread | None = None
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._server = get_context("forkserver")
        self._server.set_forkserver_preload([__name__])
        fork = get_context("fork")
        self._slots: list[_Slot] = []
        for _ in range(max(1, size)):
            self._slots.append(self._start(fork))

    def __enter__(self) -> ParsingPool:
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
        self._thread = threading.Thread(
            target=self._manage, args=(iter(sources),), name="fairdicom-parsing", daemon=True
        )
        self._thread.start()
        while True:
            with self._cond:
                while self._next_out not in self._done and not self._finished:
                    self._cond.wait()
                ready = []
                while self._next_out in self._done:
                    ready.append(self._done.pop(self._next_out))
                    self._next_out += 1
                if not ready and self._error is not None:
                    raise self._error
                wake, self._starved = self._starved, False
            if wake:
                self._wake()
            if not ready:
                return
            yield from ready

    def close(self) -> None:
        """Stop the workers (the ones still busy are killed) and release everything."""
        if not self._slots:
            return
        with self._cond:
            self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join()
        for slot in self._slots:
            self._stop(slot, graceful=self._finished and not slot.held)
        self._slots = []
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)

    def _start(self, context: ForkContext | ForkServerContext) -> _Slot:
        try:
            ours, theirs = context.Pipe()
        except OSError as exc:
            raise FairdicomError(f"cannot start a parsing process: {exc.strerror}") from None
        # A forked child inherits every descriptor: it closes the pool's ends of the
        # channels, or a worker would never see its channel close when this process dies.
        inherited = []
        if isinstance(context, ForkContext):
            inherited = [ours.fileno(), self._wake_read, self._wake_write]
            inherited += [slot.channel.fileno() for slot in self._slots]
        reading = context.RawValue(c_longlong, -1)
        process = context.Process(
            target=_serve,
            args=(self._factory, self._args, theirs, inherited, reading),
            name="fairdicom-parser",
            daemon=True,
        )
        try:
            process.start()
        except OSError as exc:
            ours.close()
            raise FairdicomError(f"cannot start a parsing process: {exc.strerror}") from None
        finally:
            theirs.close()
        return _Slot(process, ours, reading)

    def _stop(self, slot: _Slot, graceful: bool) -> None:
        if graceful:
            with contextlib.suppress(OSError):
                slot.channel.send(None)
            slot.process.join(timeout=10)
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join()
        slot.channel.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError: it is awake already
            os.write(self._wake_write, b"x")

    def _manage(self, sources: Iterator[Source]) -> None:
        """Hand out sources, collect outcomes, replace dead workers (the pool's thread)."""
        try:
            exhausted = False
            while True:
                exhausted = self._hand_out(sources, exhausted)
                with self._cond:
                    if self._stopping:
                        return
                idle = not self._retry and not any(slot.held for slot in self._slots)
                if exhausted and idle:
                    return
                self._collect()
                self._notify()
        except BaseException as exc:
            self._error = exc
        finally:
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def _hand_out(self, sources: Iterator[Source], exhausted: bool) -> bool:
        """Give workers files while they have room; return whether the sources are done."""
        tasks: dict[int, list[tuple[int, Source]]] = {}
        try:
            return self._plan(sources, exhausted, tasks)
        finally:
            self._send(tasks)
            self._notify()

    def _plan(
        self,
        sources: Iterator[Source],
        exhausted: bool,
        tasks: dict[int, list[tuple[int, Source]]],
    ) -> bool:
        """Assign files to workers (into tasks, by worker index) while they have room."""
        while True:
            if self._retry:
                number, source = self._retry.popleft()
            else:
                with self._cond:
                    if self._next_in - self._next_out >= AHEAD:
                        self._starved = True
                        return exhausted
                if exhausted:
                    return True
                found = next(sources, None)
                if found is None:
                    return True
                source = found
                number, self._next_in = self._next_in, self._next_in + 1
                if source.skipped or source.rejected:
                    self._publish(number, walk_outcome(source))
                    continue
            slot = self._room_for(len(str(source)))
            if slot is None:
                self._retry.appendleft((number, source))
                return exhausted
            if not slot.held:
                slot.since = time.monotonic()
            slot.held.append((number, source))
            slot.queued_bytes += len(str(source))
            tasks.setdefault(self._slots.index(slot), []).append((number, source))

    def _send(self, tasks: dict[int, list[tuple[int, Source]]]) -> None:
        """Send each worker its new files in one message."""
        for index, task in tasks.items():
            slot = self._slots[index]
            try:
                slot.channel.send(task)
            except OSError:  # the worker has just died: its files go to the others
                slot.broken = True
                for item in task:
                    slot.held.remove(item)
                    slot.queued_bytes -= len(str(item[1]))
                self._retry = deque(sorted([*self._retry, *task], key=lambda item: item[0]))

    def _room_for(self, size: int) -> _Slot | None:
        """Return the worker with the fewest files that can take one more, if any."""
        fits = [
            s
            for s in self._slots
            if not s.broken
            and (not s.held or (len(s.held) < DEPTH and s.queued_bytes + size <= QUEUED_BYTES))
        ]
        return min(fits, key=lambda s: len(s.held), default=None)

    def _collect(self) -> None:
        """Wait for results, deaths or a deadline; handle what came."""
        now = time.monotonic()
        deadlines = [s.since + self._limit(s) for s in self._slots if s.held or not s.ready]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        handles: list[Connection | int] = [self._wake_read]
        for slot in self._slots:
            handles += [slot.channel, slot.process.sentinel]
        ready = set(wait(handles, timeout))
        if self._wake_read in ready:
            os.read(self._wake_read, 4096)
        for slot in list(self._slots):
            alive = slot.channel not in ready or self._receive(slot)
            if slot.process.sentinel in ready or not alive:
                self._replace(slot, "")
            elif self._overdue(slot):
                slot.process.kill()
                self._replace(slot, f"reading took longer than {self._timeout:.0f} s; stopped")

    def _overdue(self, slot: _Slot) -> bool:
        """Return whether a worker has taken too long to start or to read its file."""
        busy = bool(slot.held) or not slot.ready
        return busy and time.monotonic() - slot.since > self._limit(slot)

    def _limit(self, slot: _Slot) -> float:
        """Return the seconds this worker may take for what it is doing (starting, reading)."""
        return self._timeout if slot.ready else max(self._timeout, START_TIMEOUT)

    def _receive(self, slot: _Slot) -> bool:
        """Take every result the worker has sent; return False when its channel is closed."""
        try:
            while slot.channel.poll():
                message = slot.channel.recv_bytes()
                slot.since = time.monotonic()
                if not slot.ready:
                    slot.ready = True
                    continue
                for data in _frames(message):
                    number, source = slot.held.popleft()  # a worker answers in order
                    slot.queued_bytes -= len(str(source))
                    try:
                        outcome = pickle.loads(data)[1]
                    except Exception as exc:  # a result that cannot be read costs its file
                        reason = f"unreadable result ({type(exc).__name__})"
                        outcome = Outcome(str(source), rejected=reason)
                    self._publish(number, outcome)
        except (EOFError, OSError):
            return False
        return True

    def _replace(self, slot: _Slot, reason: str) -> None:
        """Bury a dead (or stopped) worker: reject the file it was reading, requeue the rest."""
        self._receive(slot)  # what it sent before it died
        slot.process.join(timeout=10)
        if slot.process.is_alive():  # its channel broke, yet it lives: stop it
            slot.process.kill()
            slot.process.join()
        slot.channel.close()
        held = list(slot.held)
        if slot.ready and held:
            # The file it was reading; the ones before it were read, but their answers went
            # with the worker: they are read again.
            reading = slot.reading.value
            culprit = next((i for i, (number, _) in enumerate(held) if number == reading), 0)
            number, source = held.pop(culprit)
            self._publish(number, Outcome(str(source), rejected=reason or _death(slot.process)))
        elif not slot.ready:
            self._failed_starts += 1
            if self._failed_starts > MAX_FAILED_STARTS:
                raise FairdicomError(
                    f"parsing processes stop as soon as they start (exit status "
                    f"{slot.process.exitcode}); see the messages above"
                )
        self._retry = deque(sorted([*self._retry, *held], key=lambda item: item[0]))
        index = self._slots.index(slot)
        self._slots[index] = self._start(self._server)

    def _publish(self, number: int, outcome: Outcome) -> None:
        """Make an outcome available (the consumer is woken by _notify, once per round)."""
        with self._cond:
            self._done[number] = outcome

    def _notify(self) -> None:
        with self._cond:
            if self._next_out in self._done:
                self._cond.notify_all()


def _death(process: BaseProcess) -> str:
    """Return why a worker process ended, in words."""
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the parsing process was killed ({name}; out of memory?) while reading this file"
    return f"the parsing process ended (exit status {code}) while reading this file"
