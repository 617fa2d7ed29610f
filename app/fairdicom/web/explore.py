"""``/explore``: the faceted cohort explorer over the curated layer, and its take-away.

A view reads the facts of every series it may count
(:func:`fairdicom.explore.table.facts_query`: each property scanned once, as SPARQL TSV) through
the query service like any other query (same workers, limits and result cache, in the fast lane
as a page's query; the facts do not depend on the selection, so one answer serves every view of
a store generation: they are read once per generation, in the background, and the page
answers 202 "computing" and reloads itself while they are not ready after ``page_wait``
seconds), and counts each facet under every selection but its own
(:func:`fairdicom.explore.tally.count`). The page shows the same counts as one SPARQL query
(:func:`fairdicom.explore.sparql.view_query`: a GROUP BY per facet and chart) to open in the
query page. Counts are computed over the datasets the caller may read plus those whose
description says ``public_aggregates = true``, and every count below ``min_cell_count`` is shown
as "<5" (pages, charts, JSON). Record-level downloads (``/explore/cohort.csv|tsv|json``: one row
per series) read only what the caller may read, and a cohort of fewer patients than
``min_cell_count`` is refused (403). ``/explore/cohort.ttl`` and ``.jsonld`` describe the cohort
(a ``dcat:Dataset`` with its query and protected counts), which the admin saves into the store
with ``POST /explore/cohort`` (graph ``{base}graph/cohort-<key>``).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from markupsafe import Markup
from rdflib import Graph
from werkzeug.exceptions import NotFound

from fairdicom.access import ANONYMOUS, SCOPE, Scope
from fairdicom.catalog.descriptions import load_descriptions
from fairdicom.curation.vocabulary import vocabulary_graph
from fairdicom.errors import ConfigError, QueryTooLarge
from fairdicom.explore.cells import SmallCohort
from fairdicom.explore.cohort import cohort_id, describe, read_rows, rows_document
from fairdicom.explore.counts import Answer, resolve
from fairdicom.explore.facets import FACETS, Selection, read_selection
from fairdicom.explore.sparql import BRANCHES, Chosen, cohort_query, facet_query, view_query
from fairdicom.explore.table import Table, facts_query, read_table
from fairdicom.explore.tally import count
from fairdicom.media_types import RDF, SPARQL_JSON, TSV, Format
from fairdicom.namespaces import DataIris
from fairdicom.query.admission import FAST_PAGE
from fairdicom.web.auth import access, request_scope
from fairdicom.web.computing import Computations, computing_response
from fairdicom.web.explore_view import charts, facet_views
from fairdicom.web.protocol import conditional_get, negotiate, require_admin, service, settings

bp = Blueprint("explore", __name__, template_folder="templates")

JSON = SPARQL_JSON.media_type
ROWS = ("csv", "tsv", "json")
DESCRIPTIONS = {"ttl": ("turtle", "text/turtle"), "jsonld": ("json-ld", "application/ld+json")}
EXTENSIONS = (*ROWS, *DESCRIPTIONS, "rq")
_CURATED = re.compile(r"/graph/([^/]+)/curated$")


@dataclass(frozen=True)
class Context:
    """What one request counts over and may read."""

    iris: DataIris
    counted: tuple[str, ...]
    """Curated graphs whose counts the caller may see (readable, or public aggregates)."""
    readable: tuple[str, ...]
    """Curated graphs whose records the caller may read."""
    aggregate_scope: Scope
    threshold: int
    vocabulary: str


def _context() -> Context:
    config = settings()
    policy = access().policy()
    wide = policy.aggregate_scope(g.get("principal", ANONYMOUS))
    own = request_scope()
    curated = sorted(n for n in service().graph_names() if _CURATED.search(n))
    iris = DataIris(config.base_iri)
    return Context(
        iris,
        tuple(n for n in curated if wide.may_read(n)),
        tuple(n for n in curated if own.may_read(n)),
        wide,
        config.min_cell_count,
        vocabulary_graph(iris),
    )


@contextmanager
def _counting(context: Context) -> Iterator[None]:
    """Let the service count over the aggregate scope (queries built here only), in its fast
    lane: the facts query is a page's query, as the Linked Data and catalogue pages' are (on a
    store so large that it overruns ``fast_lane_timeout``, the service moves it to the heavy
    lane, once)."""
    token = SCOPE.set(context.aggregate_scope)
    fast = FAST_PAGE.set(True)
    try:
        yield
    finally:
        FAST_PAGE.reset(fast)
        SCOPE.reset(token)


@cache
def _titles(path: Path, stamp: float) -> dict[str, str]:
    try:
        datasets = load_descriptions(path).datasets
    except ConfigError:
        return {}
    return {s: d.title.get("en", next(iter(d.title.values()))) for s, d in datasets.items()}


def _dataset_titles() -> dict[str, str]:
    path = settings().descriptions_file
    return _titles(path, path.stat().st_mtime if path.exists() else 0.0)


TABLES_KEY = "fairdicom.explore.tables"
TABLES_KEPT = 4
"""How many fact tables (one per store generation and scope) the app keeps for repeats."""
_TABLES_LOCK = threading.Lock()


class Computing(Exception):
    """The facts of this store generation are being computed in the background."""


def _tables() -> Computations[Table]:
    with _TABLES_LOCK:
        tables: Computations[Table] = current_app.extensions.setdefault(
            TABLES_KEY, Computations(TABLES_KEPT)
        )
    return tables


ANSWERS_KEPT = 64
"""How many counted views (a facts table, a selection and a threshold) the app keeps."""
_answers: OrderedDict[tuple[Hashable, tuple[tuple[str, str], ...], int], Answer] = OrderedDict()


def _count(facts: tuple[Hashable, Table], selection: Selection, threshold: int) -> Answer:
    """Return the counts of a view of a facts table (its key: None, a table read every time),
    counted once per table, selection and threshold."""
    table_key, table = facts
    if table_key is None:
        return count(table, selection, threshold)
    key = (table_key, tuple(selection.pairs()), threshold)
    with _TABLES_LOCK:
        found = _answers.get(key)
        if found is not None:
            _answers.move_to_end(key)
            return found
    answer = count(table, selection, threshold)
    with _TABLES_LOCK:
        _answers[key] = answer
        while len(_answers) > ANSWERS_KEPT:
            _answers.popitem(last=False)
    return answer


def _table(context: Context, wait: float | None) -> tuple[Hashable, Table]:
    """Return the facts of every series the caller may count, read once per generation in the
    background; raise Computing when they are not ready within ``wait`` seconds (None: wait)."""
    text = facts_query(context.counted, context.vocabulary)
    generation = service().generation()
    queries, max_rows, titles = service(), settings().max_rows, _dataset_titles()

    def compute() -> Table:
        with _counting(context):
            result = queries.query(text, accept=[TSV.media_type])
        if result.truncated:
            raise QueryTooLarge(
                f"the explorer's facts are more than max_rows = {max_rows} rows: "
                "raise max_rows so that every series is counted"
            )
        return read_table(result.body, titles)

    if generation is None:  # a store that cannot tell its changes is read every time
        return None, compute()
    key = (generation, context.aggregate_scope.key, text)
    table = _tables().get(key, compute, wait)
    if table is None:
        raise Computing(text)
    return key, table


def _view(context: Context, wait: float | None = None) -> tuple[Selection, Answer, Chosen, Answer]:
    """Return the selection of the request, the values of every facet, and the counts."""
    selection = read_selection(list(request.args.items(multi=True)))
    current = _count(_table(context, wait), selection, context.threshold)
    chosen = resolve(selection, current)
    return selection, current, chosen, current


def _query_href(text: str) -> str:
    return url_for("pages.query", query=text)


@bp.get("/explore")
def explore() -> Response:
    """Show the explorer (HTML), or its counts as JSON (``?format=json``)."""
    return conditional_get(_explore)


def _explore() -> Response:
    context = _context()
    as_json = request.args.get("format") == "json"
    try:
        selection, known, chosen, current = _view(context, settings().page_wait)
    except Computing:
        return computing_response("explorer's counts", json=as_json)
    if as_json:
        return _counts_json(selection, known, current, context)
    text = view_query(chosen, context.counted, context.vocabulary)
    hrefs = {
        b.name: _query_href(facet_query(b.name, chosen, context.counted, context.vocabulary))
        for b in BRANCHES
    }
    page = url_for(".explore")
    query_string = urlencode(selection.pairs())
    suffix = f"?{query_string}" if query_string else ""
    html = render_template(
        "explore/explore.html",
        facets=facet_views(selection, known, current, context.threshold, page, hrefs),
        charts=[(c, Markup(c.svg)) for c in charts(current, hrefs)],
        total=current.total(context.threshold),
        selection=selection,
        threshold=context.threshold,
        query=text,
        query_href=_query_href(text),
        facts_query=facts_query(context.counted, context.vocabulary),
        cohort_query=cohort_query(chosen, context.readable),
        downloads={ext: url_for(".cohort", ext=ext) + suffix for ext in EXTENSIONS},
        counts_json=page + "?" + urlencode([*selection.pairs(), ("format", "json")]),
        clear=page,
        partial=len(context.counted) > len(context.readable),
    )
    return Response(html, mimetype="text/html")


def _counts_json(
    selection: Selection, known: Answer, current: Answer, context: Context
) -> Response:
    facets = {}
    for facet in FACETS:
        counts = current.counts.get(facet.key, {})
        facets[facet.key] = [
            {"value": v.param, "label": v.label, **counts[(v.param, "")].as_json()}
            for v in known.values.get(facet.key, {}).values()
            if (v.param, "") in counts
        ]
    charts_json = {
        name: [
            {"value": a, "value2": b, **c.as_json()}
            for (a, b), c in current.counts.get(name, {}).items()
        ]
        for name in ("chart:age-sex", "chart:modality-body-part", "chart:instances")
    }
    body = {
        "selection": selection.pairs(),
        "min_cell_count": context.threshold,
        "total": current.total(context.threshold).as_json(),
        "facets": facets,
        "charts": charts_json,
        "query": view_query(resolve(selection, known), context.counted, context.vocabulary),
    }
    return Response(json.dumps(body, indent=1), mimetype="application/json")


@bp.get("/explore/cohort.<ext>")
def cohort(ext: str) -> Response:
    """Send the cohort: its series (csv, tsv, json), its description (ttl, jsonld) or its
    query (rq)."""
    if ext not in EXTENSIONS:
        offered = ", ".join(f".{e}" for e in EXTENSIONS)
        raise NotFound(f"no cohort download .{ext}: there are {offered}")
    return conditional_get(lambda: _cohort(ext))


def _readable_choice(chosen: Chosen, context: Context) -> Chosen | None:
    """Return the selection limited to readable datasets (None: none of them is)."""
    selected = chosen.terms.get("dataset")
    if not selected:
        return chosen
    readable = {f"<{graph}>" for graph in context.readable}
    kept = tuple(term for term in selected if term in readable)
    if not kept:
        return None
    return Chosen({**chosen.terms, "dataset": kept}, chosen.ranges)


def _cohort(ext: str) -> Response:
    context = _context()
    selection, known, chosen, current = _view(context)
    if ext == "rq":
        text = cohort_query(chosen, context.readable)
        return Response(text, mimetype="application/sparql-query")
    if ext in DESCRIPTIONS:
        graph = _description(selection, known, chosen, current, context)
        name, media_type = DESCRIPTIONS[ext]
        return Response(graph.serialize(format=name), mimetype=media_type)
    mine = _readable_choice(chosen, context)
    body = b'{"head": {"vars": []}, "results": {"bindings": []}}'
    truncated = False
    if mine is not None and context.readable:
        result = service().query(cohort_query(mine, context.readable), accept=[JSON])
        body, truncated = result.body, result.truncated
    rows = read_rows(body, known)
    if 0 < rows.patients < context.threshold:
        raise SmallCohort(
            f"this cohort has fewer than {context.threshold} patients in the datasets you may "
            "read: its series are not downloaded (min_cell_count); widen the selection"
        )
    text, media_type = rows_document(rows, ext)
    response = Response(text, mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="cohort.{ext}"'
    if truncated:
        response.headers["Fairdicom-Truncated"] = str(settings().max_rows)
    return response


def _description(
    selection: Selection,
    known: Answer,
    chosen: Chosen,
    current: Answer,
    context: Context,
    node: str | None = None,
) -> Graph:
    """Return the cohort's description, named ``node`` (by default the address that serves it)."""
    graphs = [t[1:-1] for t in chosen.terms.get("dataset", ())] or context.counted
    datasets = sorted({m.group(1) for graph in graphs if (m := _CURATED.search(graph))})
    query_string = urlencode(selection.pairs())
    suffix = f"?{query_string}" if query_string else ""
    page = context.iris.base + "explore" + suffix
    return describe(
        selection,
        known,
        current.total(context.threshold),
        cohort_query(chosen, context.counted),
        context.iris,
        datasets,
        page,
        node or context.iris.base + "explore/cohort" + suffix,
    )


