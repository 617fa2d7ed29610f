"""Curation pages: ``/mappings`` (the mapping table in force), ``/mappings/coverage``, and the
admin endpoint that starts a remap and reports its progress.

``/mappings`` reads the mappings graph and the curated graphs through the query service: each
query (rule or table) with the properties it writes, the attributes it reads and example values
from the store, the value tables, and which mapping version made each curated graph (each
property's most frequent values). ``/mappings/coverage`` runs
:func:`fairdicom.curation.coverage.coverage`. Both are computed once per store generation (and
scope) in the background: a view waits ``page_wait`` seconds for them, then answers 202
"computing" and reloads itself until they are ready. ``POST /admin/remap`` (``Authorization:
Bearer <admin token>``; ``?dataset=SLUG`` optional) starts ``fairdicom mapping apply`` in a
thread of the server and answers 202 with the job's URL; ``GET /admin/remap/<id>`` reports its
state, series done and total, and at the end what it changed. One remap runs at a time (409
otherwise).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from werkzeug.exceptions import Conflict, NotFound

from fairdicom import media_types
from fairdicom.access import SCOPE
from fairdicom.config import Settings
from fairdicom.curation.coverage import DatasetCoverage, coverage
from fairdicom.curation.remap import remap
from fairdicom.curation.report import remap_lines
from fairdicom.curation.vocabulary import mappings_graph
from fairdicom.errors import FairdicomError
from fairdicom.namespaces import PREFIXES, DataIris
from fairdicom.query.service import QueryService
from fairdicom.sparql_files import sparql
from fairdicom.web.computing import Computations, computing_response
from fairdicom.web.protocol import require_admin, service, settings

bp = Blueprint("curation", __name__, template_folder="templates")
JOBS_KEY = "fairdicom.remap_jobs"
EXAMPLES = 3


@dataclass
class RemapJob:
    """One remap started over HTTP, and how far it is."""

    id: str
    dataset: str | None
    state: str = "running"
    done: int = 0
    total: int = 0
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    ended: str | None = None
    report: list[str] = field(default_factory=list)
    error: str | None = None


class RemapJobs:
    """The remaps of this server: one at a time, each run in a thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, RemapJob] = {}

    def start(self, config: Settings, dataset: str | None) -> RemapJob:
        """Start a remap unless one is running; return its job."""
        with self.lock:
            if any(job.state == "running" for job in self.jobs.values()):
                raise Conflict("a remap is running: wait for it to end (GET its URL)")
            job = RemapJob(uuid.uuid4().hex, dataset)
            self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, config), daemon=True).start()
        return job

    def _run(self, job: RemapJob, config: Settings) -> None:
        def total(count: int) -> None:
            job.total = count

        def progress(count: int) -> None:
            job.done += count

        try:
            summary = remap(config, job.dataset, total=total, progress=progress)
            job.report, job.state = remap_lines(summary), "done"
        except FairdicomError as exc:
            job.error, job.state = str(exc), "failed"
        except Exception as exc:  # the job reports what it can, never a traceback
            job.error, job.state = f"internal error {type(exc).__name__}", "failed"
        job.ended = datetime.now(UTC).isoformat(timespec="seconds")


def _jobs() -> RemapJobs:
    jobs: RemapJobs = current_app.extensions.setdefault(JOBS_KEY, RemapJobs())
    return jobs


def _json(data: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(data, indent=2), status, mimetype="application/json")


@bp.post("/admin/remap")
def start_remap() -> Response:
    """Start a remap of every dataset (or ``?dataset=SLUG``); answer 202 with its URL."""
    require_admin()
    job = _jobs().start(settings(), request.args.get("dataset") or None)
    response = _json(asdict(job), 202)
    response.headers["Location"] = url_for(".remap_status", job_id=job.id)
    return response


@bp.get("/admin/remap/<job_id>")
def remap_status(job_id: str) -> Response:
    """Report a remap's state, series done and total, and at the end what it changed."""
    require_admin()
    job = _jobs().jobs.get(job_id)
    if job is None:
        raise NotFound(f"no remap {job_id} on this server")
    return _json(asdict(job))


def compact(iri: str) -> str:
    """Return an IRI as a prefixed name when a known prefix fits."""
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


