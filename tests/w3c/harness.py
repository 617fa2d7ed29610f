"""The HTTP exchanges of the W3C protocol tests, run against a real ``fairdicom serve``.

A case is a list of steps; each step sends one request and checks the reply (set-up steps
check nothing). ``$BASE$`` in a body is the server's URL (its ``base_iri`` too); a path may
be ``$LOCATION$``, the ``Location`` of the last reply that had one.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import rdflib
from rdflib.compare import isomorphic

TOKEN = "w3c-admin-token"
RESULTS = ("application/sparql-results+xml", "application/sparql-results+json")
TABLES = (*RESULTS, "text/csv", "text/tab-separated-values")
RDF = (
    "text/turtle",
    "application/n-triples",
    "application/rdf+xml",
    "application/ld+json",
    "text/n3",
)


@dataclass(frozen=True)
class Reply:
    """What the server answered."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    base: str

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


Check = Callable[[Reply], None]


@dataclass(frozen=True)
class Step:
    """One request of a test case and what its reply must satisfy (nothing for set-up)."""

    method: str
    path: str
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    admin: bool = False
    checks: tuple[Check, ...] = ()


def status(*codes: int) -> Check:
    """Check that the status is one of ``codes``."""

    def check(reply: Reply) -> None:
        assert reply.status in codes, (reply.status, reply.body[:300])

    return check


def media(*types: str) -> Check:
    """Check that the Content-Type is one of ``types``."""

    def check(reply: Reply) -> None:
        assert reply.media_type in types, reply.media_type

    return check


def boolean(value: bool) -> Check:
    """Check an ASK result (SPARQL results in JSON or XML)."""

    def check(reply: Reply) -> None:
        if reply.media_type.endswith("json"):
            assert json.loads(reply.body)["boolean"] is value, reply.body
        else:
            assert f"<boolean>{str(value).lower()}</boolean>" in reply.body.decode(), reply.body

    return check


def graph(turtle: str) -> Check:
    """Check that the body is the RDF graph ``turtle`` (blank nodes compared as such)."""

    def check(reply: Reply) -> None:
        expected = rdflib.Graph().parse(data=turtle.replace("$BASE$", reply.base), format="turtle")
        fmt = {"application/n-triples": "nt", "application/rdf+xml": "xml"}.get(
            reply.media_type, "turtle"
        )
        got = rdflib.Graph().parse(data=reply.body.decode(), format=fmt)
        assert isomorphic(got, expected), reply.body.decode()

    return check


def no_body(reply: Reply) -> None:
    """Check that the reply has no body (HEAD)."""
    assert reply.body == b""


class Server:
    """The base URL of a running server and a way to talk to it."""

    def __init__(self, base: str, port: int) -> None:
        self.base = base
        self.port = port

    def send(self, step: Step, location: str = "") -> Reply:
        """Send one request on a fresh connection and read the whole reply."""
        path = step.path.replace("$LOCATION$", location).replace(self.base, "/")
        body = step.body.encode() if isinstance(step.body, str) else step.body
        body = body.replace(b"$BASE$", self.base.encode())
        headers = dict(step.headers)
        if step.admin:
            headers["Authorization"] = f"Bearer {TOKEN}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(step.method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            found = {k.lower(): v for k, v in response.getheaders()}
            return Reply(response.status, found, data, self.base)
        finally:
            connection.close()

    def run(self, steps: tuple[Step, ...]) -> None:
        """Run the steps of one case in order, checking each reply."""
        location = ""
        for step in steps:
            reply = self.send(step, location)
            location = reply.headers.get("location", location)
            for check in step.checks:
                check(reply)
