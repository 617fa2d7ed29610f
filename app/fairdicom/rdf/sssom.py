"""Read SSSOM TSV files: the ``#``-commented YAML metadata block, the header row and the rows.

A problem is reported as ``FILE:LINE:COLUMN: PROBLEM`` (:class:`Problem`); :func:`fail` raises
it as a :class:`MappingProblem`, which the checks catch per row or per file so that one run
reports every problem of every file (:class:`Problems`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import yaml

from fairdicom.errors import MappingError
from fairdicom.namespaces import PREFIXES

__all__ = [
    "MappingProblem",
    "Problem",
    "Problems",
    "SssomTable",
    "closest",
    "expand",
    "fail",
    "read_table",
]

HEADER_KEYS = ("mapping_set_id", "mapping_set_version", "license", "curie_map")
"""Metadata a mapping set must state."""
COLUMNS = ("subject_id", "predicate_id", "object_id", "mapping_justification")
"""Columns every table must have (SSSOM's required slots)."""
NOT_IN_IRI = re.compile(r'[\x00-\x20<>"{}|\\^`]')


@dataclass(frozen=True)
class Problem:
    """One problem of one mapping file, at a line and column (both from 1)."""

    path: Path
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        try:
            shown = str(self.path.resolve().relative_to(Path.cwd()))
        except ValueError:
            shown = str(self.path)
        return f"{shown}:{self.line}:{self.column}: {self.message}"


class MappingProblem(MappingError):
    """One problem of a mapping file (the checks collect them and go on)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class MappingProblems(MappingError):
    """Every problem found in the mapping files, one a line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class Problems:
    """The problems found so far; :meth:`collecting` records one and lets the check go on."""

    found: list[Problem] = field(default_factory=list)

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Record a MappingProblem raised in the block instead of letting it through."""
        try:
            yield
        except MappingProblem as exc:
            self.found.append(exc.problem)

    def raise_any(self) -> None:
        """Raise every problem found (in file, line and column order), if any."""
        if self.found:
            unique = sorted(set(self.found), key=lambda p: (str(p.path), p.line, p.column))
            raise MappingProblems(unique)


def fail(path: Path, line: int, problem: str, column: int = 1) -> NoReturn:
    """Raise a MappingProblem naming the file, line and column."""
    raise MappingProblem(Problem(path, line, column, problem))


def closest(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'X'?)`` for the closest choice, or an empty string."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{found[0]}'?)" if found else ""


@dataclass(frozen=True)
class SssomTable:
    """One SSSOM TSV file: metadata, curie_map, column names and rows with their line numbers."""

    path: Path
    metadata: dict[str, object]
    prefixes: dict[str, str]
    columns: list[str]
    header_line: int
    rows: list[tuple[int, dict[str, str]]]
    texts: dict[int, str] = field(default_factory=dict, compare=False)
    """Line number -> the text of that row, for columns in problem reports."""

    def column(self, line: int, name: str) -> int:
        """Return the column (from 1) where a cell of a row starts (1 when unknown)."""
        text = self.texts.get(line)
        if text is None or name not in self.columns:
            return 1
        cells = text.split("\t")
        index = self.columns.index(name)
        return 1 + sum(len(cell) + 1 for cell in cells[:index])


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
        line, column = (mark.line + 1, mark.column + 3) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        fail(path, line, f"metadata block is not valid YAML: {problem}", column)
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


def read_table(path: Path, problems: Problems | None = None) -> SssomTable:
    """Parse one SSSOM TSV file and check its metadata, header row and row widths.

    A problem of the metadata or the header row is raised; a row of the wrong width is
    recorded in ``problems`` and left out when given, else raised.
    """
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
    texts: dict[int, str] = {}
    for number, text in enumerate(lines[start + 1 :], start + 2):
        if not text.strip():
            continue
        cells = text.split("\t")
        if len(cells) != len(columns):
            width = MappingProblem(
                Problem(
                    path, number, 1, f"{len(cells)} cells but the header row has {len(columns)}"
                )
            )
            if problems is None:
                raise width
            problems.found.append(width.problem)
            continue
        rows.append((number, {c: v.strip() for c, v in zip(columns, cells, strict=True)}))
        texts[number] = text
    return SssomTable(path, metadata, prefixes, columns, start + 1, rows, texts)


def expand(table: SssomTable, line: int, row: dict[str, str], column: str) -> str:
    """Return the IRI of the CURIE in one cell, expanded with the table's curie_map."""
    curie = row.get(column, "")
    where = table.column(line, column)
    prefix, colon, local = curie.partition(":")
    if not colon or not prefix:
        fail(table.path, line, f"{column} '{curie}' is not a CURIE (prefix:local)", where)
    if prefix not in table.prefixes:
        declared = ", ".join(sorted(table.prefixes))
        fail(
            table.path,
            line,
            f"unknown prefix '{prefix}' in {column} '{curie}' (declared prefixes: {declared})"
            + closest(prefix, table.prefixes),
            where,
        )
    iri = table.prefixes[prefix] + local
    if NOT_IN_IRI.search(iri):
        fail(
            table.path,
            line,
            f"{column} '{curie}' has a character not allowed in an IRI "
            "(percent-encode it: space %20, quote %22, backslash %5C)",
            where,
        )
    return iri
