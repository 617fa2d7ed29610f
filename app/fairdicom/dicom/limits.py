"""Bounds on reading one file, and reasons for a file that cannot be read that quote nothing.

A hostile header (an absurd length, millions of tiny elements, sequences nested hundreds of
levels deep, a deflated dataset that inflates to gigabytes) must cost milliseconds and one
rejected file, never the run. pydicom's exceptions quote header bytes (original UIDs, names):
a reason names the exception type, a fixed description and at most a tag number.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable
from typing import Protocol, TypeVar

from pydicom.errors import BytesLengthException, InvalidDicomError

__all__ = [
    "DEFER_BYTES",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_HEADER_BYTES",
    "BoundedFile",
    "LimitExceeded",
    "failure_reason",
    "header_stream",
    "parse_header",
]

MIB = 2**20
MAX_HEADER_BYTES = 64 * MIB
"""Bytes read from one file before its pixel data (or inflated from a deflated dataset)."""
MAX_READS = 3_000_000
"""Read calls on one file: pydicom makes two or three per element, so this bounds the elements
it parses before we see them."""
DEFER_BYTES = 4 * MIB
"""A value longer than this is skipped unread (pydicom's ``defer_size``) and removed."""
MAX_DEPTH = 32
"""Sequences nested deeper than this reject the file (real headers nest a few levels)."""
MAX_ELEMENTS = 1_000_000
"""Elements, items included, walked in one file."""
WHOLE_FILE_BYTES = MIB
"""A file up to this size is read whole and parsed in memory: its size bounds every read."""
FIRST_BYTES = 64 * 1024
"""A header is parsed from the file's first bytes, read into memory, when it ends inside them
(the usual case: a header takes a few KiB; the pixel data behind it is never read)."""
DEFLATED = b"1.2.840.10008.1.2.1.99"
_TAG = re.compile(r"\(([0-9A-Fa-f]{4}),\s?([0-9A-Fa-f]{4})\)")


class Readable(Protocol):
    """What reading a header needs of a file."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


class LimitExceeded(Exception):
    """The file goes beyond a reading bound (the message is fixed text)."""


class BoundedFile:
    """A read-only file that refuses to deliver more than a number of bytes and read calls."""

    def __init__(self, raw: Readable, limit: int | None = None, reads: int | None = None):
        self._raw = raw
        self._limit = limit or MAX_HEADER_BYTES
        self._left = self._limit
        self._reads = reads or MAX_READS
        # Moving costs no bytes (a deferred value is skipped by seeking): the file's own methods.
        self.seek = raw.seek
        self.tell = raw.tell

    def read(self, size: int | None = -1) -> bytes:
        """Return up to ``size`` bytes; raise LimitExceeded beyond the bounds."""
        self._reads -= 1
        if self._reads < 0:
            raise LimitExceeded("too many elements (read calls beyond the bound)")
        if size is None or size < 0:
            return self._inflatable(self._raw.read(self._left + 1))
        if size > self._left:
            raise LimitExceeded(f"header or element larger than {self._limit // MIB} MiB")
        data = self._raw.read(size)
        self._left -= len(data)
        return data

    def _inflatable(self, data: bytes) -> bytes:
        """Check the rest of a file that pydicom reads whole to inflate it (deflated syntax)."""
        if len(data) > self._left:
            raise LimitExceeded(f"header larger than {self._limit // MIB} MiB")
        self._left -= len(data)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            inflater.decompress(data, self._limit)
        except zlib.error:
            return data  # pydicom reports it as it does
        if inflater.unconsumed_tail:
            raise LimitExceeded(f"deflated dataset inflates beyond {self._limit // MIB} MiB")
        return data


T = TypeVar("T")


def parse_header(handle: Readable, parse: Callable[[Readable], T]) -> T:
    """Return what ``parse`` makes of a file's header, read from memory where it can be: the
    file's first FIRST_BYTES when the header ends inside them (``parse`` stops before the
    pixel data, or the file ends there), else as :func:`header_stream` gives the whole file.

    What was parsed from the first bytes is kept only when the parse stopped inside them:
    nothing it read was cut short by their end. Anything else (a header longer than that, a
    value skipped past their end, a parse that fails on them) is parsed again from the file.
    """
    first = FIRST_BYTES
    head = handle.read(first)
    if DEFLATED not in head:
        if len(head) < first:  # the whole file
            return parse(io.BytesIO(head))
        stream = io.BytesIO(head)
        try:
            parsed = parse(stream)
        except Exception:  # perhaps only for the cut: the whole file says
            pass
        else:
            if stream.tell() < first:
                return parsed
    handle.seek(0)
    return parse(header_stream(handle))


def header_stream(handle: Readable) -> Readable:
    """Return what to parse a file from: in memory when it is small and not deflated (the
    usual case, and the fastest), else through a BoundedFile."""
    data = handle.read(WHOLE_FILE_BYTES + 1)
    if len(data) <= WHOLE_FILE_BYTES and DEFLATED not in data:
        return io.BytesIO(data)
    handle.seek(0)
    return BoundedFile(handle)


def failure_reason(exc: BaseException) -> str:
    """Return why a file could not be read, from the exception's type alone (and a tag)."""
    if isinstance(exc, LimitExceeded):
        return f"unreadable DICOM: {exc.args[0] if exc.args else 'a reading bound'}"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"cannot read file: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, RecursionError):
        description = "sequences nested too deeply"
    elif isinstance(exc, MemoryError):
        description = "out of memory while reading the header"
    elif isinstance(exc, BytesLengthException):
        description = "a value's length does not fit its VR"
    elif isinstance(exc, InvalidDicomError):
        description = "not a valid DICOM file"
    elif isinstance(exc, EOFError | struct.error):
        description = "the file ends inside an element (truncated or corrupt)"
    elif isinstance(exc, UnicodeError):
        description = "text that cannot be decoded"
    elif isinstance(exc, NotImplementedError):
        description = "an encoding or value representation that is not supported"
    elif isinstance(exc, zlib.error):
        description = "a deflated dataset that does not inflate"
    else:
        description = "a malformed header"
    tag = _TAG.search(str(exc)) if isinstance(exc, BytesLengthException | ValueError) else None
    where = f" at ({tag[1].upper()},{tag[2].upper()})" if tag else ""
    return f"unreadable DICOM: {description}{where} ({type(exc).__name__})"
