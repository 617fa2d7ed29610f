"""``/status``: the endpoint's limits, queues and counters, as JSON or in Prometheus text format.

JSON by default; the Prometheus text exposition format (version 0.0.4) for ``?format=prometheus``
or an ``Accept`` that prefers ``text/plain`` or ``application/openmetrics-text`` (as Prometheus
sends). Nothing in it names a client or a query.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request

from fairdicom.errors import UsageError
from fairdicom.query.monitoring import snapshot
from fairdicom.web.protocol import service

bp = Blueprint("status", __name__)

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES = {
    "answered": "answered",
    "refused": "refused",
    "timeouts": "timeout",
    "memory_stops": "memory",
    "crashes": "crash",
}
"""Counters of a lane, by the ``outcome`` label they get."""
GAUGES = {
    "workers": "Worker processes of the lane.",
    "busy": "Workers of the lane running a request now.",
    "waiting": "Requests waiting for a worker of the lane now.",
    "max_waiting": "Most requests that may wait for the lane (queue_size).",
}


@bp.get("/status")
def status() -> Response:
    """Describe the limits, the queues and the counters of the endpoint."""
    data = snapshot(service())
    wanted = request.args.get("format")
    if wanted not in (None, "json", "prometheus"):
        raise UsageError(f"format={wanted} is not offered here: use json or prometheus")
    best = request.accept_mimetypes.best_match(
        ["application/json", "text/plain", "application/openmetrics-text"], "application/json"
    )
    if wanted == "prometheus" or (wanted is None and best != "application/json"):
        response = Response(prometheus(data), mimetype="text/plain")
        response.headers["Content-Type"] = PROMETHEUS
    else:
        response = Response(json.dumps(data, indent=2) + "\n", mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept")
    return response


def prometheus(data: dict[str, Any]) -> str:
    """Return the snapshot in the Prometheus text exposition format."""
    out = _Metrics()
    out.one("fairdicom_uptime_seconds", "gauge", "Seconds since start.", data["uptime_seconds"])
    for name, value in data["limits"].items():
        out.one(f"fairdicom_limit_{name}", "gauge", f"The {name} setting in force.", value)
    lanes = data["lanes"]
    for field, text in GAUGES.items():
        rows = [({"lane": lane["name"]}, lane[field]) for lane in lanes]
        out.add(f"fairdicom_lane_{field}", "gauge", text, rows)
    rows = [
        ({"lane": lane["name"], "outcome": label}, lane[field])
        for lane in lanes
        for field, label in OUTCOMES.items()
    ]
    out.add("fairdicom_lane_requests_total", "counter", "Requests by outcome.", rows)
    rows = [({"lane": lane["name"]}, lane["replaced"]) for lane in lanes]
    out.add("fairdicom_lane_workers_replaced_total", "counter", "Workers replaced.", rows)
    clients, tokens, cache = data["clients"], data["tokens"], data["cache"]
    out.one(
        "fairdicom_clients_with_heavy_queries",
        "gauge",
        "Clients with heavy queries running or waiting.",
        clients["with_heavy_queries"],
    )
    out.one(
        "fairdicom_client_refused_total",
        "counter",
        "Requests refused over client_concurrency.",
        clients["refused"],
    )
    out.one(
        "fairdicom_token_clients_locked_out",
        "gauge",
        "Clients locked out after wrong tokens.",
        tokens["clients_locked_out"],
    )
    out.one(
        "fairdicom_token_refused_total", "counter", "Writes refused (lock-out).", tokens["refused"]
    )
    for field in ("entries", "bytes", "max_bytes"):
        out.one(f"fairdicom_cache_{field}", "gauge", f"Result cache: {field}.", cache[field])
    for field in ("hits", "misses"):
        out.one(f"fairdicom_cache_{field}_total", "counter", f"Result cache {field}.", cache[field])
    return out.text()


class _Metrics:
    """Collect metric families and write them in the text exposition format."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(
        self, name: str, kind: str, text: str, rows: list[tuple[dict[str, str], float]]
    ) -> None:
        self.lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for labels, value in rows:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{inner}}} {value}" if inner else f"{name} {value}")

    def one(self, name: str, kind: str, text: str, value: float) -> None:
        self.add(name, kind, text, [({}, value)])

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
