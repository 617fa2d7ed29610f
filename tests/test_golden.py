"""Golden files: the raw and curated graphs of a few synthetic files, compared as graphs.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 python -m pytest
tests/test_golden.py`` and review the diff of tests/golden/.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from fairdicom.config import load_settings
from fairdicom.dicom.synth import write_corpus
from fairdicom.ingest.pipeline import ingest
from fairdicom.store import EmbeddedStore
from rdflib import Graph
from rdflib.compare import graph_diff, isomorphic, to_isomorphic

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def golden_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("golden-corpus")
    write_corpus(corpus, patients=2, seed=5, instances_per_series=(2, 3))
    # A few files: the first two series of the corpus (different modalities).
    chosen = tmp_path_factory.mktemp("golden-files")
    series_dirs = sorted({p.parent for p in corpus.rglob("*.dcm")})[:3]
    for index, folder in enumerate(series_dirs):
        shutil.copytree(folder, chosen / f"s{index}")
    store = tmp_path_factory.mktemp("golden") / "store"
    settings = load_settings(store=str(store), secret="golden-secret")
    summary = ingest([chosen], settings, "golden")
    assert summary.rejected == 0 and summary.quarantined_series == 0
    return store


@pytest.mark.parametrize("layer", ["raw", "curated"])
def test_layer_matches_golden_file(golden_store: Path, layer: str) -> None:
    store = EmbeddedStore(str(golden_store), read_only=True)
    out = io.BytesIO()
    try:
        store.dump(out, "ntriples", f"http://localhost:8000/graph/golden/{layer}")
    finally:
        store.close()
    produced = Graph().parse(data=out.getvalue().decode(), format="nt")
    golden_file = GOLDEN / f"synth-{layer}.nt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden_file.write_text("".join(sorted(out.getvalue().decode().splitlines(True))))
    expected = Graph().parse(golden_file, format="nt")
    if not isomorphic(produced, expected):
        _, only_produced, only_expected = graph_diff(
            to_isomorphic(produced), to_isomorphic(expected)
        )
        pytest.fail(
            f"{layer} differs from {golden_file.name}:\n+ "
            + "\n+ ".join(sorted(only_produced.serialize(format="nt").splitlines())[:20])
            + "\n- "
            + "\n- ".join(sorted(only_expected.serialize(format="nt").splitlines())[:20])
        )
    assert len(produced) > 20
