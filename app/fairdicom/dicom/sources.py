"""Find the inputs of an ingest: files, folders (recursive), zip archives and DICOMDIR.

The walk never raises. An input that is not read comes out as a :class:`Source` that carries
the reason, so that the run reports it with its path and goes on: a folder that cannot be
listed, a FIFO or a device, a symbolic-link loop, a zip member too large (or too compressed)
to read safely, a DICOMDIR reference that leads outside the DICOMDIR's folder.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pydicom

ZIP_SEPARATOR = "!/"
MIB = 2**20
MAX_MEMBER_BYTES = 256 * MIB
"""Largest zip member read (its uncompressed size); a DICOM header is far smaller."""
MAX_RATIO = 200
"""Highest compression ratio of a zip member larger than RATIO_FLOOR (a zip bomb is higher)."""
RATIO_FLOOR = MIB
IN_MEMORY_MEMBER = MIB
"""Zip members up to this size are decompressed into memory; larger ones are streamed, so
that reading a header never decompresses the pixel data behind it."""
MAX_DICOMDIR_BYTES = 32 * MIB
"""Largest DICOMDIR read (it is parsed whole, in the process that walks the inputs)."""
_ENCRYPTED = 0x1
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


class NotAFile(Exception):
    """The input is not a regular file (a FIFO, a device, a socket): skipped, never opened."""


class UnsafeMember(Exception):
    """A zip member is too large or too compressed to read safely: rejected, not read."""


@dataclass(frozen=True)
class Source:
    """One input: a path, or a member of a zip archive (``archive.zip!/member``).

    ``skipped`` or ``rejected`` say why the walk did not hand it over for reading.
    """

    path: str
    member: str = ""
    skipped: str = ""
    rejected: str = ""

    def __str__(self) -> str:
        return f"{self.path}{ZIP_SEPARATOR}{self.member}" if self.member else self.path

    def open(self) -> io.BufferedIOBase:
        """Open the input for reading; raise NotAFile, UnsafeMember or OSError."""
        if self.member:
            return _open_member(self.path, self.member)
        return _open_regular(self.path)


def iter_sources(inputs: Iterable[Path]) -> Iterator[Source]:
    """Yield every input under the given paths, in a stable order; never raise."""
    for root in inputs:
        if root.name.upper() == "DICOMDIR" and _is_regular(root):
            yield from dicomdir_sources(root)
        else:
            yield from _walk(root)


def _walk(root: Path) -> Iterator[Source]:
    """Yield the files under root (depth first, sorted by name); follow links to folders once."""
    visited: set[tuple[int, int]] = set()
    stack: list[tuple[Iterator[Path], tuple[int, int] | None]] = [(iter([root]), None)]
    while stack:
        path = next(stack[-1][0], None)
        if path is None:
            stack.pop()
            continue
        if len(stack) > 1 and path.name.startswith("."):
            yield Source(str(path), skipped="hidden file or folder")
            continue
        status = _stat(path)
        if isinstance(status, Source):
            yield status
        elif stat.S_ISDIR(status.st_mode):
            key = (status.st_dev, status.st_ino)
            if key in visited:
                above = any(folder == key for _, folder in stack)
                reason = "symbolic link loop" if above else "folder already read through a link"
                yield Source(str(path), skipped=f"{reason}; not read again")
                continue
            visited.add(key)
            children = _list(path)
            if isinstance(children, Source):
                yield children
            else:
                stack.append((iter(children), key))
        elif stat.S_ISREG(status.st_mode):
            yield from _file_sources(path)
        else:
            yield Source(str(path), skipped=f"not a regular file ({_kind(status.st_mode)})")


def _stat(path: Path) -> os.stat_result | Source:
    """Return the status of path (links followed), or the Source that says why there is none."""
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Source(str(path), skipped="symbolic link loop")
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return Source(str(path), skipped="broken symbolic link")
        return Source(str(path), rejected=f"cannot read: {_reason(exc)}")
    except ValueError:  # an embedded NUL byte
        return Source(str(path), rejected="cannot read: invalid path")


def _list(folder: Path) -> list[Path] | Source:
    """Return the entries of a folder sorted by name, or the Source that says why not."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(entry.name for entry in entries)
    except OSError as exc:
        return Source(str(folder), rejected=f"cannot list folder: {_reason(exc)}")
    return [folder / name for name in names]


def _file_sources(path: Path) -> Iterator[Source]:
    """Yield a regular file, or the members of a zip archive."""
    if path.suffix.lower() != ".zip" or not zipfile.is_zipfile(path):
        yield Source(str(path))
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                (i for i in archive.infolist() if not i.is_dir()), key=lambda i: i.filename
            )
    except Exception as exc:  # any defect of the archive costs the archive only
        yield Source(str(path), rejected=f"unreadable zip archive ({type(exc).__name__})")
        return
    for info in members:
        yield Source(str(path), info.filename, rejected=member_problem(info))


