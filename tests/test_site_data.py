"""Site data outside the code: configuration paths relative to their file, the pseudonym key
and the dumps in the data folder, the descriptions setting (and `catalog --descriptions`), a
remote store without a data folder, and non-ASCII text through the reports."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pydicom
import pytest
from fairdicom.config import load_settings
from fairdicom.resources import DESCRIPTIONS

from tests.conftest import run_cli
from tests.helpers import dataset_quads

BASE = "http://localhost:8000/"
DCT_TITLE = "<http://purl.org/dc/terms/title>"


def test_paths_in_a_configuration_file_are_relative_to_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "site" / "conf"
    folder.mkdir(parents=True)
    config = folder / "fairdicom.toml"
    config.write_text(
        'store = "store"\nmappings = "./maps"\ndescriptions = "../datasets.toml"\n'
        'data_dir = "~/files"\n'
    )
    monkeypatch.delenv("FAIRDICOM_STORE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # elsewhere: the file's folder counts, not the working one
    settings = load_settings(config)
    assert settings.store == str(folder / "store")
    assert settings.mappings_folder == folder / "maps"
    assert settings.descriptions_file == folder / ".." / "datasets.toml"
    assert settings.data_folder == tmp_path / "home" / "files"
    # Variables and arguments stay relative to the working directory; URLs stay URLs.
    monkeypatch.setenv("FAIRDICOM_DATA_DIR", "files")
    assert load_settings(config, mappings="maps").mappings == "maps"
    assert load_settings(config).data_dir == "files"
    config.write_text('store = "http://127.0.0.1:9/sparql"\ndata_dir = "/srv/site"\n')
    remote = load_settings(config)
    assert remote.store == "http://127.0.0.1:9/sparql" and remote.data_dir == "files"


def _data_quads(store: Path) -> set[str]:
    """Return the quads of the datasets' graphs (the catalogue's dates change run to run)."""
    return {q for q in dataset_quads(store) if not q.endswith("/graph/catalog> .")}


def _ingest(*args: str, env: dict[str, str]) -> None:
    result = run_cli("ingest", *args, env=env)
    assert result.returncode == 0, result.stderr


def test_the_key_and_the_dumps_live_in_the_data_folder(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAIRDICOM_SECRET")
    store, files = tmp_path / "store", tmp_path / "files"
    env = {"FAIRDICOM_STORE": str(store), "FAIRDICOM_DATA_DIR": str(files)}
    _ingest(str(corpus), "--dataset", "sample", env=env)
    key = files / "pseudonym.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64
    assert not (store / "pseudonym.key").exists()
    assert (files / "dumps" / "sample.nq.gz").is_file() and not (store / "dumps").exists()
    first, secret = _data_quads(store), key.read_bytes()
    _ingest(str(corpus), "--dataset", "sample", env=env)
    assert key.read_bytes() == secret
    assert _data_quads(store) == first  # the same key, the same IRIs


def test_an_existing_store_keeps_its_key(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAIRDICOM_SECRET")
    store, files = tmp_path / "store", tmp_path / "files"
    _ingest(str(corpus), env={"FAIRDICOM_STORE": str(store)})
    old_key = store / "pseudonym.key"  # the default data folder is the store's directory
    assert old_key.is_file()
    before = _data_quads(store)

    env = {"FAIRDICOM_STORE": str(store), "FAIRDICOM_DATA_DIR": str(files)}
    refused = run_cli("ingest", str(corpus), env=env)
    assert refused.returncode == 2
    assert f"mv {old_key} {files / 'pseudonym.key'}" in refused.stderr
    assert not (files / "pseudonym.key").exists()
    assert _data_quads(store) == before

    files.mkdir()
    shutil.move(old_key, files / "pseudonym.key")
    _ingest(str(corpus), env=env)
    assert _data_quads(store) == before


@pytest.mark.parametrize("command", [["ingest", "."], ["catalog"]])
def test_a_remote_store_needs_a_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.delenv("FAIRDICOM_SECRET")
    monkeypatch.chdir(tmp_path)
    result = run_cli(*command, "--store", "http://127.0.0.1:9/sparql")
    assert result.returncode == 2
    assert "set data_dir (FAIRDICOM_DATA_DIR)" in result.stderr
    assert "Traceback" not in result.stderr


def _catalog_titles(store: Path) -> set[str]:
    result = run_cli(
        "export", "--store", str(store), "--format", "nt", "--graph", BASE + "graph/catalog"
    )
    assert result.returncode == 0, result.stderr
    return {
        line.split(f" {DCT_TITLE} ", 1)[1].removesuffix(" .")
        for line in result.stdout.splitlines()
        if f"/dataset/sample> {DCT_TITLE} " in line
    }


def test_the_descriptions_setting_is_what_every_refresh_publishes(
    tmp_path: Path, corpus: Path
) -> None:
    store = tmp_path / "store"
    site, other = tmp_path / "site.toml", tmp_path / "other.toml"
    bundled = DESCRIPTIONS.read_text(encoding="utf-8")
    site.write_text(bundled.replace("fairdicom synthetic imaging sample", "Site 山田"), "utf-8")
    other.write_text(bundled.replace("fairdicom synthetic imaging sample", "Other"), "utf-8")
    env = {"FAIRDICOM_STORE": str(store), "FAIRDICOM_DESCRIPTIONS": str(site)}
    _ingest(str(corpus), "--dataset", "sample", env=env)
    assert '"Site 山田"@en' in _catalog_titles(store)

    override = run_cli("catalog", "--descriptions", str(other), env=env)
    assert override.returncode == 0, override.stderr
    assert '"Other"@en' in _catalog_titles(store)
    assert f"the next ingest refreshes the catalogue from {site}" in override.stderr

    plain = run_cli("catalog", env=env)
    assert plain.returncode == 0 and plain.stderr == ""
    assert '"Site 山田"@en' in _catalog_titles(store)


def test_non_ascii_text_survives_the_reports(tmp_path: Path, corpus: Path) -> None:
    """An IRI base with non-ASCII characters, and a quarantined series whose SHACL report
    (a literal in the store) names it: `stats` and `validate` print them as they are."""
    base = "http://localhost:8000/müller-山田/"
    odd = tmp_path / "odd"
    odd.mkdir()
    ds = pydicom.dcmread(sorted(corpus.rglob("*.dcm"))[0])
    ds.Modality = "ZZ"  # not a DICOM modality: the series has no fd:modality, quarantined
    ds.SeriesInstanceUID += ".77"
    ds.SOPInstanceUID += ".77"
    ds.save_as(odd / "odd.dcm")
    env = {"FAIRDICOM_STORE": str(tmp_path / "store"), "FAIRDICOM_BASE_IRI": base}
    ingested = run_cli("ingest", str(corpus), str(odd), "--dataset", "test", env=env)
    assert ingested.returncode == 1, ingested.stderr  # one series quarantined

    stats = run_cli("stats", env=env)
    assert stats.returncode == 0, stats.stderr
    assert f"dataset graph {base}graph/test/raw: patients 4," in stats.stdout

    report = run_cli("validate", env=env)
    assert report.returncode == 1
    quarantined = [line for line in report.stdout.splitlines() if line.startswith("quarantined")]
    assert len(quarantined) == 1
    series = quarantined[0].split()[1]
    assert series.startswith(f"{base}id/series/2.25.")
    assert f"Focus Node: <{series}>" in report.stdout
    assert "has no modality" in report.stdout