@dataclass(frozen=True)
class MappingTable:
    """What ``/mappings`` shows: the queries, their example values, the SSSOM rows, the
    versions of the curated graphs."""

    queries: list[dict[str, str]]
    examples: dict[str, list[tuple[str, str, str]]]
    rows: list[dict[str, str]]
    versions: list[dict[str, str]]


MAPPINGS_KEY = "fairdicom.mapping_tables"
_mappings_lock = threading.Lock()


def _mapping_tables() -> Computations[MappingTable]:
    with _mappings_lock:
        tables: Computations[MappingTable] = current_app.extensions.setdefault(
            MAPPINGS_KEY, Computations(4)
        )
    return tables


def _mapping_table(queries_service: QueryService, iris: DataIris, curated: str) -> MappingTable:
    """Read what ``/mappings`` shows; the examples of each property are its most frequent
    values in the curated graphs (``curated``: their IRIs as SPARQL terms)."""

    def rows_of(text: str) -> list[dict[str, str]]:
        result = queries_service.query(text, accept=[media_types.SPARQL_JSON.media_type])
        bindings = json.loads(result.body)["results"]["bindings"]
        return [{k: v["value"] for k, v in row.items()} for row in bindings]

    graph = f"<{mappings_graph(iris)}>"
    queries = rows_of(sparql(__file__, "mapping_queries").replace("$GRAPH", graph))
    examples: dict[str, list[tuple[str, str, str]]] = {}
    for write in sorted({row["writes"] for row in queries if "writes" in row}):
        text = (
            sparql(__file__, "mapping_examples")
            .replace("$PROPERTY", f"<{write}>")
            .replace("$GRAPHS", curated)
            .replace("$LIMIT", str(EXAMPLES))
        )
        found = [(compact(r["value"]), r.get("label", ""), r["count"]) for r in rows_of(text)]
        if found:
            examples[write] = found
    rows = rows_of(sparql(__file__, "mapping_rows").replace("$GRAPH", graph))
    provenance = f"<{iris.provenance_graph}>"
    versions = rows_of(sparql(__file__, "graph_versions").replace("$PROVENANCE", provenance))
    return MappingTable(queries, examples, rows, versions)


@bp.get("/mappings")
def mappings_page() -> Response:
    """Show the mapping table in force: query -> property -> example values (read once per
    store generation in the background; 202 "computing" while not ready after page_wait)."""
    iris = DataIris(settings().base_iri)
    scope = SCOPE.get()
    names = sorted(n for n in service().graph_names() if n.endswith("/curated"))
    curated = " ".join(f"<{n}>" for n in names if scope.may_read(n))
    queries_service, generation = service(), service().generation()

    def compute() -> MappingTable:
        return _mapping_table(queries_service, iris, curated or "<urn:fairdicom:no-dataset>")

    if generation is None:  # a store that cannot tell its changes is read every time
        table: MappingTable | None = compute()
    else:
        key = (generation, scope.key, iris.base, curated)
        table = _mapping_tables().get(key, compute, settings().page_wait)
    if table is None:
        return computing_response("mappings' example values")
    queries = table.queries
    page = render_template(
        "curation/mappings.html",
        version=queries[0]["version"] if queries else None,
        commit=queries[0].get("commit") if queries else None,
        queries=queries,
        examples=table.examples,
        rows=table.rows,
        versions=table.versions,
        compact=compact,
    )
    return Response(page, mimetype="text/html")


COVERAGE_KEY = "fairdicom.coverage"


@bp.get("/mappings/coverage")
def coverage_page() -> Response:
    """Show what each dataset's raw layer holds and how much of it the mappings use (computed
    once per store generation in the background; 202 "computing" while not ready after
    page_wait)."""
    config = settings()
    generation = service().generation()
    if generation is None:  # a store that cannot tell its changes is read every time
        found: list[DatasetCoverage] | None = coverage(config)
    else:
        with _mappings_lock:
            computed: Computations[list[DatasetCoverage]] = current_app.extensions.setdefault(
                COVERAGE_KEY, Computations(1)
            )
        key = (generation, config.mappings_folder.as_posix())
        found = computed.get(key, lambda: coverage(config), config.page_wait)
    if found is None:
        return computing_response("mapping coverage")
    shown = [d for d in found if SCOPE.get().may_read_dataset(d.dataset)]  # access_control
    page = render_template("curation/coverage.html", datasets=shown, compact=compact)
    return Response(page, mimetype="text/html")
