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


class DicomReadError(FairdicomError):
    """One input file could not be read as DICOM."""
