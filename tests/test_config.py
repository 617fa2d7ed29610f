"""Settings: defaults, file, environment; every setting documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.config import SETTINGS, load_settings
from app.errors import ConfigError
from app.resources import ROOT


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "fairdicom.toml"
    config.write_text(
        'base_iri = "https://img.example.org/"\nbatch_size = 7\n'
        "[deidentification]\nclean_descriptors = false\n"
    )
    monkeypatch.setenv("FAIRDICOM_BATCH_SIZE", "9")
    monkeypatch.setenv("FAIRDICOM_DEID_LONGITUDINAL", "full")
    settings = load_settings(config)
    assert settings.base_iri == "https://img.example.org/"
    assert settings.batch_size == 9
    assert settings.deid.clean_descriptors is False
    assert settings.deid.longitudinal == "full"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("batch_size = 'many'\n", "batch_size"),
        ("nope = 1\n", "unknown setting 'nope'"),
        ("[deidentification]\nlongitudinal = 'maybe'\n", "longitudinal"),
        ("[deidentification]\nclean_descriptors = 'perhaps'\n", "clean_descriptors"),
        ("store = [\n", "fairdicom.toml"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "fairdicom.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(config)


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in SETTINGS:
        assert f"| `{name}` |" in readme, name
