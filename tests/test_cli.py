"""The command line: exit statuses, messages a person can act on, the summary, export, stats."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fairdicom.cli import main
from fairdicom.resources import SAMPLE
from fairdicom.store import EmbeddedStore


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("synth", "ingest", "demo", "export", "stats", "validate", "mapping"):
        assert re.search(rf"^\s+{command}\s", result.output, re.MULTILINE), command


def test_ingest_prints_a_summary_and_exits_0(
    runner: CliRunner, corpus: Path, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["ingest", str(corpus), "--store", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert re.search(r"files seen (\d+): ingested \1, skipped 0", result.output)
    assert "patients 4," in result.output
    assert re.search(r"time [\d.]+ s \(\d+ files/s\)", result.output)


def test_missing_path_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["ingest", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_store_in_use_is_exit_2_with_advice(
    runner: CliRunner, corpus: Path, tmp_path: Path
) -> None:
    holder = EmbeddedStore(str(tmp_path / "busy"))
    try:
        result = runner.invoke(main, ["ingest", str(corpus), "--store", str(tmp_path / "busy")])
    finally:
        holder.close()
    assert result.exit_code == 2
    assert "open in another fairdicom process" in result.output


def test_an_unexpected_ingest_error_is_exit_2_without_its_message(
    runner: CliRunner, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("PatientName DOE^JANE 19580217")  # a message that quotes values

    monkeypatch.setattr("fairdicom.ingest.pipeline.load_mappings", broken)
    result = runner.invoke(main, ["ingest", str(corpus), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "internal error RuntimeError at " in result.output
    assert "DOE" not in result.output and "19580217" not in result.output
    assert "Traceback" not in result.output


def test_bad_config_names_the_key(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "fairdicom.toml"
    config.write_text('batch_sise = 3\n[deidentification]\nlongitudinal = "sometimes"\n')
    result = runner.invoke(main, ["--config", str(config), "stats"])
    assert result.exit_code == 2
    assert "batch_sise" in result.output


def test_export_formats_and_stats(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    assert runner.invoke(main, ["ingest", str(corpus), "--store", store]).exit_code == 0
    turtle = runner.invoke(main, ["export", "--format", "turtle", "--store", store])
    assert turtle.exit_code == 0 and "@prefix fd:" in turtle.output
    graph = "http://localhost:8000/graph/test-cli/curated"
    one = runner.invoke(main, ["export", "--graph", graph, "--store", store])
    assert one.exit_code == 0 and one.output == ""  # no such graph: nothing
    nquads = runner.invoke(main, ["export", "--store", store])
    assert "/graph/default/curated> ." in nquads.output
    stats = runner.invoke(main, ["stats", "--store", store])
    assert stats.exit_code == 0
    assert re.search(r"patients 4, studies \d+, series \d+, instances \d+", stats.output)
    valid = runner.invoke(main, ["validate", "--store", store])
    assert valid.exit_code == 0, valid.output
    assert "0 not conforming" in valid.output


def test_demo_ingests_the_bundled_sample(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["demo", "--no-serve", "--store", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    files = [p for p in SAMPLE.rglob("*.dcm")]
    assert f"files seen {len(files) + 1}: ingested {len(files)}" in result.output  # + README
    assert str(tmp_path / "demo") in result.output


def test_mapping_check(runner: CliRunner, tmp_path: Path) -> None:
    ok = runner.invoke(main, ["mapping", "check"])
    assert ok.exit_code == 0 and "OK" in ok.output
    broken = tmp_path / "mappings"
    broken.mkdir()
    (broken / "attributes.sssom.tsv").write_text("not a table\n")
    bad = runner.invoke(main, ["mapping", "check", str(broken)])
    assert bad.exit_code == 1  # problems found, as a linter says (2: usage or store errors)
    assert "attributes.sssom.tsv:" in bad.output


def test_synth_writes_a_corpus(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["synth", str(tmp_path / "out"), "--patients", "3", "--seed", "2"])
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "out").rglob("*.dcm"))
    assert f"wrote {len(files)} instances (3 patients" in result.output