@bp.get("/explore/cohort")
def cohort_description() -> Response:
    """Describe the cohort in the negotiated RDF format (Turtle by default): the resource the
    description names, so its IRI dereferences."""
    fmt = negotiate(RDF)
    return conditional_get(lambda: _cohort_rdf(fmt))


def _cohort_rdf(fmt: Format) -> Response:
    context = _context()
    selection, known, chosen, current = _view(context)
    graph = _description(selection, known, chosen, current, context)
    if fmt.rdflib is None:  # pragma: no cover - every RDF format has a serialiser
        raise NotFound(f"no description as {fmt.label}")
    response = Response(graph.serialize(format=fmt.rdflib), mimetype=fmt.media_type)
    response.vary.add("Accept")
    return response


@bp.post("/explore/cohort")
def save_cohort() -> Response:
    """Save the cohort's description into the store (admin token): graph
    ``{base}graph/cohort-<key>``; answer 201 with its IRI."""
    require_admin()
    context = _context()
    selection, known, chosen, current = _view(context)
    key = cohort_id(selection)
    iri = context.iris.resource("cohort", key)
    graph = _description(selection, known, chosen, current, context, iri)
    name = f"{context.iris.base}graph/cohort-{key}"
    created = service().graph_put(name, graph.serialize(format="turtle").encode(), "text/turtle")
    body = json.dumps({"cohort": iri, "graph": name})
    response = Response(body, 201 if created else 200, mimetype="application/json")
    response.headers["Location"] = iri
    return response
