"""docs/architecture.md stays true: its layers are the import-linter contract, and every module,
function, class and data file it names exists."""

from __future__ import annotations

import importlib
import re
import tomllib

import pytest

from tests.conftest import ROOT

DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
NAMES = sorted(set(re.findall(r"`(fairdicom(?:\.\w+)+)(?:\(\))?`", DOC)))
FILES = sorted(set(re.findall(r"`((?:ontologies|shapes|data)/[\w./*-]*)`", DOC)))


def test_the_layers_are_the_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["id"] == "layers")
    block = DOC.split("<!-- layers: begin -->", 1)[1].split("<!-- layers: end -->", 1)[0]
    documented = [line for line in block.splitlines() if line and not line.startswith("```")]
    assert documented == layers


def test_the_doc_names_enough() -> None:
    assert len(NAMES) > 40 and len(FILES) > 4


@pytest.mark.parametrize("name", NAMES)
def test_every_named_module_and_object_exists(name: str) -> None:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return
    pytest.fail(f"{name} is not a module of fairdicom")


@pytest.mark.parametrize("path", FILES)
def test_every_named_file_exists(path: str) -> None:
    pattern = path.rstrip("/") if "*" not in path else path
    assert list(ROOT.glob(pattern)), path
