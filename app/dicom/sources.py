"""Find the inputs of an ingest: files, folders (recursive), zip archives and DICOMDIR."""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom

ZIP_SEPARATOR = "!/"


@dataclass(frozen=True)
class Source:
    """One input file: a path, or a member of a zip archive (``archive.zip!/member``)."""

    path: str
    member: str = ""

    def __str__(self) -> str:
        return f"{self.path}{ZIP_SEPARATOR}{self.member}" if self.member else self.path

    def read_bytes(self) -> bytes:
        """Return the whole content of the file."""
        if self.member:
            with zipfile.ZipFile(self.path) as archive:
                return archive.read(self.member)
        return Path(self.path).read_bytes()

    def open(self) -> io.BufferedIOBase:
        """Open the file for reading (zip members are read into memory)."""
        if self.member:
            return io.BytesIO(self.read_bytes())
        return open(self.path, "rb")


def _walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            yield path


def iter_sources(inputs: Iterable[Path]) -> Iterator[Source]:
    """Yield every file under the inputs, in a stable order; zip archives are opened."""
    for root in inputs:
        if root.is_file() and root.name.upper() == "DICOMDIR":
            yield from dicomdir_sources(root)
            continue
        paths = _walk(root) if root.is_dir() else iter([root])
        for path in paths:
            if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    names = sorted(i.filename for i in archive.infolist() if not i.is_dir())
                for name in names:
                    yield Source(str(path), name)
            else:
                yield Source(str(path))


def dicomdir_sources(path: Path) -> list[Source]:
    """Return the files a DICOMDIR references (or the DICOMDIR itself when it is unreadable)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            index = pydicom.dcmread(path, force=True)
            records = list(index.get("DirectoryRecordSequence", []))
    except (OSError, ValueError, AttributeError, KeyError, EOFError):
        return [Source(str(path))]
    files = set()
    for record in records:
        file_id = record.get("ReferencedFileID")
        if file_id:
            parts = [file_id] if isinstance(file_id, str) else list(file_id)
            files.add(path.parent.joinpath(*(str(p) for p in parts)))
    return [Source(str(f)) for f in sorted(files)] or [Source(str(path))]
