"""Authenticate each request once and set what it may read (``access_control``).

The bearer token of ``Authorization`` names the principal: the admin token, an API key of
``api_keys``, or an OpenID Connect JWT of ``oidc_issuer``; no token is the anonymous reader.
A token that is none of these answers 401 (with ``WWW-Authenticate``), reads and writes alike,
and counts as a failed login of the client like a wrong admin token. The principal's scope
(:class:`fairdicom.access.Scope`) goes to the query service through
:data:`fairdicom.access.SCOPE`; the catalogue's own pages (DCAT, OAI-PMH, FAIR Data Point,
landing pages) are public by design and read with the full scope. Record-level reads that a
non-public dataset's grant allowed are written to the audit log, which ``GET /access/audit``
shows to the admin.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

from fairdicom.access import ADMIN, ANONYMOUS, EVERYTHING, SCOPE, Principal, Scope
from fairdicom.access.api_keys import ApiKeys
from fairdicom.access.audit import AuditLog
from fairdicom.access.oidc import OidcVerifier
from fairdicom.access.policy import Policy
from fairdicom.access.rows import count_rows
from fairdicom.catalog.descriptions import load_descriptions
from fairdicom.config import Settings
from fairdicom.errors import Unauthorized
from fairdicom.web.protocol import (
    bearer,
    is_admin,
    require_admin,
    service,
    settings,
    urlencoded,
)

bp = Blueprint("access", __name__)

AUTH_KEY = "fairdicom.access"
PUBLIC_BLUEPRINTS = frozenset({"catalog", "oai", "fdp"})
"""Blueprints of the catalogue, public by design: their pages read with the full scope."""
RECORD_ENDPOINTS = frozenset(
    {
        "sparql.endpoint",
        "graph_store.indirect",
        "graph_store.direct",
        "linked_data.resource",
        "explore.cohort",
    }
)
"""Endpoints whose answers can hold records (the catalogue's dumps are checked by slug; the
explorer's cohort downloads only as series rows)."""
COHORT_ROWS = frozenset({"csv", "tsv", "json"})
AUDIT_FILE = "audit.log"


class Access:
    """The site's policy, authenticators and audit log."""

    def __init__(self, config: Settings) -> None:
        self.settings = config
        self.keys = ApiKeys(config.api_keys)
        self.oidc = (
            OidcVerifier(
                config.oidc_issuer,
                config.oidc_audience,
                config.oidc_algorithms,
                config.oidc_group_claims,
                config.oidc_entitlement_claims,
            )
            if config.oidc_issuer
            else None
        )
        self.audit: AuditLog | None = None
        if config.access_control:
            path = Path(config.audit_log) if config.audit_log else config.data_folder / AUDIT_FILE
            self.audit = AuditLog(path)
        self._policy: tuple[float, Policy] | None = None
        self._lock = threading.Lock()
        self.policy()  # a wrong grant or descriptions file stops the server at its start

    def policy(self) -> Policy:
        """Return the policy, read again when the descriptions file has changed."""
        file = self.settings.descriptions_file
        stamp = file.stat().st_mtime if file.exists() else 0.0
        with self._lock:
            if self._policy is None or self._policy[0] != stamp:
                described = (
                    load_descriptions(file).datasets if self.settings.access_control else {}
                )
                levels = {s: d.access_level for s, d in described.items()}
                aggregates = [s for s, d in described.items() if d.public_aggregates]
                policy = Policy(
                    levels,
                    self.settings.access_grants,
                    enforced=self.settings.access_control,
                    aggregates=aggregates,
                )
                self._policy = (stamp, policy)
            return self._policy[1]

    def signed(self, token: str) -> bool:
        """Return whether ``token`` is checked as a signed JWT (not compared as a secret)."""
        return self.oidc is not None and token.count(".") == 2

    def principal(self, token: str) -> Principal:
        """Return who holds ``token`` ("" is anonymous); raise Unauthorized for a wrong one."""
        if not token:
            return ANONYMOUS
        if is_admin(token):
            return ADMIN
        found = self.keys.principal(token)
        if found is not None:
            return found
        if self.signed(token):
            assert self.oidc is not None
            return self.oidc.principal(token)
        raise Unauthorized("the bearer token is not one this server knows; sign in again")


def access_notes(app: Flask, graphs: list[str]) -> list[str]:
    """Say, when the server starts, which of the store's datasets anonymous readers cannot
    read (their catalogue entries stay public), and how to open one."""
    state: Access = app.extensions[AUTH_KEY]
    if not state.settings.access_control:
        return ["access_control = false: every reader may read every graph"]
    policy = state.policy()
    slugs = sorted({slug for graph in graphs if (slug := EVERYTHING.dataset_of(graph))})
    closed = [
        f"{slug} ({policy.levels.get(slug, 'no description: NON_PUBLIC')})"
        for slug in slugs
        if slug not in policy.public()
    ]
    if not closed:
        return []
    return [
        f"records closed to anonymous readers: {', '.join(closed)}; open a dataset with "
        'access_rights = "PUBLIC" in its description, or grant it (access_grants, '
        "docs/access.md)"
    ]


def access() -> Access:
    """Return the app's access state."""
    value: Access = current_app.extensions[AUTH_KEY]
    return value


def init_app(app: Flask, config: Settings) -> None:
    """Authenticate every request of ``app`` and audit its record-level reads."""
    app.extensions[AUTH_KEY] = Access(config)
    app.register_blueprint(bp)
    app.before_request(authenticate)
    app.after_request(audit)


def authenticate() -> None:
    """Name the request's principal and set its scope (401 for a token nobody issued)."""
    state = access()
    g.principal = ANONYMOUS
    g.scope = EVERYTHING
    SCOPE.set(EVERYTHING)
    if not state.settings.access_control:
        return
    token = bearer()
    logins = service().logins
    client = f"address {request.remote_addr or 'unknown'}"
    guessable = bool(token) and not state.signed(token)  # a secret compared, not a signature
    if guessable:
        logins.check(client)
    try:
        principal = state.principal(token)
    except Unauthorized:
        if guessable:
            logins.failed(client)
        raise
    scope = state.policy().scope(principal)
    g.principal, g.scope = principal, scope
    SCOPE.set(EVERYTHING if request.blueprint in PUBLIC_BLUEPRINTS else scope)


def request_scope() -> Scope:
    """Return what the current request's principal may read."""
    scope: Scope = g.get("scope", EVERYTHING)
    return scope


def audit(response: Response) -> Response:
    """Write an audit entry for a record-level read a non-public dataset's grant allowed."""
    log = access().audit
    scope = request_scope()
    if log is None or not scope.audited or response.status_code != 200:
        return response
    endpoint = request.endpoint or ""
    if endpoint not in RECORD_ENDPOINTS and endpoint != "catalog.dump":
        return response
    datasets = scope.audited
    asked = request.full_path
    if endpoint == "sparql.endpoint":
        if request.mimetype == "application/sparql-query":
            asked = request.get_data(as_text=True)
        else:
            params = urlencoded(request.query_string)
            if request.method == "POST":
                params.update(urlencoded(request.get_data(), "the form"))
            if "query" not in params:
                return response  # the service description: counts, not records
            asked = params["query"]
    elif endpoint.startswith("graph_store."):
        graph = request.args.get("graph")
        slug = scope.dataset_of(graph) if graph else None
        if slug not in datasets:
            return response
        datasets = (slug,)
    elif endpoint == "explore.cohort" and (request.view_args or {}).get("ext") not in COHORT_ROWS:
        return response  # the cohort's description or query: counts, not records
    elif endpoint == "catalog.dump":
        slug = (request.view_args or {}).get("slug")
        if slug not in datasets:
            return response
        datasets = (slug,)
    rows = (
        None if response.direct_passthrough else count_rows(response.get_data(), response.mimetype)
    )
    digest = hashlib.sha256(asked.encode()).hexdigest()
    log.record(g.principal.name, datasets, request.path, digest, rows)
    return response


@bp.get("/access/audit")
def audit_entries() -> Response:
    """Show the newest audit entries to the admin (``?principal=``, ``?dataset=``, ``?limit=``)."""
    require_admin()
    log = access().audit
    entries: list[dict[str, Any]] = []
    if log is not None:
        limit = request.args.get("limit", "1000")
        entries = log.read(
            int(limit) if limit.isdigit() else 1000,
            request.args.get("principal"),
            request.args.get("dataset"),
        )
    body = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
    return Response(body, mimetype="application/x-ndjson")


@bp.get("/access/me")
def whoami() -> Response:
    """Say who the server takes the caller for and which datasets it may read."""
    principal: Principal = g.get("principal", ANONYMOUS)
    scope = request_scope()
    readable = None if scope.readable is None else sorted(scope.readable)
    data = {
        "principal": principal.name,
        "groups": sorted(principal.groups),
        "entitlements": sorted(principal.entitlements),
        "datasets": readable if readable is not None else "all",
        "access_control": settings().access_control,
    }
    return Response(json.dumps(data), mimetype="application/json")
