"""The mapping tables are valid SSSOM for the reference tool (sssom-py, from PyPI): `sssom
validate` passes and `sssom parse` keeps every row and every column fairdicom reads; and the
tool and `fairdicom mapping check` agree on a justification outside the SSSOM vocabulary."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from types import ModuleType

import pytest
from fairdicom.rdf.sssom import read_table

from tests.conftest import ROOT, run_cli

MAPPINGS = ROOT / "ontologies" / "mappings"
TABLES = sorted(MAPPINGS.glob("*.sssom.tsv"))
KEPT = (
    "subject_id",
    "subject_label",
    "predicate_id",
    "object_id",
    "object_label",
    "mapping_justification",
    "subject_category",
    "comment",
)


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    """The reference tool's own entry points (``sssom validate`` and ``sssom parse`` call
    these); imported once, as its command takes seconds to start."""
    sssom = pytest.importorskip("sssom", reason="PyPI sssom (in the test extra) is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its dependencies' own deprecations
        from sssom import io

    assert sssom.__name__ == "sssom"
    return io


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.name)
def test_sssom_validate_passes(table: Path, tool: ModuleType) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tool.validate_file(str(table), fail_on_error=True)


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.name)
def test_sssom_parse_round_trips(table: Path, tmp_path: Path, tool: ModuleType) -> None:
    out = tmp_path / table.name
    with warnings.catch_warnings(), out.open("w") as handle:
        warnings.simplefilter("ignore")
        tool.parse_file(str(table), handle)
    ours, theirs = read_table(table), read_table(out)

    def rows(parsed: object) -> set[tuple[str, ...]]:
        assert hasattr(parsed, "rows")
        return {tuple(row.get(c, "") for c in KEPT) for _, row in parsed.rows}

    assert rows(theirs) == rows(ours)
    assert set(ours.columns) <= set(theirs.columns), set(ours.columns) - set(theirs.columns)
    for key in ("mapping_set_id", "license"):
        assert theirs.metadata[key] == ours.metadata[key]
    for prefix, iri in ours.prefixes.items():
        assert theirs.prefixes[prefix] == iri


def test_invalid_justification_fails_both_tools(tmp_path: Path, tool: ModuleType) -> None:
    copy = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, copy)
    sex = copy / "sex.sssom.tsv"
    sex.write_text(sex.read_text().replace("semapv:ManualMappingCuration", "semapv:ManualCuration"))
    with warnings.catch_warnings(), pytest.raises(Exception, match="validation error"):
        warnings.simplefilter("ignore")
        tool.validate_file(str(sex), fail_on_error=True)
    done = run_cli("mapping", "check", str(copy))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [ln for ln in done.stderr.splitlines() if "sex.sssom.tsv:" in ln]
    assert len(lines) == 3, done.stderr  # F, M and O: each row, with its line and column
    assert all(
        "semapv:ManualCuration" in ln and "semapv:ManualMappingCuration" in ln for ln in lines
    )
