"""Settings: defaults, file, environment, arguments; typed errors; the README table is exact."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fairdicom.config import SETTINGS, DeidOptions, Settings, load_settings, settings_table
from fairdicom.errors import ConfigError
from fairdicom.web import create_app

from tests.conftest import ROOT, run_cli

OAI = "{http://www.openarchives.org/OAI/2.0/}"


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


def test_arguments_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRDICOM_PORT", "8100")
    monkeypatch.setenv("FAIRDICOM_SERVICE_ALLOW_LIST", " https://a.example/sparql ,, b ")
    monkeypatch.setenv("FAIRDICOM_DEID_RETAIN_DEVICE_IDENTITY", "yes")
    settings = load_settings(port=8200, host=None)
    assert settings.port == 8200
    assert settings.host == "127.0.0.1"  # None means "not given"
    assert settings.service_allow_list == ("https://a.example/sparql", "b")
    assert settings.deid == DeidOptions(retain_device_identity=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("batch_size = 'many'\n", "batch_size = 'many': expected a whole number"),
        ("batch_size = '7'\n", "batch_size = '7': expected a whole number"),
        ("batch_size = 0\n", "batch_size = 0: expected a whole number at least 1"),
        ("port = 70000\n", "port = 70000: expected a whole number at least 0 and at most 65535"),
        ("union_default_graph = 1\n", "union_default_graph = 1: expected true or false"),
        ("service_allow_list = 'x'\n", "service_allow_list = 'x': expected a list of strings"),
        ("host = 127\n", "host = 127: expected a string"),
        ("nope = 1\n", "unknown setting 'nope'"),
        ("[deidentification]\nnope = 1\n", "unknown setting 'deidentification.nope'"),
        ("deidentification = 1\n", "deidentification must be a table"),
        ("[deidentification]\nlongitudinal = 'maybe'\n", "use one of modified, full, remove"),
        ("[deidentification]\nclean_descriptors = 'perhaps'\n", "clean_descriptors"),
        ("store = [\n", "fairdicom.toml"),
    ],
)
def test_file_errors_name_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "fairdicom.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_settings(config)
    assert str(config) in str(caught.value)


def test_one_error_names_every_bad_key(tmp_path: Path) -> None:
    config = tmp_path / "fairdicom.toml"
    config.write_text("workers = -1\nmax_rows = 'all'\n[deidentification]\nkeep_private = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[1].split(" =")[0] for line in lines] == [
        "workers",
        "max_rows",
        "deidentification.keep_private",
    ]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FAIRDICOM_QUERY_TIMEOUT", "soon", "query_timeout = 'soon': expected a whole number"),
        ("FAIRDICOM_UNION_DEFAULT_GRAPH", "perhaps", "expected true or false"),
        ("FAIRDICOM_DEID_LONGITUDINAL", "sometimes", "use one of modified, full, remove"),
    ],
)
def test_environment_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_settings()
    assert f"environment variable {variable}" in str(caught.value)


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAIRDICOM_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match=re.escape("absent.toml does not exist")):
        load_settings()


def test_every_setting_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set every declared variable to a value that differs from the default; all arrive."""
    text = {bool: None, int: "7", str: "site-value", tuple[str, ...]: "one,two"}
    for spec in SETTINGS.values():
        given = text.get(spec.kind, "remove")
        if given is None:
            given = "false" if spec.default else "true"
        monkeypatch.setenv(spec.env, given)
    settings = load_settings()
    for key, spec in SETTINGS.items():
        holder = getattr(settings, spec.table_field) if spec.table_field else settings
        assert getattr(holder, spec.attribute) != spec.default, key
    assert len({spec.env for spec in SETTINGS.values()}) == len(SETTINGS)
    assert settings.deid.longitudinal == "remove" and settings.secret == "site-value"


def test_documented_variables_keep_their_names() -> None:
    variables = {key: spec.env for key, spec in SETTINGS.items()}
    assert variables["store"] == "FAIRDICOM_STORE"
    assert variables["secret"] == "FAIRDICOM_SECRET"
    assert variables["admin_token"] == "FAIRDICOM_ADMIN_TOKEN"
    assert variables["oai_admin_email"] == "FAIRDICOM_OAI_ADMIN_EMAIL"
    assert variables["deidentification.keep_private"] == "FAIRDICOM_DEID_KEEP_PRIVATE"


def test_secrets_never_reach_the_terminal(tmp_path: Path) -> None:
    config = tmp_path / "fairdicom.toml"
    config.write_text("secret = 918273645546372\nadmin_token = 564738291019283\n")
    result = run_cli("--config", str(config), "stats", "--store", str(tmp_path / "s"))
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "secret = <hidden>: expected a string" in output
    assert "admin_token = <hidden>" in output
    assert "918273645546372" not in output and "564738291019283" not in output


def test_oai_admin_email_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without a contact email in the catalogue, Identify answers with the setting."""
    monkeypatch.setenv("FAIRDICOM_OAI_ADMIN_EMAIL", "curator@hospital.example")
    settings = load_settings(store=str(tmp_path / "store"), query_workers=1)
    for configured, expected in [(settings, "curator@hospital.example"), (None, "admin@")]:
        chosen = configured or Settings(store=settings.store, query_workers=1)
        with create_app(chosen).test_client() as client:
            page = ET.fromstring(client.get("/oai?verb=Identify").get_data())
        email = page.findtext(f"{OAI}Identify/{OAI}adminEmail")
        assert email is not None and email.startswith(expected), email


def test_readme_table_is_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))
    assert table == settings_table(), "paste `python -m fairdicom.config` into README.md"
