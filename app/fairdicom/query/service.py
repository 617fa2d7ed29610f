"""The SPARQL service behind the HTTP endpoint: queries, updates and the Graph Store.

Reads (queries, Graph Store GET) run in worker processes (app/fairdicom/query/pool.py) that can be
killed on timeout; their serialised answers are cached by store generation. Writes (updates,
Graph Store PUT/POST/DELETE) run in this process, one at a time under one lock, on the store
opened read-write only for the duration of the write, so that ``fairdicom ingest`` can write
between them. ``SERVICE`` and ``LOAD`` are refused unless allow-listed (fairdicom/query/lexer.py).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from fairdicom.config import Settings
from fairdicom.errors import Forbidden, QuerySyntaxError, StoreBusy, StoreError, UsageError
from fairdicom.query.cache import QueryResult, ResultCache, store_generation
from fairdicom.query.lexer import Lexed, protocol_iri
from fairdicom.query.pool import WorkerPool
from fairdicom.sparql_files import sparql
from fairdicom.store.query_formats import GRAPH, negotiate
from fairdicom.store.query_worker import GraphRequest, ParseRequest, QueryRequest
from fairdicom.store.sparql_update import UpdateStore

CACHE_BYTES = 64 * 1024 * 1024
"""Memory the result cache may hold (serialised bodies, LRU)."""
TEXTS_KEPT = 4096
"""How many query texts the service remembers the facts of (checks, form), LRU."""
TEXT_KEPT_CHARS = 65536
"""Longer query texts are checked afresh each time rather than remembered."""

__all__ = ["QueryResult", "QueryService"]


@dataclass
class _Facts:
    """What the service knows of one query text: its lexical verdicts and, once run, form."""

    refusal: str | None
    cacheable: bool
    dataset_clause: bool
    form: str | None = None


class QueryService:
    """Answer SPARQL queries, updates and Graph Store requests on the embedded store."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache_bytes: int = CACHE_BYTES,
        busy_wait: float | None = None,
    ) -> None:
        if settings.store.startswith(("http://", "https://")):
            raise StoreError(
                f"{settings.store}: the SPARQL endpoint serves an embedded store only; "
                "point clients at the remote server itself"
            )
        self.settings = settings
        self.location = settings.store
        self.allowed = frozenset(settings.service_allow_list)
        self._wait = float(settings.query_timeout if busy_wait is None else busy_wait)
        self.cache = ResultCache(cache_bytes)
        self._known: OrderedDict[str, _Facts] = OrderedDict()
        self._known_lock = threading.Lock()
        self._writes = 0
        self._write_lock = threading.Lock()
        # Workers first: they come from a forkserver, but no store is open here before them.
        self.pool = WorkerPool(
            settings.query_workers,
            float(settings.query_timeout),
            self._wait,
            sandbox=not self.allowed,
        )
        try:
            if not (Path(self.location) / "CURRENT").exists():
                with self._writing():
                    pass  # create an empty store, so that readers can open it
        except StoreBusy:
            pass  # an ingest is creating it
        except BaseException:
            self.pool.close()
            raise

    def generation(self) -> str:
        """Return a stamp that changes whenever the store changes (by any process)."""
        return store_generation(self.location, self._writes)

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
            raise Forbidden(facts.refusal)
        defaults = tuple(protocol_iri(g) for g in default_graphs)
        named = tuple(protocol_iri(g) for g in named_graphs)
        explicit = bool(defaults or named)
        union = self.settings.union_default_graph and not explicit
        request = QueryRequest(
            store=self.location,
            generation="",
            text=text,
            accept=tuple(accept),
            max_rows=self.settings.max_rows,
            union=union and not facts.dataset_clause,
            default_graphs=defaults if explicit else None,
            named_graphs=named if explicit else None,
            base_iri=self.settings.base_iri or None,
        )
        key = (text, request.default_graphs, request.named_graphs, request.union)
        generation = self.generation()
        if facts.form is not None:
            media_type = negotiate(facts.form, accept)
            cached = self.cache.get((generation, *key, media_type))
            if cached is not None:
                return cached
            request = replace(request, accept=(media_type,))
        reply = self.pool.run(replace(request, generation=generation))
        facts.form = reply.form
        result = QueryResult(reply.body, reply.media_type, reply.truncated)
        if facts.cacheable:
            self.cache.put((generation, *key, reply.media_type), result, len(text))
        return result

    def _facts(self, text: str) -> _Facts:
        """Return what the lexical checks say of a query text (remembered for repeats)."""
        with self._known_lock:
            found = self._known.get(text)
            if found is not None:
                self._known.move_to_end(text)
                return found
        lexed = Lexed(text)
        try:
            lexed.refuse_remote(self.allowed, ("service",))
            refusal = None
        except Forbidden as exc:
            refusal = str(exc)
        facts = _Facts(refusal, lexed.cacheable(), lexed.has_dataset_clause())
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
        lexed.refuse_remote(self.allowed, ("service", "load"))
        self._write(lexed.with_using(list(using_graphs), list(using_named_graphs)))

    # Graph Store Protocol ------------------------------------------------------------------

    def graph_get(self, graph: str | None, accept: Sequence[str]) -> QueryResult | None:
        """Return a graph's content (None: the default graph), or None if it does not exist."""
        media_type = negotiate(GRAPH, accept)
        name = None if graph is None else protocol_iri(graph)
        generation = self.generation()
        key = (generation, "graph-store", name, media_type)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        reply = self.pool.run(GraphRequest(self.location, generation, name, (media_type,)))
        if not reply.found:
            return None
        result = QueryResult(reply.body, reply.media_type)
        self.cache.put(key, result, len(name or ""))
        return result

    def graph_exists(self, graph: str | None) -> bool:
        """Return whether a named graph exists (the default graph always does)."""
        if graph is None:
            return True
        request = GraphRequest(self.location, self.generation(), protocol_iri(graph))
        return self.pool.run(replace(request, exists_only=True)).found

    def graph_put(self, graph: str | None, data: bytes, media_type: str) -> bool:
        """Replace a graph's content with an RDF document; return whether it was created."""
        return self._load(graph, data, media_type, replace_content=True)

    def graph_post(self, graph: str | None, data: bytes, media_type: str) -> bool:
        """Merge an RDF document into a graph; return whether the graph was created."""
        return self._load(graph, data, media_type, replace_content=False)

    def graph_delete(self, graph: str | None) -> bool:
        """Remove a named graph (empty the default graph); return False if it did not exist."""
        with self._writing() as store:
            if graph is None:
                store.update(sparql(__file__, "graph_delete_default"))
                return True
            name = protocol_iri(graph)
            if name not in store.graphs():
                return False
            store.update(_fill(sparql(__file__, "graph_delete"), name, ""))
            return True

    def _load(self, graph: str | None, data: bytes, media_type: str, replace_content: bool) -> bool:
        name = None if graph is None else protocol_iri(graph)
        # Parse in a worker: a hostile document is bounded by the timeout like a query.
        request = ParseRequest(data, media_type, name or self.settings.base_iri or None)
        triples = self.pool.run(request).body.decode("utf-8")
        template = ("graph_put" if replace_content else "graph_post") + (
            "_default" if name is None else ""
        )
        with self._writing() as store:
            created = name is not None and name not in store.graphs()
            store.update(_fill(sparql(__file__, template), name, triples))
        return created

    # Writes ----------------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        with self._writing() as store:
            try:
                store.update_from(text, self.settings.base_iri or None)
            except SyntaxError as exc:
                raise QuerySyntaxError(str(exc)) from None
            except (RuntimeError, ValueError) as exc:
                raise UsageError(f"the update failed: {exc}") from None

    @contextmanager
    def _writing(self) -> Iterator[UpdateStore]:
        """Hold the write lock and the store open read-write; count the write when done."""
        if not self._write_lock.acquire(timeout=self._wait):
            raise StoreBusy("another update is being written; retry in a moment")
        try:
            try:
                store = UpdateStore(self.location)
            except StoreError as exc:
                if "LOCK" in str(exc):
                    raise StoreBusy(
                        "an ingest is writing to the store; retry when it has finished"
                    ) from None
                raise
            try:
                yield store
            finally:
                store.close()
                self._writes += 1
        finally:
            self._write_lock.release()

    def pids(self) -> list[int]:
        """Return the process ids of the query workers (for monitoring and tests)."""
        return self.pool.pids()

    def close(self) -> None:
        """Stop the workers and drop the cache."""
        self.pool.close()
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


def _fill(template: str, graph: str | None, data: str) -> str:
    """Put the graph IRI and the N-Triples data into an update template, in one pass."""
    values = {"GRAPH": f"<{graph}>" if graph else "", "DATA": data}
    return re.sub(r"\$(GRAPH|DATA)", lambda m: values[m.group(1)], template)
