"""The import-linter contracts: the README's Layout table is them, and they catch bad imports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _layers() -> list[str]:
    """Return the layers of the layers contract in pyproject.toml, top first."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers: list[str] = next(c["layers"] for c in contracts if c["id"] == "layers")
    return layers


def test_readme_layout_is_the_layers_contract() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
    numbers = [int(row.split("|")[1]) for row in rows]
    documented = [
        " | ".join(re.findall(r"(?:^|\\\|)\s*`(\w+)`", row.split("|", 2)[2])) for row in rows
    ]
    assert numbers == list(range(len(rows), 0, -1))
    assert documented == _layers()


def test_every_module_of_app_is_in_a_layer() -> None:
    layered = {module.strip() for layer in _layers() for module in layer.split("|")}
    package = ROOT / "app" / "fairdicom"
    present = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    present |= {p.parent.name for p in package.glob("*/__init__.py")}
    assert present == layered


def test_contracts_catch_bad_imports(tmp_path: Path) -> None:
    """Plant one import that breaks each kind of contract in a copy of app/; each is reported."""
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    planted = {
        "app/fairdicom/web/planted_pydicom.py": "import pydicom\n",
        "app/fairdicom/dicom/planted_flask.py": "from flask import Flask\n",
        "app/fairdicom/rdf/planted_oxigraph.py": "import pyoxigraph\n",
        "app/fairdicom/query/planted_click.py": "import click\n",
        "app/fairdicom/store/planted_upward.py": "import fairdicom.ingest.pipeline\n",
    }
    for path, text in planted.items():
        (tmp_path / path).write_text(text)
    with (tmp_path / "app/fairdicom/web/oai.py").open("a") as oai:
        oai.write("from fairdicom.web import sparql as _planted\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "app")}
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    report = " ".join(result.stdout.split())
    assert result.returncode == 1, result.stdout + result.stderr
    for chain in [
        "fairdicom.web.planted_pydicom -> pydicom",
        "fairdicom.dicom.planted_flask -> flask",
        "fairdicom.rdf.planted_oxigraph -> pyoxigraph",
        "fairdicom.query.planted_click -> click",
        "fairdicom.store.planted_upward -> fairdicom.ingest.pipeline",
        "fairdicom.web.oai -> fairdicom.web.sparql",
    ]:
        assert chain in report, chain
