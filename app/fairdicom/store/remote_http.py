"""HTTP to a remote SPARQL store: one session, bounded retries, errors that say what to do.

A request that gets no connection (refused, reset, DNS), or an answer 502/503/504 from a busy
or restarting engine, is tried again after 0.5 s, 1 s, 2 s ... up to ``retries`` times; what
fairdicom sends is idempotent (an update deletes what it inserts again, see
:mod:`fairdicom.store.remote_store`), so a request that the engine carried out before the
connection broke does no harm when sent again. Any other refusal (401, 403, 404, 413, 4xx, 5xx)
is not retried: it becomes a :class:`~fairdicom.errors.StoreError` (or a
:class:`~fairdicom.errors.QuerySyntaxError` for a query the engine does not parse) naming the
URL and what to do. An answer that breaks off (the engine died, the connection closed) is tried
again while it is being received, and is such an error once its reader has begun to read it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests

from fairdicom.errors import QuerySyntaxError, StoreError, UsageError

Response = requests.Response
"""An answer of the engine, as the HTTP client gives it (for the store's type hints)."""
RETRY_STATUSES = frozenset({502, 503, 504})
FIRST_DELAY = 0.5
"""Seconds before the first retry; each later one waits twice as long."""


@dataclass(frozen=True)
class Credentials:
    """How to sign in to the engine: a bearer token, or a user and password (basic)."""

    token: str = field(default="", repr=False)
    user: str = ""
    password: str = field(default="", repr=False)

    def headers(self) -> dict[str, str]:
        """Return the Authorization header of a bearer token (basic goes through ``auth``)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def basic(self) -> tuple[str, str] | None:
        """Return the user and password for basic authentication, if any."""
        return (self.user, self.password) if self.user else None


class SparqlHttp:
    """Send requests to one engine with one connection pool."""

    def __init__(self, credentials: Credentials, *, retries: int, timeout: float) -> None:
        self.session = requests.Session()
        self.session.headers.update(credentials.headers())
        self.session.auth = credentials.basic()
        self.retries = retries
        self.timeout = timeout
        self.standard_tsv = True
        """False once the engine answered TSV that is not SPARQL 1.1's (Virtuoso's)."""
        self.engine: str | None = None
        """The ``Server`` header of the engine's last answer (None before the first)."""

    @contextmanager
    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | list[str]] | None = None,
        data: bytes | Mapping[str, str | list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        missing_ok: bool = False,
    ) -> Iterator[requests.Response]:
        """Send a request (again on no connection or 502/503/504); yield the answer, closed
        afterwards (closing a streamed answer early drops the connection: the engine stops
        sending). ``missing_ok``: a 404 is yielded instead of raised."""
        delay = FIRST_DELAY
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=dict(headers or {}),
                    stream=stream,
                    timeout=self.timeout,
                )
            except requests.Timeout:
                raise StoreError(
                    f"the SPARQL store at {url} did not answer within {self.timeout:g} s "
                    "(store_timeout): check the engine's load and log, or raise store_timeout"
                ) from None
            except requests.ConnectionError as exc:
                if last:
                    raise unreachable(url, exc, self.retries) from None
            except requests.exceptions.ChunkedEncodingError:
                if last:
                    raise broken_off(url) from None
            else:
                self.engine = response.headers.get("Server", "")
                if response.status_code not in RETRY_STATUSES or last:
                    try:
                        if not (missing_ok and response.status_code == 404):
                            check(url, response)
                        yield response
                    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                        raise broken_off(url) from None  # while the caller read the answer
                    finally:
                        response.close()
                    return
                response.close()
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Release the connections."""
        self.session.close()


def unreachable(url: str, exc: Exception, retries: int) -> StoreError:
    """Return the error of an engine that gave no connection, however often asked."""
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    reason = errno.group(0) if errno else text.split("(Caused by ", 1)[-1].rstrip(")")[:200]
    tries = "tried once" if retries == 0 else f"tried {retries + 1} times"
    return StoreError(
        f"cannot reach the SPARQL store at {url} ({tries}: {reason}). Start "
        "the engine or correct --store / store_query_url; the batches written before are "
        "kept: run the same command again to complete the store."
    )


def broken_off(url: str) -> StoreError:
    """Return the error of an engine whose answer broke off (it died or closed the connection
    mid-answer); the reason is not quoted, as the broken bytes may be stored values."""
    return StoreError(
        f"the SPARQL store at {url} broke off its answer (the connection closed in the middle): "
        "check that the engine still runs (its log says why); the batches written before are "
        "kept: run the same command again to complete the store."
    )


def check(url: str, response: requests.Response) -> None:
    """Raise the error that a refusal of the engine means (nothing for 2xx)."""
    status = response.status_code
    if status < 400:
        return
    said = " ".join(response.text.split())[:300] if response.content else ""
    said = f": {said}" if said else ""
    if status == 401:
        raise StoreError(
            f"the SPARQL store at {url} asks for credentials (401): set FAIRDICOM_STORE_TOKEN "
            "(bearer) or FAIRDICOM_STORE_USER and FAIRDICOM_STORE_PASSWORD (basic)"
        )
    if status == 403:
        raise StoreError(
            f"the SPARQL store at {url} refuses these credentials (403): ask the engine's "
            "operator for the right to read and write there, or use other credentials"
        )
    if status == 404:
        raise StoreError(
            f"{url} is not a SPARQL endpoint (404): check --store or the store_query_url, "
            "store_update_url and store_graph_store_url settings (docs/deployment.md)"
        )
    if status == 413:
        raise StoreError(
            f"the SPARQL store at {url} refused a request as too large (413){said}: lower "
            "batch_size, or raise the engine's request size limit"
        )
    if status == 400:
        raise QuerySyntaxError(f"the SPARQL store at {url} refused the request (400){said}")
    if status < 500:
        raise UsageError(f"the SPARQL store at {url} refused the request ({status}){said}")
    raise StoreError(
        f"the SPARQL store at {url} failed ({status}){said}. See the engine's log; the "
        "batches written before are kept: run the same command again to complete the store."
    )
