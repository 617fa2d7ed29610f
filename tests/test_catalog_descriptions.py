"""The dataset descriptions file: the bundled one loads; each error names file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fairdicom.catalog.descriptions import load_descriptions
from fairdicom.cli import main
from fairdicom.config import load_settings
from fairdicom.errors import ConfigError
from fairdicom.resources import DESCRIPTIONS, SAMPLE
from fairdicom.web import create_app
from fairdicom.web.protocol import SERVICE_KEY


def test_bundled_descriptions_load() -> None:
    loaded = load_descriptions()
    sample = loaded.datasets["sample"]
    assert sample.access_level == "PUBLIC"
    assert sample.title["en"] and sample.title["nl"]
    assert sample.themes == ("http://publications.europa.eu/resource/authority/data-theme/HEAL",)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('access_rights = "PUBLIC"', 'access_rights = "OPEN"', "datasets.sample.access_rights"),
        ('themes = ["HEAL"]', 'themes = ["HEALTH"]', "datasets.sample.themes"),
        ('email = "hdab@example.org"', 'email = "nobody"', "datasets.sample.hdab.email"),
        (
            'licence = "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0"'
            "\naccess",
            "access",
            "datasets.sample.licence",
        ),
        ("title = { en", "title = { english", "datasets.sample.title.english"),
        ('landing_page = "', 'landing_pages = "', "datasets.sample.landing_pages"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = DESCRIPTIONS.read_text(encoding="utf-8")
    start = text.index("[datasets.sample]")
    assert old in text[start:]
    path = tmp_path / "datasets.toml"
    path.write_text(text[:start] + text[start:].replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_descriptions(path)
    assert str(path) in str(error.value)
    assert f"{key}:" in str(error.value)


def test_not_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "datasets.toml"
    path.write_text("[catalog\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_descriptions(path)


def test_catalog_command_builds_and_validates(runner: CliRunner, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert runner.invoke(main, ["ingest", str(SAMPLE), "--store", str(store)]).exit_code == 0
    result = runner.invoke(main, ["catalog", "--validate", "--store", str(store)])
    assert result.exit_code == 0, result.output
    warning = "warning: dataset 'default' has no description in "
    assert warning in result.output and "generated minimal description" in result.output
    assert "catalogue: 1 dataset(s)" in result.output  # published all the same, NON_PUBLIC
    assert "HealthDCAT-AP r8 NON_PUBLIC: conforms" in result.output
    broken = tmp_path / "datasets.toml"
    broken.write_text(DESCRIPTIONS.read_text().replace("[datasets.sample]", "[datasets.default]"))
    result = runner.invoke(
        main, ["catalog", "--validate", "--store", str(store), "--descriptions", str(broken)]
    )
    assert result.exit_code == 0, result.output
    assert "catalogue: 1 dataset(s)" in result.output and "warning" not in result.output
    assert "DCAT-AP 3.0.1: conforms" in result.output
    assert "HealthDCAT-AP r8 PUBLIC: conforms" in result.output


def test_no_catalogue_yet_is_404(tmp_path: Path) -> None:
    settings = load_settings(store=str(tmp_path / "store"), secret="s", query_workers=1)
    app = create_app(settings)
    try:
        response = app.test_client().get("/catalog")
        assert response.status_code == 404
        assert "fairdicom catalog" in response.get_data(as_text=True)
    finally:
        app.extensions[SERVICE_KEY].close()


def test_validate_checks_each_access_level_on_its_own_datasets(
    runner: CliRunner, tmp_path: Path, corpus: Path
) -> None:
    store = tmp_path / "store"
    for folder, slug in ((SAMPLE, "sample"), (corpus, "closed"), (corpus, "undescribed")):
        args = ["ingest", str(folder), "--store", str(store), "--dataset", slug]
        assert runner.invoke(main, args).exit_code == 0
    text = DESCRIPTIONS.read_text(encoding="utf-8")
    closed = text[text.index("[datasets.sample]") :].replace("[datasets.sample]", "")
    closed = closed.replace('access_rights = "PUBLIC"', 'access_rights = "RESTRICTED"')
    descriptions = tmp_path / "datasets.toml"
    descriptions.write_text(text + "\n[datasets.closed]" + closed, encoding="utf-8")
    args = ["catalog", "--validate", "--store", str(store), "--descriptions", str(descriptions)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "catalogue: 3 dataset(s)" in result.output
    for level in ("PUBLIC", "RESTRICTED", "NON_PUBLIC"):  # undescribed: generated, NON_PUBLIC
        assert f"HealthDCAT-AP r8 {level}: conforms" in result.output
