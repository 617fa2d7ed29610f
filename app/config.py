"""Settings: defaults, then ``fairdicom.toml``, then ``FAIRDICOM_*`` environment variables.

Each setting is declared once in :data:`SETTINGS` (name, default, help); the README's table
of settings is checked against it by the tests.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.errors import ConfigError

DEFAULT_STORE = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / (
    "fairdicom/store"
)
LONGITUDINAL_CHOICES = ("modified", "full", "remove")


@dataclass(frozen=True)
class DeidOptions:
    """Which PS3.15 Annex E options apply on top of the Basic Application Level Profile."""

    longitudinal: str = "modified"
    """Retain Longitudinal Temporal Information: modified (shifted) dates, full dates, or remove."""
    clean_descriptors: bool = True
    retain_patient_characteristics: bool = True
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    keep_private: tuple[str, ...] = ()
    """Safe private attributes, as ``CREATOR:ggggxxee`` (the Retain Safe Private option)."""

    def __post_init__(self) -> None:
        if self.longitudinal not in LONGITUDINAL_CHOICES:
            raise ConfigError(
                f"deidentification.longitudinal = {self.longitudinal!r}: "
                f"use one of {', '.join(LONGITUDINAL_CHOICES)}"
            )


@dataclass(frozen=True)
class Settings:
    """Every setting of fairdicom with its default."""

    store: str = str(DEFAULT_STORE)
    base_iri: str = "http://localhost:8000/"
    secret: str = ""
    dataset: str = "default"
    batch_size: int = 400
    workers: int = 0
    admin_token: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    query_timeout: int = 30
    max_rows: int = 100_000
    max_request_bytes: int = 1_048_576
    query_workers: int = 2
    union_default_graph: bool = True
    oai_page_size: int = 50
    service_allow_list: tuple[str, ...] = ()
    deid: DeidOptions = field(default_factory=DeidOptions)

    @property
    def worker_count(self) -> int:
        return self.workers or (os.cpu_count() or 1)


SETTINGS: dict[str, str] = {
    "store": "store location: a directory (embedded Oxigraph) or an http(s):// SPARQL URL",
    "base_iri": "base of every data IRI the store mints (set it to the public URL of the server)",
    "secret": "key of the pseudonyms (HMAC); default: a random key kept in the store directory",
    "dataset": "dataset slug used when ingest is not given --dataset",
    "batch_size": "instances per write transaction",
    "workers": "parsing processes (0 = one per core)",
    "admin_token": "bearer token that allows writes over HTTP",
    "host": "address `fairdicom serve` listens on",
    "port": "port `fairdicom serve` listens on",
    "query_timeout": "seconds a SPARQL query may run before it is stopped",
    "max_rows": "most result rows one SPARQL query returns",
    "max_request_bytes": "largest HTTP request body accepted",
    "query_workers": "processes that run SPARQL queries (each can be stopped on timeout)",
    "union_default_graph": "the default graph is the union of the named graphs",
    "oai_page_size": "records in one OAI-PMH list response (then a resumption token)",
    "service_allow_list": "endpoints SERVICE and LOAD may reach (none by default)",
    "deidentification.longitudinal": "dates: modified (shifted per patient), full, or remove",
    "deidentification.clean_descriptors": "keep descriptions after removing identifying words",
    "deidentification.retain_patient_characteristics": "keep age, sex, size, weight",
    "deidentification.retain_device_identity": "keep station names and device serial numbers",
    "deidentification.retain_institution_identity": "keep institution names and addresses",
    "deidentification.keep_private": "safe private attributes to keep, as CREATOR:ggggxxee",
}


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name} = {value!r}: expected true or false")
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} = {value!r}: expected an integer") from None
    if isinstance(default, tuple):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{name} = {value!r}: expected a list of strings")
        return tuple(str(i).strip() for i in items if str(i).strip())
    if not isinstance(value, str):
        raise ConfigError(f"{name} = {value!r}: expected a string")
    return value


def _apply(obj: Any, values: dict[str, Any], prefix: str) -> Any:
    known = {f.name: f for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known or key == "deid":
            raise ConfigError(
                f"unknown setting {prefix}{key!r}; known: {', '.join(sorted(SETTINGS))}"
            )
        changes[key] = _coerce(prefix + key, value, getattr(obj, key))
    return replace(obj, **changes)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings: defaults, a TOML file (``./fairdicom.toml`` if present), env, overrides."""
    settings = Settings()
    config_path = path or Path(os.environ.get("FAIRDICOM_CONFIG", "fairdicom.toml"))
    if path is not None and not path.exists():
        raise ConfigError(f"configuration file {path} does not exist")
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: {exc}") from None
        deid = data.pop("deidentification", {})
        settings = _apply(settings, data, "")
        settings = replace(settings, deid=_apply(settings.deid, deid, "deidentification."))
    env: dict[str, Any] = {}
    deid_env: dict[str, Any] = {}
    for name in SETTINGS:
        var = "FAIRDICOM_" + name.replace("deidentification.", "DEID_").upper()
        if var in os.environ:
            target = deid_env if name.startswith("deidentification.") else env
            target[name.split(".")[-1]] = os.environ[var]
    settings = _apply(settings, env, "")
    settings = replace(settings, deid=_apply(settings.deid, deid_env, "deidentification."))
    given = {k: v for k, v in overrides.items() if v is not None}
    result: Settings = _apply(settings, given, "")
    return result
