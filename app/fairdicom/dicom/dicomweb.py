"""A DICOMweb client for harvesting headers: QIDO-RS to find studies and series, WADO-RS
``/metadata`` for every instance's header as DICOM JSON (PS3.18 10.4, 10.6, F.2), and
WADO-RS bulk data for the few binary values the profile may keep. No pixel data is moved.

This module owns the HTTP client (requests). Every request holds one of
``max_requests`` slots while it runs (so the server never sees more at once), is tried again
after a connection error, a timeout, 429 or a 5xx answer (``retries`` times, waiting 0.5 s,
1 s, 2 s... or what Retry-After asks, at most 30 s), and fails with a SourceError whose
message names the operation, the status and what to do, never a URL path (it would carry an
original UID). Once a request has failed to connect after all its retries, the source is
taken to be down and later requests are tried once, until one succeeds.

Metadata is streamed: a series' JSON array is split into its instances as it arrives, so
memory holds one instance at a time whatever the size of the series.
"""

from __future__ import annotations

import functools
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from fairdicom.dicom.json_stream import split_array
from fairdicom.dicom.limits import MAX_HEADER_BYTES
from fairdicom.errors import SourceError

__all__ = ["Credentials", "DicomwebClient", "count_of", "series_uid", "study_uid"]

DICOM_JSON = "application/dicom+json"
BULK_ACCEPT = 'multipart/related; type="application/octet-stream"'
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF = 0.5
"""Seconds before the first retry; each next one waits twice as long."""
MAX_WAIT = 30.0
CHUNK = 64 * 1024
STUDY_FIELDS = ("00080061", "00201206", "00201208")
"""ModalitiesInStudy, NumberOfStudyRelatedSeries, NumberOfStudyRelatedInstances: asked for
explicitly (not every server returns them by default)."""
SERIES_FIELDS = ("00201209",)
"""NumberOfSeriesRelatedInstances: how many instances a series' metadata must hold."""
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
T = TypeVar("T")


@dataclass(frozen=True)
class Credentials:
    """How to authenticate to a DICOMweb server: a bearer token, or a user and password."""

    token: str = ""
    username: str = ""
    password: str = ""


