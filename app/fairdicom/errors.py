"""The one error hierarchy of fairdicom: each class says what went wrong and what to do."""

from __future__ import annotations


class FairdicomError(Exception):
    """Base class of the errors fairdicom reports to a person."""

    http_status = 500
    exit_code = 2


class UsageError(FairdicomError):
    """The command was asked for something that cannot be done (a missing input, ...)."""

    http_status = 400


class ConfigError(FairdicomError):
    """A configuration value is missing or wrong."""

    http_status = 500


class StoreError(FairdicomError):
    """The store cannot be opened or written."""

    http_status = 503


class MappingError(FairdicomError):
    """A mapping file is malformed; the message names file, line and problem."""

    http_status = 500


class QuerySyntaxError(FairdicomError):
    """A SPARQL query or update does not parse; the message is the parser's."""

    http_status = 400


class NotAcceptable(FairdicomError):
    """No result format the client accepts fits this query form."""

    http_status = 406


class Unauthorized(FairdicomError):
    """A write came without the admin bearer token."""

    http_status = 401


class Forbidden(FairdicomError):
    """A write came with a wrong token, or the query uses SERVICE/LOAD off the allow-list."""

    http_status = 403


class QueryTimeout(FairdicomError):
    """A query ran longer than the configured timeout and was stopped."""

    http_status = 503


class StoreBusy(FairdicomError):
    """Another process (an ingest) holds the store's write lock; retry later."""

    http_status = 503
    retry_after = 2
    """Seconds a client should wait before trying again (the ``Retry-After`` header)."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        if retry_after is not None:
            self.retry_after = retry_after


class StoreLocked(StoreBusy):
    """The store is open for writing in another process (RocksDB's LOCK)."""


class Overloaded(StoreBusy):
    """Every query worker is busy and the queue is full, or a request waited its limit."""


class TooManyRequests(StoreBusy):
    """One client has as many requests running or waiting as it may, or failed too often."""

    http_status = 429


class QueryTooLarge(FairdicomError):
    """A query or update needed more memory than a worker may use, and was stopped."""

    http_status = 503


class DicomReadError(FairdicomError):
    """One input file could not be read as DICOM."""


class SourceError(FairdicomError):
    """A DICOM source (a DICOMweb server) cannot be reached, refuses us, or answers wrongly."""

    http_status = 502
