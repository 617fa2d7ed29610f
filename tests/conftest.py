"""Shared fixtures: synthetic corpora (made once per session), stores, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fairdicom.dicom.synth import write_corpus

SECRET = "test-secret"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep every test away from the user's store, config and secret."""
    for name in list(os.environ):
        if name.startswith("FAIRDICOM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FAIRDICOM_SECRET", SECRET)
    monkeypatch.setenv("FAIRDICOM_STORE", str(tmp_path / "default-store"))
    empty = tmp_path / "empty-fairdicom.toml"  # never the user's ./fairdicom.toml
    # Datasets without a description are NON_PUBLIC, closed to anonymous readers by default;
    # tests/test_access.py and tests/test_access_config.py turn access control on.
    empty.write_text("access_control = false\n")
    monkeypatch.setenv("FAIRDICOM_CONFIG", str(empty))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic corpus (4 patients, every modality)."""
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, patients=4, seed=11)
    return out


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``fairdicom`` in a child process (as a user would); return its result."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT / "app")}
    return subprocess.run(
        [sys.executable, "-m", "fairdicom.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
        timeout=300,
    )


@pytest.fixture()
def store_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "store"
