"""The SPARQL service behind the HTTP endpoint: queries, updates and the Graph Store.

Everything runs in worker processes (app/fairdicom/query/pool.py) on the store opened through
the store interface (:func:`fairdicom.store.locate`), each process bounded in time and memory:

* the fast lane (``fast_lane_workers``) answers what looks cheap (ASK, DESCRIBE, a small LIMIT
  without sorting or grouping) and the queries of the Linked Data and catalogue pages; a query
  that overruns its ``fast_lane_timeout`` there is stopped, remembered as heavy and queued in
* the heavy lane (``query_workers``), where each client has at most ``client_concurrency``
  queries running or waiting, and at most ``queue_size`` requests wait ``queue_wait`` s;
* the writer (one process) runs updates and Graph Store writes one at a time, opening the store
  read-write only for the duration of the write, so that ``fairdicom ingest`` can write between.

With ``access_control``, each read sees only the graphs the request's scope
(:data:`fairdicom.access.SCOPE`) may read: the query's dataset is limited in the engine, and a
forbidden graph of the Graph Store does not exist.

Serialised answers are cached by store generation and dataset. ``SERVICE`` and ``LOAD`` are
refused unless allow-listed, and texts nested deeper than the engine's parser survives are refused
(fairdicom/query/lexer.py).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import TracebackType

from fairdicom.access.scope import NAMED_GRAPHS, SCOPE, Scope
from fairdicom.config import Settings
from fairdicom.errors import (
    ConfigError,
    FairdicomError,
    Forbidden,
    QueryTimeout,
    StoreBusy,
    StoreError,
    StoreLocked,
    UsageError,
)
from fairdicom.query.admission import FAST_PAGE, REQUESTER, ClientLimits, FailedLogins
from fairdicom.query.cache import QueryResult, ResultCache
from fairdicom.query.jobs import DropJob, GraphJob, Job, LoadJob, NewGraphs, QueryJob, UpdateJob
from fairdicom.query.lexer import Lexed, protocol_iri
from fairdicom.query.pool import PoolStats, WorkerPool
from fairdicom.query.worker import MIB, Limits
from fairdicom.store import Answer, Dataset, locate
from fairdicom.store.base import GRAPH, negotiate

CACHE_BYTES = 64 * 1024 * 1024
"""Memory the result cache may hold (serialised bodies, LRU)."""
TEXTS_KEPT = 4096
"""How many query texts the service remembers the facts of (checks, form, lane), LRU."""
TSV = "text/tab-separated-values"
TEXT_KEPT_CHARS = 65536
"""Longer query texts are checked afresh each time rather than remembered."""
HEAVY_NICE = 2
"""How much lower the CPU priority of the heavy lane is. With the batch policy (the heavy
workers never preempt on waking), the fast lane and the server's own threads come first when
every core is busy; a small step only, so that heavy queries keep most of their share of a
machine that also runs other work (at nice 5 they ran up to a quarter slower there)."""
LEAST_MEMORY = 1024 * MIB
"""The default memory limit of a worker is never below this."""
SMALLEST_MEMORY = 512 * MIB
"""A smaller ``query_memory`` is refused: a worker could not even open the store."""

__all__ = ["QueryResult", "QueryService"]


@dataclass
class _Facts:
    """What the service knows of one query text: its lexical verdicts and, once run, form."""

    refusal: tuple[type[FairdicomError], str] | None
    cacheable: bool
    dataset_clause: bool
    cheap: bool
    form: str | None = None
    heavy: bool = False


def memory_limit(settings: Settings) -> int:
    """Return the bytes of memory one worker may use (``query_memory``, or the default)."""
    if settings.query_memory:
        if settings.query_memory * MIB < SMALLEST_MEMORY:
            raise ConfigError(
                f"query_memory = {settings.query_memory}: a worker maps about 200 MB just to "
                f"open the store; give it at least {SMALLEST_MEMORY // MIB} MB (or 0, the default)"
            )
        return settings.query_memory * MIB
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    processes = settings.query_workers + settings.fast_lane_workers + 1
    return max(LEAST_MEMORY, total // 2 // processes)


class QueryService:
    """Answer SPARQL queries, updates and Graph Store requests on the configured store."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache_bytes: int = CACHE_BYTES,
        busy_wait: float | None = None,
    ) -> None:
        self.settings = settings
        self.location = locate(settings)
        self.allowed = frozenset(settings.service_allow_list)
        self.memory = memory_limit(settings)
        self.cache = ResultCache(cache_bytes)
        self.clients = ClientLimits(settings.client_concurrency)
        self.logins = FailedLogins()
        self._known: OrderedDict[str, _Facts] = OrderedDict()
        self._known_lock = threading.Lock()
        self._writes = 0
        self._graphs: tuple[str | None, tuple[str, ...]] = (None, ())
        wait = float(settings.queue_wait if busy_wait is None else busy_wait)
        timeout = float(settings.query_timeout)
        limits = Limits(self.memory, sandbox=not self.allowed and self.location.local)
        queue = settings.queue_size
        self.pool = WorkerPool(
            settings.query_workers,
            timeout,
            wait,
            name="query",
            max_waiting=queue,
            limits=replace(limits, nice=HEAVY_NICE, batch=True),
        )
        fast_timeout = float(settings.fast_lane_timeout)
        self.fast = WorkerPool(
            settings.fast_lane_workers,
            fast_timeout,
            wait,
            name="fast",
            max_waiting=queue,
            limits=limits,
        )
        self.writer = WorkerPool(1, timeout, wait, name="write", max_waiting=queue, limits=limits)
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:
        """Make sure readers can open the store: create an empty one when there is none."""
        try:
            self.location.open(read_only=True).close()
        except StoreBusy:
            pass
        except StoreError:
            with contextlib.suppress(StoreBusy):  # an ingest is creating it
                self.location.open().close()

    def generation(self) -> str | None:
        """Return a stamp that changes whenever the store changes (by any process); None when
        the store cannot tell (then nothing is cached)."""
        token = self.location.generation()
        return None if token is None else f"{self._writes}-{token}"

    def query(
        self,
        text: str,
        *,
        accept: Sequence[str],
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
    ) -> QueryResult:
        """Run a SPARQL query; answer in the first accepted format that fits its form."""
        facts = self._facts(text)
        if facts.refusal is not None:
            kind, message = facts.refusal
            raise kind(message)
        defaults = tuple(protocol_iri(g) for g in default_graphs)
        named = tuple(protocol_iri(g) for g in named_graphs)
        explicit = bool(defaults or named)
        union = self.settings.union_default_graph and not explicit
        dataset = Dataset(
            defaults if explicit else None,
            named if explicit else None,
            union and not facts.dataset_clause,
        )
        generation = self.generation()
        scope = SCOPE.get()
        known: frozenset[str] | None = None
        if not scope.everything:
            names = self._graph_names(generation)
            if all(scope.may_read(graph) for graph in names):
                # Nothing to hide: the engine's own dataset, several times faster than a list
                # of graphs, as long as no graph has come since (checked by the worker).
                known = frozenset(names)
            else:
                dataset = self._restricted(dataset, scope, names, text, facts.dataset_clause)
        job = QueryJob(
            self.location,
            generation,
            text,
            tuple(accept),
            self.settings.max_rows,
            dataset,
            self.settings.base_iri or None,
            known,
        )
        if facts.form is not None:
            media_type = negotiate(facts.form, accept)
            if generation is not None:
                cached = self.cache.get((generation, text, dataset, known, media_type))
                if cached is not None:
                    return cached
            job = replace(job, accept=(media_type,))
        try:
            answer = _answer(self._read(job, facts))
        except NewGraphs:
            names = self._graph_names(None)
            restricted = self._restricted(dataset, scope, names, text, facts.dataset_clause)
            job = replace(job, dataset=restricted, known_graphs=None)
            answer = _answer(self._read(job, facts))
        facts.form = answer.form
        result = QueryResult(answer.body, answer.media_type, answer.truncated)
        if facts.cacheable and generation is not None:
            key = (generation, text, job.dataset, job.known_graphs, answer.media_type)
            self.cache.put(key, result, len(text))
        return result

    def _restricted(
        self, dataset: Dataset, scope: Scope, names: tuple[str, ...], text: str, clause: bool
    ) -> Dataset:
        """Limit a query's dataset to the graphs ``scope`` may read: the engine then reads no
        other graph, whatever the text says (FROM, GRAPH, paths, subqueries)."""
        if dataset.default_graphs is not None:  # default-graph-uri / named-graph-uri
            named = dataset.named_graphs or ()
            return Dataset(scope.visible(dataset.default_graphs), scope.visible(named))
        if clause:  # FROM / FROM NAMED: kept where readable
            given = Lexed(text).dataset_iris()
            if given is None:
                raise UsageError(
                    "with access control on, FROM and FROM NAMED need absolute IRIs or "
                    "prefixed names (no BASE); or give default-graph-uri / named-graph-uri"
                )
            return Dataset(scope.visible(given[0]), scope.visible(given[1]))
        graphs = scope.visible(names)
        # Always name the default graph: left out, the engine would honour a FROM the lexer
        # missed. Without the union it is empty (the store's own default graph has no name).
        return Dataset(graphs if dataset.union else (), graphs)

    def graph_names(self) -> tuple[str, ...]:
        """Return the names of the store's named graphs, whoever asks."""
        return self._graph_names(self.generation())

    def _graph_names(self, generation: str | None) -> tuple[str, ...]:
        """Return the store's named graphs (remembered for the current generation)."""
        if generation is not None and self._graphs[0] == generation:
            return self._graphs[1]
        job = QueryJob(self.location, generation, NAMED_GRAPHS, (TSV,), 0)
        lines = _answer(self._read(job, cheap=True)).body.decode().splitlines()[1:]
        names = tuple(line.strip()[1:-1] for line in lines if line.startswith("<"))
        if generation is not None:
            self._graphs = (generation, names)
        return names

    def _read(self, job: Job, facts: _Facts | None = None, cheap: bool = False) -> object:
        """Run a read job in the fast lane when it looks cheap, else in the heavy lane."""
        if facts is not None:
            cheap = not facts.heavy and (facts.cheap or FAST_PAGE.get())
        if cheap:
            try:
                return self.fast.run(job)
            except QueryTimeout:
                if facts is not None:
                    facts.heavy = True  # not cheap after all: the heavy lane, now and later
        with self.clients.admit(REQUESTER.get(), self.pool.retry_after):
            return self.pool.run(job)

    def _facts(self, text: str) -> _Facts:
        """Return what the lexical checks say of a query text (remembered for repeats)."""
        with self._known_lock:
            found = self._known.get(text)
            if found is not None:
                self._known.move_to_end(text)
                return found
        lexed = Lexed(text)
        refusal: tuple[type[FairdicomError], str] | None = None
        try:
            lexed.refuse_deep()
            lexed.refuse_remote(self.allowed, ("service",))
        except (Forbidden, UsageError) as exc:
            refusal = (type(exc), str(exc))
        facts = _Facts(refusal, lexed.cacheable(), lexed.has_dataset_clause(), lexed.cheap())
        if len(text) <= TEXT_KEPT_CHARS:
            with self._known_lock:
                self._known[text] = facts
                while len(self._known) > TEXTS_KEPT:
                    self._known.popitem(last=False)
        return facts

    def update(
        self,
        text: str,
        *,
        using_graphs: Sequence[str] = (),
        using_named_graphs: Sequence[str] = (),
    ) -> None:
        """Run a SPARQL update in one transaction (USING graphs from the protocol, if any)."""
        lexed = Lexed(text)
        lexed.refuse_deep()
        lexed.refuse_remote(self.allowed, ("service", "load"))
        text = lexed.with_using(list(using_graphs), list(using_named_graphs))
        self._write(UpdateJob(self.location, text, self.settings.base_iri or None))

    # Graph Store Protocol ------------------------------------------------------------------

    def graph_get(self, graph: str | None, accept: Sequence[str]) -> QueryResult | None:
        """Return a graph's content (None: the default graph), or None if it does not exist."""
        media_type = negotiate(GRAPH, accept)
        name = None if graph is None else protocol_iri(graph)
        if name is not None and not SCOPE.get().may_read(name):
            return None  # as if it did not exist: 404, not 403
        generation = self.generation()
        key = (generation, "graph-store", name, media_type)
        cached = self.cache.get(key) if generation is not None else None
        if cached is not None:
            return cached
        found = self._read(GraphJob(self.location, generation, name, (media_type,)))
        if found is None:
            return None
        answer = _answer(found)
        result = QueryResult(answer.body, answer.media_type)
        if generation is not None:
            self.cache.put(key, result, len(name or ""))
        return result

    def graph_exists(self, graph: str | None) -> bool:
        """Return whether a named graph exists (the default graph always does)."""
        if graph is None:
            return True
        if not SCOPE.get().may_read(protocol_iri(graph)):
            return False
        job = GraphJob(self.location, self.generation(), protocol_iri(graph), exists_only=True)
        return bool(self._read(job, cheap=True))

    def graph_put(self, graph: str | None, data: bytes, media_type: str) -> bool:
        """Replace a graph's content with an RDF document; return whether it was created."""
        return self._load(graph, data, media_type, replace_content=True)

    def graph_post(self, graph: str | None, data: bytes, media_type: str) -> bool:
        """Merge an RDF document into a graph; return whether the graph was created."""
        return self._load(graph, data, media_type, replace_content=False)

    def graph_delete(self, graph: str | None) -> bool:
        """Remove a named graph (empty the default graph); return False if it did not exist."""
        name = None if graph is None else protocol_iri(graph)
        return bool(self._write(DropJob(self.location, name)))

    def _load(self, graph: str | None, data: bytes, media_type: str, replace_content: bool) -> bool:
        name = None if graph is None else protocol_iri(graph)
        base = name or self.settings.base_iri or None
        job = LoadJob(self.location, name, data, media_type, base, replace_content)
        return bool(self._write(job))

    # Writes ----------------------------------------------------------------------------------

    def _write(self, job: Job) -> object:
        """Run a write job in the writer process; count the write when done."""
        try:
            return self.writer.run(job)
        except StoreLocked:
            raise StoreBusy(
                "an ingest is writing to the store; retry when it has finished"
            ) from None
        finally:
            with self._known_lock:
                self._writes += 1

    # Monitoring ------------------------------------------------------------------------------

    def lanes(self) -> list[PoolStats]:
        """Return the state of the fast lane, the heavy lane and the writer."""
        return [self.fast.stats(), self.pool.stats(), self.writer.stats()]

    def pids(self) -> list[int]:
        """Return the process ids of the heavy lane's workers (for monitoring and tests)."""
        return self.pool.pids()

    def all_pids(self) -> list[int]:
        """Return the process ids of every worker: fast lane, heavy lane, writer."""
        return sorted(self.fast.pids() + self.pool.pids() + self.writer.pids())

    def close(self) -> None:
        """Stop the workers and drop the cache."""
        for pool in ("fast", "pool", "writer"):
            if hasattr(self, pool):
                getattr(self, pool).close()
        self.cache.clear()

    def __enter__(self) -> QueryService:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _answer(value: object) -> Answer:
    """Return a worker's result as an Answer (anything else is the worker's fault)."""
    if not isinstance(value, Answer):
        raise FairdicomError(f"a worker answered {type(value).__name__} instead of an answer")
    return value