def member_problem(info: zipfile.ZipInfo) -> str:
    """Return why a zip member must not be read (size, ratio, encryption), or ''."""
    if info.flag_bits & _ENCRYPTED:
        return "encrypted zip member; not read"
    if info.compress_type not in _COMPRESSIONS:
        return f"zip compression method {info.compress_type} is not supported; not read"
    if info.file_size > MAX_MEMBER_BYTES:
        return (
            f"zip member of {info.file_size // MIB} MiB uncompressed, more than the "
            f"{MAX_MEMBER_BYTES // MIB} MiB read from an archive; not read"
        )
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        return f"zip member compressed {ratio}:1, more than {MAX_RATIO}:1 (a zip bomb?); not read"
    return ""


def dicomdir_sources(path: Path) -> list[Source]:
    """Return the files a DICOMDIR references inside its folder; report the others."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return [Source(str(path), rejected=f"cannot read: {_reason(exc)}")]
    if size > MAX_DICOMDIR_BYTES:
        return [
            Source(
                str(path),
                rejected=f"DICOMDIR of {size // MIB} MiB, more than {MAX_DICOMDIR_BYTES // MIB} "
                "MiB; not read",
            )
        ]
    try:
        file_ids = _referenced_file_ids(path)
    except Exception as exc:  # a hostile index costs the index only
        return [Source(str(path), rejected=f"unreadable DICOMDIR ({type(exc).__name__})")]
    folder = path.parent
    try:
        inside = folder.resolve()
    except (OSError, RuntimeError) as exc:
        reason = f"cannot resolve the DICOMDIR's folder ({type(exc).__name__})"
        return [Source(str(path), rejected=reason)]
    files: set[Path] = set()
    sources: list[Source] = []
    for parts in file_ids:
        try:
            target = folder.joinpath(*parts)
            resolved = target.resolve()
        except (OSError, RuntimeError, ValueError):
            sources.append(
                Source(str(path), rejected="a DICOMDIR reference cannot be resolved; not followed")
            )
            continue
        if not resolved.is_relative_to(inside):
            sources.append(
                Source(
                    str(target),
                    rejected=f"referenced by {path} but outside its folder; not followed",
                )
            )
        else:
            files.add(target)
    if not files and not sources:
        return [Source(str(path))]  # not an index after all: the reader says what it is
    for target in sorted(files):
        sources.extend(_walk(target))
    return sources


def _referenced_file_ids(path: Path) -> list[list[str]]:
    """Return the ReferencedFileID components of every record of a DICOMDIR."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = pydicom.dcmread(path, force=True)
        ids = []
        for record in index.get("DirectoryRecordSequence", []):
            file_id = record.get("ReferencedFileID")
            if file_id:
                parts = [file_id] if isinstance(file_id, str) else list(file_id)
                ids.append([str(part) for part in parts])
    return ids


def _open_regular(path: str) -> io.BufferedIOBase:
    """Open a regular file; a FIFO or a device is refused without blocking on it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFile(f"not a regular file ({_kind(mode)})")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


_ARCHIVE: tuple[tuple[int, str, int, int, int], zipfile.ZipFile, io.BufferedIOBase] | None = None
"""The zip archive this process read last, kept open: reading the central directory again
for every member would cost O(members) each."""


def _archive(path: str) -> zipfile.ZipFile:
    """Return the open archive at path (the one kept open, when it is still the same file)."""
    global _ARCHIVE
    handle = _open_regular(path)
    status = os.fstat(handle.fileno())
    key = (os.getpid(), path, status.st_ino, status.st_size, status.st_mtime_ns)
    if _ARCHIVE is not None and _ARCHIVE[0] == key:
        handle.close()
        return _ARCHIVE[1]
    if _ARCHIVE is not None and _ARCHIVE[0][0] == key[0]:
        _ARCHIVE[1].close()  # a forked child leaves its parent's archive alone
        _ARCHIVE[2].close()
    _ARCHIVE = None
    try:
        archive = zipfile.ZipFile(handle)
    except BaseException:
        handle.close()
        raise
    _ARCHIVE = (key, archive, handle)
    return archive


def _open_member(path: str, member: str) -> io.BufferedIOBase:
    """Open a zip member: checked for size and ratio first, small ones read into memory."""
    archive = _archive(path)
    info = archive.getinfo(member)
    problem = member_problem(info)
    if problem:
        raise UnsafeMember(problem)
    if info.file_size <= IN_MEMORY_MEMBER:
        with archive.open(info) as handle:
            return io.BytesIO(handle.read(IN_MEMORY_MEMBER + 1))
    return cast(io.BufferedIOBase, archive.open(info))


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _kind(mode: int) -> str:
    kinds = {
        stat.S_ISFIFO: "FIFO",
        stat.S_ISSOCK: "socket",
        stat.S_ISCHR: "character device",
        stat.S_ISBLK: "block device",
    }
    return next((name for test, name in kinds.items() if test(mode)), "special file")


def _reason(exc: OSError) -> str:
    """Return the operating system's words for an error (never a file's content)."""
    return exc.strerror or type(exc).__name__
