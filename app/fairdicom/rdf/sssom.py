"""Read SSSOM TSV files: the ``#``-commented YAML metadata block, the header row and the rows.

Every problem raises :class:`~fairdicom.errors.MappingError` with ``FILE:LINE: PROBLEM``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import yaml

from fairdicom.errors import MappingError
from fairdicom.namespaces import PREFIXES

__all__ = ["SssomTable", "expand", "fail", "read_table"]

HEADER_KEYS = ("mapping_set_id", "mapping_set_version", "license", "curie_map")
"""Metadata a mapping set must state."""
COLUMNS = ("subject_id", "predicate_id", "object_id", "mapping_justification")
"""Columns every table must have (SSSOM's required slots)."""
NOT_IN_IRI = re.compile(r'[\x00-\x20<>"{}|\\^`]')


@dataclass(frozen=True)
class SssomTable:
    """One SSSOM TSV file: metadata, curie_map, column names and rows with their line numbers."""

    path: Path
    metadata: dict[str, object]
    prefixes: dict[str, str]
    columns: list[str]
    header_line: int
    rows: list[tuple[int, dict[str, str]]]


def fail(path: Path, line: int, problem: str) -> NoReturn:
    """Raise a MappingError naming the file (relative to the working directory) and line."""
    try:
        shown = str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    raise MappingError(f"{shown}:{line}: {problem}")


def _metadata_line(lines: list[str], key: str) -> int:
    """Return the number of the first metadata line that sets ``key``, else 1."""
    pattern = re.compile(rf"#\s*{re.escape(key)}\s*:")
    return next((i for i, ln in enumerate(lines, 1) if pattern.match(ln)), 1)


def _metadata(
    path: Path, lines: list[str], block: list[str]
) -> tuple[dict[str, object], dict[str, str]]:
    """Parse and check the metadata block (every scalar is read as a string) and its curie_map."""
    try:
        header = yaml.load("\n".join(block), Loader=yaml.BaseLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        fail(path, mark.line + 1 if mark else 1, f"metadata block is not valid YAML: {exc}")
    if not isinstance(header, dict):
        fail(path, 1, "metadata block must be a YAML mapping (key: value lines)")
    for key in HEADER_KEYS:
        if not header.get(key):
            fail(path, 1, f"metadata block lacks '{key}' (required: {', '.join(HEADER_KEYS)})")
    prefixes = header["curie_map"]
    if not isinstance(prefixes, dict) or not all(isinstance(v, str) for v in prefixes.values()):
        fail(path, _metadata_line(lines, "curie_map"), "curie_map must map each prefix to an IRI")
    for prefix, iri in prefixes.items():
        known = PREFIXES.get(prefix)
        if known is not None and known != iri:
            fail(
                path,
                _metadata_line(lines, prefix),
                f"prefix '{prefix}' is <{iri}> here but <{known}> in app/fairdicom/namespaces.py",
            )
    return {str(k): v for k, v in header.items()}, {str(k): v for k, v in prefixes.items()}


def read_table(path: Path) -> SssomTable:
    """Parse one SSSOM TSV file and check its metadata, header row and row widths."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, ln in enumerate(lines) if not ln.startswith("#")), len(lines))
    block = [ln[2:] if ln.startswith("# ") else ln[1:] for ln in lines[:start]]
    metadata, prefixes = _metadata(path, lines, block)
    late = next((i for i, ln in enumerate(lines, 1) if i > start and ln.startswith("#")), 0)
    if late:
        fail(path, late, "'#' lines are allowed only in the metadata block at the top")
    if start >= len(lines):
        fail(path, start, "no header row (subject_id, predicate_id, ...) after the metadata")
    columns = [c.strip() for c in lines[start].split("\t")]
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        fail(path, start + 1, f"missing column(s) {', '.join(missing)} in the header row")
    rows: list[tuple[int, dict[str, str]]] = []
    for number, text in enumerate(lines[start + 1 :], start + 2):
        if not text.strip():
            continue
        cells = text.split("\t")
        if len(cells) != len(columns):
            fail(path, number, f"{len(cells)} cells but the header row has {len(columns)}")
        rows.append((number, {c: v.strip() for c, v in zip(columns, cells, strict=True)}))
    return SssomTable(path, metadata, prefixes, columns, start + 1, rows)


def expand(table: SssomTable, line: int, row: dict[str, str], column: str) -> str:
    """Return the IRI of the CURIE in one cell, expanded with the table's curie_map."""
    curie = row.get(column, "")
    prefix, colon, local = curie.partition(":")
    if not colon or not prefix:
        fail(table.path, line, f"{column} '{curie}' is not a CURIE (prefix:local)")
    if prefix not in table.prefixes:
        declared = ", ".join(sorted(table.prefixes))
        fail(
            table.path,
            line,
            f"unknown prefix '{prefix}' in {column} '{curie}' (declared prefixes: {declared})",
        )
    iri = table.prefixes[prefix] + local
    if NOT_IN_IRI.search(iri):
        fail(
            table.path,
            line,
            f"{column} '{curie}' has a character not allowed in an IRI "
            "(percent-encode it: space %20, quote %22, backslash %5C)",
        )
    return iri
