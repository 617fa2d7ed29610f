"""A reverse proxy on loopback in front of a real Orthanc, as sites put nginx in front of
their PACS: it checks a bearer token, counts the requests in flight, and can answer some
studies with the failures harvesting must survive (503, malformed JSON, metadata cut off
half-way, metadata with an instance missing) or hold a request until the test lets it go.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("503", "malformed", "cut", "short")


@dataclass
class ProxyState:
    """What the proxy does, and what it saw."""

    upstream: tuple[str, int]
    token: str = ""
    faults: dict[str, str] = field(default_factory=dict)
    """StudyInstanceUID -> fault of its WADO-RS metadata requests (one of FAULTS)."""
    hold_after: int | None = None
    """Hold the metadata requests after this many until ``release`` is set."""
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0
    metadata: int = 0
    unauthorized: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        state = self.server.state
        if state.token and self.headers.get("Authorization") != f"Bearer {state.token}":
            with state.lock:
                state.unauthorized += 1
            self._answer(401, b'{"error": "bearer token required"}')
            return
        with state.lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            self._forward(state)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _forward(self, state: ProxyState) -> None:
        path = urlsplit(self.path).path
        fault = ""
        if path.endswith("/metadata"):
            with state.lock:
                state.metadata += 1
                number = state.metadata
            if state.hold_after is not None and number > state.hold_after:
                state.held.set()
                state.release.wait(120)
            fault = next((f for uid, f in state.faults.items() if f"/studies/{uid}/" in path), "")
        if fault == "503":
            self._answer(503, b'{"error": "busy"}')
            return
        upstream = http.client.HTTPConnection(*state.upstream, timeout=60)
        try:
            upstream.request("GET", self.path, headers={"Accept": self.headers.get("Accept", "")})
            answer = upstream.getresponse()
            body = answer.read()
        except OSError:
            self._answer(502, b'{"error": "the PACS behind this proxy does not answer"}')
            return
        finally:
            upstream.close()
        kind = answer.getheader("Content-Type", "application/octet-stream")
        if fault == "malformed":
            body = b'[{"00080018": {"vr": "UI", "Value": ["1.2.3"]}}, {"0020000D": '
            self._answer(200, body + b"oops]", kind, length=len(body) + 5)
        elif fault == "cut":
            self._answer(200, body[: len(body) // 2], kind, length=len(body))
        elif fault == "short":
            self._answer(200, _drop_last_instance(body), kind)
        else:
            self._answer(answer.status, body, kind)

    def _answer(
        self, status: int, body: bytes, kind: str = "application/json", length: int | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        if length is not None and length != len(body):
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if length is not None and length != len(body):
            self.close_connection = True


def _drop_last_instance(body: bytes) -> bytes:
    """Return a JSON array of instances without its last one (a metadata answer cut short)."""
    import json

    instances = json.loads(body)
    return json.dumps(instances[:-1]).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ProxyState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request: object, client_address: object) -> None:
        return None  # a client that hangs up (as the harvester does on a cut answer)


@contextmanager
def proxy(upstream_port: int, **options: object) -> Iterator[tuple[str, ProxyState]]:
    """Run the proxy; yield its ``dicomweb+http://`` source URL and its state."""
    state = ProxyState(("127.0.0.1", upstream_port), **options)  # type: ignore[arg-type]
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"dicomweb+http://127.0.0.1:{server.server_address[1]}/dicom-web", state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(30)