class DicomwebClient:
    """QIDO-RS and WADO-RS requests to one DICOMweb endpoint, bounded, retried, thread-safe."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials | None = None,
        *,
        max_requests: int = 4,
        retries: int = 3,
        timeout: float = 60.0,
        backoff: float = BACKOFF,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self._slots = threading.BoundedSemaphore(max_requests)
        self._down = False
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max_requests)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = "fairdicom (DICOMweb harvester)"
        credentials = credentials or Credentials()
        # Without credentials, requests reads the host's user and password from ~/.netrc (or
        # $NETRC), as curl, git and pip do: credentials per host, outside the settings.
        if credentials.token:
            self._session.headers["Authorization"] = f"Bearer {credentials.token}"
        elif credentials.username:
            self._session.auth = (credentials.username, credentials.password)
        origin = urlsplit(self.endpoint)
        self._origin = (origin.scheme, origin.netloc)

    def close(self) -> None:
        """Close the connections."""
        self._session.close()

    # QIDO-RS ----------------------------------------------------------------------------

    def studies(self, filters: list[tuple[str, str]], page_size: int) -> Iterator[dict[str, Any]]:
        """Yield every study that matches the filters, page by page (``limit``/``offset``)."""
        offset = 0
        seen: set[str] = set()
        while True:
            params = [*filters, *(("includefield", f) for f in STUDY_FIELDS)]
            params += [("limit", str(page_size)), ("offset", str(offset))]
            search = functools.partial(
                self._json_list, "QIDO-RS study search", self.endpoint + "/studies", params
            )
            page = self._retried("QIDO-RS study search", search)
            fresh = [s for s in page if study_uid(s) not in seen]
            for study in fresh:
                seen.add(study_uid(study))
                yield study
            if len(page) < page_size or not fresh:
                return  # the last page (or a server that ignores offset: nothing new)
            offset += len(page)

    def series(self, study: str) -> list[dict[str, Any]]:
        """Return the series of a study (with their instance counts)."""
        url = f"{self.endpoint}/studies/{_checked(study)}/series"
        params = [("includefield", f) for f in SERIES_FIELDS]
        return self._retried(
            "QIDO-RS series search", lambda: self._json_list("QIDO-RS series search", url, params)
        )

    # WADO-RS ----------------------------------------------------------------------------

    def series_metadata(self, study: str, series: str) -> list[str]:
        """Return the JSON text of every instance of a series (WADO-RS metadata), each as the
        server wrote it."""
        url = f"{self.endpoint}/studies/{_checked(study)}/series/{_checked(series)}/metadata"
        return self._retried("WADO-RS series metadata", lambda: self._instances(url))

    def bulk_data(self, uri: str, limit: int) -> bytes | None:
        """Return a bulk data value of at most ``limit`` bytes (None: longer, or elsewhere)."""
        target = urlsplit(uri)
        if (target.scheme, target.netloc) != self._origin:
            return None  # bulk data is fetched from the source itself only
        return self._retried("WADO-RS bulk data", lambda: self._bulk(uri, limit))

    # Requests ---------------------------------------------------------------------------

    def _retried(self, what: str, call: Callable[[], T]) -> T:
        """Run one request (and the reading of its answer), trying again when it may help."""
        attempt = 0
        while True:
            retries = 0 if self._down else self.retries
            try:
                result = call()
            except _Retryable as exc:
                if attempt >= retries:
                    self._down = self._down or exc.unreachable
                    tries = f" after {attempt + 1} tries" if attempt else ""
                    raise SourceError(f"{what}: {exc.reason}{tries}") from None
                time.sleep(exc.wait if exc.wait is not None else self._pause(attempt))
                attempt += 1
                continue
            self._down = False
            return result

    def _pause(self, attempt: int) -> float:
        """Return the seconds to wait before retry ``attempt + 1`` (doubling, some jitter)."""
        return float(min(MAX_WAIT, self.backoff * 2**attempt) * random.uniform(0.9, 1.1))

    def _get(self, what: str, url: str, params: list[tuple[str, str]], accept: str) -> Any:
        """Send one GET holding a request slot; raise _Retryable or SourceError."""
        try:
            response = self._session.get(
                url,
                params=params,
                headers={"Accept": accept},
                timeout=self.timeout,
                stream=True,
            )
        except requests.Timeout:
            raise _Retryable(f"no answer within {self.timeout:g} s", unreachable=True) from None
        except requests.ConnectionError:
            raise _Retryable(f"cannot connect to {self.endpoint}", unreachable=True) from None
        except requests.RequestException as exc:
            raise SourceError(f"{what}: request failed ({type(exc).__name__})") from None
        status = response.status_code
        if status in RETRY_STATUSES:
            response.close()
            raise _Retryable(f"HTTP {status} {response.reason}", wait=_retry_after(response))
        if status in (401, 403):
            response.close()
            raise SourceError(
                f"{what}: HTTP {status} {response.reason} from {self.endpoint}: set "
                "dicomweb_token (bearer) or dicomweb_username and dicomweb_password (basic), "
                "or give the host's user and password in ~/.netrc"
            )
        if status == 404:
            response.close()
            raise SourceError(f"{what}: HTTP 404 Not Found (deleted on the source?)")
        if status >= 400:
            response.close()
            raise SourceError(f"{what}: HTTP {status} {response.reason}")
        return response

    def _json_list(
        self, what: str, url: str, params: list[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        with self._slots:
            response = self._get(what, url, params, DICOM_JSON)
            with response:
                if response.status_code == 204:
                    return []
                data = _read(response, MAX_HEADER_BYTES, what)
        try:
            found = json.loads(data) if data.strip() else []
        except ValueError:
            raise SourceError(f"{what}: malformed JSON in the answer") from None
        if not isinstance(found, list) or not all(isinstance(i, dict) for i in found):
            raise SourceError(f"{what}: the answer is not a JSON array of objects")
        return found

    def _instances(self, url: str) -> list[str]:
        what = "WADO-RS series metadata"
        with self._slots:
            response = self._get(what, url, [], DICOM_JSON)
            with response:
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if kind.startswith("multipart/"):
                    raise SourceError(f"{what}: the server sent {kind}; fairdicom reads JSON")
                try:
                    return list(split_array(response.iter_content(CHUNK), what))
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                    raise _Retryable("the answer was cut off") from None
                except requests.Timeout:
                    raise _Retryable("the answer stopped coming", unreachable=True) from None

    def _bulk(self, uri: str, limit: int) -> bytes | None:
        what = "WADO-RS bulk data"
        with self._slots:
            response = self._get(what, uri, [], BULK_ACCEPT)
            with response:
                kind = response.headers.get("Content-Type", "")
                try:
                    data = _read(response, limit + CHUNK, what, cap_only=True)
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                    raise _Retryable("the answer was cut off") from None
        if data is None:
            return None
        body = _first_part(data, kind) if kind.lower().startswith("multipart/") else data
        if body is None:
            raise SourceError(f"{what}: malformed multipart answer")
        return body if len(body) <= limit else None


class _Retryable(Exception):
    """A failure that trying again may cure (the reason is for a person)."""

    def __init__(self, reason: str, *, unreachable: bool = False, wait: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable
        self.wait = wait


def study_uid(study: dict[str, Any]) -> str:
    """Return the StudyInstanceUID of a QIDO-RS result ('' when it has none)."""
    return _first(study, "0020000D")


def series_uid(series: dict[str, Any]) -> str:
    """Return the SeriesInstanceUID of a QIDO-RS result ('' when it has none)."""
    return _first(series, "0020000E")


def count_of(result: dict[str, Any], tag: str) -> int | None:
    """Return a count attribute (IS) of a QIDO-RS result, or None."""
    value = _first(result, tag)
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def _first(result: dict[str, Any], tag: str) -> str:
    element = result.get(tag)
    if isinstance(element, dict):
        values = element.get("Value")
        if isinstance(values, list) and values and isinstance(values[0], str | int | float):
            return str(values[0])
    return ""


def _checked(uid: str) -> str:
    """Return a UID fit for a URL path; raise SourceError for anything else."""
    if not _UID.fullmatch(uid) or len(uid) > 64:
        raise SourceError("the source listed a UID that is not a valid UID; not fetched")
    return uid


def _retry_after(response: requests.Response) -> float | None:
    """Return the seconds a Retry-After header asks for (at most MAX_WAIT), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(MAX_WAIT, float(value))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(MAX_WAIT, moment.timestamp() - time.time()))


def _read(response: requests.Response, limit: int, what: str, cap_only: bool = False) -> Any:
    """Return the body (None when longer than ``limit`` and ``cap_only``); raise SourceError."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if cap_only:
                    return None
                raise SourceError(f"{what}: answer larger than {limit // 2**20} MiB")
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        raise _Retryable("the answer was cut off") from None
    except requests.Timeout:
        raise _Retryable("the answer stopped coming", unreachable=True) from None
    return b"".join(chunks)


def _first_part(data: bytes, content_type: str) -> bytes | None:
    """Return the body of the first part of a multipart answer, or None."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        return None
    delimiter = b"--" + match[1].strip().encode("latin-1")
    parts = data.split(delimiter)
    if len(parts) < 3:
        return None
    _, sep, body = parts[1].partition(b"\r\n\r\n")
    if not sep:
        return None
    return body[:-2] if body.endswith(b"\r\n") else body
