"""Curation pages: ``/mappings`` (the mapping table in force), ``/mappings/coverage``, and the
admin endpoint that starts a remap and reports its progress.

``/mappings`` reads the mappings graph and the curated graphs through the query service:
each query (rule or table) with the properties it writes, the attributes it reads and
example values from the store, the value tables, and which mapping version made each curated
graph. ``/mappings/coverage`` runs :func:`fairdicom.curation.coverage.coverage` (cached per store
generation). ``POST /admin/remap`` (``Authorization: Bearer <admin token>``; ``?dataset=SLUG``
optional) starts ``fairdicom mapping apply`` in a thread of the server and answers 202 with
the job's URL; ``GET /admin/remap/<id>`` reports its state, series done and total, and at the
end what it changed. One remap runs at a time (409 otherwise).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
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
from fairdicom.sparql_files import sparql
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


def _rows(text: str) -> list[dict[str, str]]:
    """Run a SELECT through the query service; return rows of variable -> value."""
    result = service().query(text, accept=[media_types.SPARQL_JSON.media_type])
    bindings = json.loads(result.body)["results"]["bindings"]
    return [{k: v["value"] for k, v in row.items()} for row in bindings]


def compact(iri: str) -> str:
    """Return an IRI as a prefixed name when a known prefix fits."""
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


@bp.get("/mappings")
def mappings_page() -> Response:
    """Show the mapping table in force: query -> property -> example values."""
    iris = DataIris(settings().base_iri)
    graph = f"<{mappings_graph(iris)}>"
    queries = _rows(sparql(__file__, "mapping_queries").replace("$GRAPH", graph))
    writes = sorted({row["writes"] for row in queries if "writes" in row})
    examples: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    if writes:
        values = " ".join(f"<{w}>" for w in writes)
        for row in _rows(sparql(__file__, "mapping_examples").replace("$PROPERTIES", values)):
            found = examples[row["property"]]
            if len(found) < EXAMPLES:
                found.append((compact(row["value"]), row.get("label", ""), row["count"]))
    rows = _rows(sparql(__file__, "mapping_rows").replace("$GRAPH", graph))
    versions = _rows(
        sparql(__file__, "graph_versions").replace("$PROVENANCE", f"<{iris.provenance_graph}>")
    )
    page = render_template(
        "curation/mappings.html",
        version=queries[0]["version"] if queries else None,
        commit=queries[0].get("commit") if queries else None,
        queries=queries,
        examples=examples,
        rows=rows,
        versions=versions,
        compact=compact,
    )
    return Response(page, mimetype="text/html")


_covered: dict[tuple[str | None, str], list[DatasetCoverage]] = {}
_covered_lock = threading.Lock()


@bp.get("/mappings/coverage")
def coverage_page() -> Response:
    """Show what each dataset's raw layer holds and how much of it the mappings use."""
    key = (service().generation(), settings().mappings_folder.as_posix())
    with _covered_lock:
        found = _covered.get(key) if key[0] is not None else None
    if found is None:
        found = coverage(settings())
        with _covered_lock:
            _covered.clear()
            _covered[key] = found
    shown = [d for d in found if SCOPE.get().may_read_dataset(d.dataset)]  # access_control
    page = render_template("curation/coverage.html", datasets=shown, compact=compact)
    return Response(page, mimetype="text/html")
