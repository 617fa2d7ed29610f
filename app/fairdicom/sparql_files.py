"""Read the SPARQL text that lives in ``.rq`` files next to the code that runs it."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def sparql(module_file: str, name: str) -> str:
    """Return the text of ``queries/<name>.rq`` beside the module ``module_file``."""
    return (Path(module_file).with_name("queries") / f"{name}.rq").read_text(encoding="utf-8")
