"""Settings: defaults, then ``fairdicom.toml``, then ``FAIRDICOM_*`` variables, then arguments.

Each setting is declared once, as one annotated field of :class:`Settings` (or of
:class:`DeidOptions`, the ``[deidentification]`` table): the field gives its name, type and
default, its :class:`Help` the help text, bounds and, where it is not derived from the name,
the environment variable. The file reader, the environment lookup, the typed parsing with
errors that name the key and its source, :data:`SETTINGS` and the README's table
(:func:`settings_table`, printed by ``python -m fairdicom.config``) all come from those fields.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

from fairdicom.errors import ConfigError
from fairdicom.resources import DESCRIPTIONS, MAPPINGS

ENV_PREFIX = "FAIRDICOM_"
CONFIG_ENV = "FAIRDICOM_CONFIG"
"""Environment variable naming the configuration file (the CLI's ``--config``)."""
DEFAULT_CONFIG = Path("fairdicom.toml")
DEFAULT_STORE = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / (
    "fairdicom/store"
)
Longitudinal = Literal["modified", "full", "remove"]
LONGITUDINAL_CHOICES: tuple[str, ...] = get_args(Longitudinal)
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Help:
    """What a setting means, and how it is read, checked and shown besides its type and default."""

    meaning: str
    env: str | None = None
    """The environment variable, when it is not derived from the name."""
    shown_default: str | None = None
    """The default as the README shows it, when it is not the value itself."""
    minimum: int | None = None
    maximum: int | None = None
    sensitive: bool = False
    """Never echo the value (in error messages)."""
    path: bool = False
    """A file or folder: a relative path in a configuration file is relative to its folder."""


@dataclass(frozen=True)
class Table:
    """A field that holds the settings of one TOML table (``[name]``)."""

    name: str
    env_prefix: str


@dataclass(frozen=True)
class DeidOptions:
    """Which PS3.15 Annex E options apply on top of the Basic Application Level Profile."""

    longitudinal: Annotated[
        Longitudinal, Help("dates: modified (shifted per patient), full, or remove")
    ] = "modified"
    """Retain Longitudinal Temporal Information: modified (shifted) dates, full dates, or remove."""
    clean_descriptors: Annotated[
        bool, Help("keep descriptions after removing identifying words")
    ] = True
    retain_patient_characteristics: Annotated[bool, Help("keep age, sex, size, weight")] = True
    retain_device_identity: Annotated[
        bool, Help("keep station names and device serial numbers")
    ] = False
    retain_institution_identity: Annotated[bool, Help("keep institution names and addresses")] = (
        False
    )
    keep_private: Annotated[
        tuple[str, ...], Help("safe private attributes to keep, as CREATOR:ggggxxee")
    ] = ()
    """Safe private attributes, as ``CREATOR:ggggxxee`` (the Retain Safe Private option)."""

    def __post_init__(self) -> None:
        if self.longitudinal not in LONGITUDINAL_CHOICES:
            raise ConfigError(
                f"deidentification.longitudinal = {self.longitudinal!r}: "
                f"use one of {', '.join(LONGITUDINAL_CHOICES)}"
            )


@dataclass(frozen=True)
class Settings:
    """Every setting of fairdicom with its type, default and help text."""

    store: Annotated[
        str,
        Help(
            "store location: a directory (embedded Oxigraph) or an http(s):// SPARQL URL",
            shown_default="`~/.local/share/fairdicom/store` (under `$XDG_DATA_HOME` when set)",
            path=True,
        ),
    ] = str(DEFAULT_STORE)
    base_iri: Annotated[
        str,
        Help(
            "base of every IRI the store mints and every link the server gives: set it to the "
            "server's public URL",
            shown_default="`http://localhost:<port>/`, derived from `host` and `port` (by "
            "`serve` and `demo` from the address they listen on, the port got for 0 included)",
        ),
    ] = "http://localhost:8000/"
    secret: Annotated[
        str,
        Help(
            "key of the pseudonyms (HMAC)",
            shown_default="a random key kept in `<data_dir>/pseudonym.key`",
            sensitive=True,
        ),
    ] = ""
    dataset: Annotated[str, Help("dataset slug used when ingest is not given --dataset")] = (
        "default"
    )
    mappings: Annotated[
        str,
        Help(
            "folder of the mapping files (`*.sssom.tsv`, `rules/*.rq`) that ingest applies",
            shown_default="the bundled `ontologies/mappings`",
            path=True,
        ),
    ] = ""
    descriptions: Annotated[
        str,
        Help(
            "dataset descriptions (TOML) that the catalogue publishes",
            shown_default="the bundled `data/datasets.toml`",
            path=True,
        ),
    ] = ""
    data_dir: Annotated[
        str,
        Help(
            "folder of the site's files: catalogue dumps, the pseudonym key file, caches",
            shown_default="the store's directory (required for a remote store)",
            path=True,
        ),
    ] = ""
    store_query_url: Annotated[
        str,
        Help(
            "SPARQL query endpoint of a remote store",
            shown_default="`<store>/query` (Oxigraph server) for an http(s) `store`",
        ),
    ] = ""
    store_update_url: Annotated[
        str,
        Help(
            "SPARQL update endpoint of a remote store",
            shown_default="`<store>/update` (Oxigraph server) for an http(s) `store`",
        ),
    ] = ""
    store_graph_store_url: Annotated[
        str,
        Help(
            "Graph Store Protocol endpoint of a remote store",
            shown_default="`<store>/store` (Oxigraph server) for an http(s) `store`",
        ),
    ] = ""
    store_token: Annotated[
        str,
        Help("bearer token sent to a remote store", shown_default="none", sensitive=True),
    ] = ""
    store_user: Annotated[
        str, Help("user name for HTTP basic authentication to a remote store")
    ] = ""
    store_password: Annotated[
        str, Help("password for HTTP basic authentication to a remote store", sensitive=True)
    ] = ""
    store_retries: Annotated[
        int,
        Help(
            "times a request to a remote store that got no connection (or 502, 503, 504) is "
            "tried again, waiting 0.5 s, 1 s, 2 s... between tries",
            minimum=0,
            maximum=10,
        ),
    ] = 3
    store_timeout: Annotated[
        int, Help("seconds a request to a remote store may wait for its answer", minimum=1)
    ] = 600
    batch_size: Annotated[int, Help("instances per write transaction", minimum=1)] = 400
    workers: Annotated[int, Help("parsing processes (0 = one per core)", minimum=0)] = 0
    cluster: Annotated[
        str,
        Help(
            "Dask scheduler (`tcp://host:8786`) whose workers parse the files of an ingest; "
            "the files must be on a filesystem they share (docs/deployment.md)",
            shown_default="none: local parsing processes",
        ),
    ] = ""
    operator: Annotated[
        str,
        Help(
            "who runs the ingests, recorded in their provenance (a name, or an IRI such as an "
            "ORCID)",
            shown_default="none: the software agent only",
        ),
    ] = ""
    admin_token: Annotated[
        str,
        Help(
            "bearer token that allows writes over HTTP",
            shown_default="none: writes need no token",
            sensitive=True,
        ),
    ] = ""
    host: Annotated[str, Help("address `fairdicom serve` listens on")] = "127.0.0.1"
    port: Annotated[int, Help("port `fairdicom serve` listens on", minimum=0, maximum=65535)] = 8000
    query_timeout: Annotated[
        int, Help("seconds a SPARQL query may run before it is stopped", minimum=1)
    ] = 30
    max_rows: Annotated[int, Help("most result rows one SPARQL query returns", minimum=1)] = 100_000
    max_request_bytes: Annotated[int, Help("largest HTTP request body accepted", minimum=1)] = (
        1_048_576
    )
    query_workers: Annotated[
        int,
        Help(
            "processes that run SPARQL queries (each can be stopped on timeout); one more than "
            "the cores keeps the engine busy while answers are handed back",
            minimum=1,
        ),
    ] = 3
    query_memory: Annotated[
        int,
        Help(
            "megabytes of memory one query or update process may use; a request that needs "
            "more is stopped with 503 (0 = the default)",
            shown_default="half the machine's memory shared by the worker processes, "
            "at least 1024",
            minimum=0,
        ),
    ] = 0
    queue_size: Annotated[
        int,
        Help(
            "requests that may wait for a busy query process; more get 503 with Retry-After",
            minimum=0,
        ),
    ] = 16
    queue_wait: Annotated[
        int,
        Help("seconds a request waits for a query process before 503 with Retry-After", minimum=0),
    ] = 10
    client_concurrency: Annotated[
        int,
        Help(
            "heavy queries one client (address, or admin token) may have running or waiting; "
            "more get 429 with Retry-After (0 = no limit)",
            minimum=0,
        ),
    ] = 2
    fast_lane_workers: Annotated[
        int,
        Help(
            "processes of the fast lane: ASK, DESCRIBE, small LIMIT lookups, Linked Data and "
            "catalogue pages, never behind heavy queries",
            minimum=1,
        ),
    ] = 1
    fast_lane_timeout: Annotated[
        int,
        Help(
            "seconds a query may run in the fast lane before it is stopped and queued with the "
            "heavy queries instead",
            minimum=1,
        ),
    ] = 1
    page_wait: Annotated[
        int,
        Help(
            "seconds `/explore` and the `/mappings` pages wait for figures computed in the "
            'background (once per store version) before answering 202 "computing"',
            minimum=0,
        ),
    ] = 3
    cors_write_origins: Annotated[
        tuple[str, ...],
        Help(
            "browser origins (`https://host[:port]`) whose pages may send writes; "
            "every origin may read"
        ),
    ] = ()
    trusted_proxy: Annotated[
        str,
        Help(
            "address of the reverse proxy whose X-Forwarded-For/-Proto/-Host headers are "
            "believed (per-client limits then see the real client)"
        ),
    ] = ""
    union_default_graph: Annotated[
        bool, Help("the default graph is the union of the named graphs")
    ] = True
    oai_page_size: Annotated[
        int, Help("records in one OAI-PMH list response (then a resumption token)", minimum=1)
    ] = 50
    oai_admin_email: Annotated[
        str,
        Help(
            "`adminEmail` of OAI-PMH Identify when the catalogue's publisher has no contact email",
            shown_default="`admin@<host of the request>`",
        ),
    ] = ""
    service_allow_list: Annotated[
        tuple[str, ...], Help("endpoints SERVICE and LOAD may reach")
    ] = ()
    access_control: Annotated[
        bool,
        Help(
            "enforce each dataset's access level (`access_rights` in the descriptions): "
            "RESTRICTED and NON_PUBLIC records only for the admin and granted principals "
            "(docs/access.md)"
        ),
    ] = True
    access_grants: Annotated[
        tuple[str, ...],
        Help(
            "who may read non-public datasets: `KIND:VALUE=SLUG [SLUG...]`, KIND one of "
            "`sub`, `group`, `entitlement`, `key`; SLUG `*` is every dataset"
        ),
    ] = ()
    api_keys: Annotated[
        tuple[str, ...],
        Help("service accounts' API keys as `NAME:SHA256HEX`, the key's SHA-256 (docs/access.md)"),
    ] = ()
    oidc_issuer: Annotated[
        str,
        Help(
            "OpenID Connect issuer whose bearer JWTs sign readers in (its "
            "`/.well-known/openid-configuration` names the keys)",
            shown_default="none: no sign-in",
        ),
    ] = ""
    oidc_audience: Annotated[
        str, Help("`aud` the tokens must carry: this server's client id at the issuer")
    ] = ""
    oidc_algorithms: Annotated[
        tuple[str, ...],
        Help("signature algorithms accepted (asymmetric only)", shown_default="`RS256, ES256`"),
    ] = ("RS256", "ES256")
    oidc_group_claims: Annotated[
        tuple[str, ...],
        Help("token claims read as groups (grants `group:`)", shown_default="`groups`"),
    ] = ("groups",)
    oidc_entitlement_claims: Annotated[
        tuple[str, ...],
        Help(
            "token claims read as entitlements (grants `entitlement:`)",
            shown_default="`eduperson_entitlement, entitlements`",
        ),
    ] = ("eduperson_entitlement", "entitlements")
    audit_log: Annotated[
        str,
        Help(
            "JSON-lines audit log of record-level reads of non-public datasets (rotated)",
            shown_default="`<data_dir>/audit.log`",
            path=True,
        ),
    ] = ""
    min_cell_count: Annotated[
        int,
        Help(
            "counts of the cohort explorer below this are shown as `<N>` (pages, charts, "
            "downloads), and a cohort with fewer patients is not downloaded (0 = off)",
            minimum=0,
        ),
    ] = 5
    dicomweb_sources: Annotated[
        tuple[str, ...],
        Help("DICOMweb sources (`dicomweb+http(s)://...`) that `fairdicom sources` lists"),
    ] = ()
    dicomweb_token: Annotated[
        str,
        Help("bearer token sent to DICOMweb sources", shown_default="none", sensitive=True),
    ] = ""
    dicomweb_username: Annotated[
        str, Help("user name for HTTP basic authentication to DICOMweb sources")
    ] = ""
    dicomweb_password: Annotated[
        str,
        Help("password for HTTP basic authentication to DICOMweb sources", sensitive=True),
    ] = ""
    dicomweb_max_requests: Annotated[
        int, Help("most DICOMweb requests in flight at once", minimum=1, maximum=64)
    ] = 4
    dicomweb_retries: Annotated[
        int,
        Help(
            "times a failed DICOMweb request (no connection, timeout, 429, 5xx) is tried again, "
            "waiting 0.5 s, 1 s, 2 s... between tries",
            minimum=0,
            maximum=10,
        ),
    ] = 3
    dicomweb_timeout: Annotated[
        int, Help("seconds a DICOMweb request may wait for the server", minimum=1)
    ] = 60
    dicomweb_page_size: Annotated[
        int, Help("studies asked for per QIDO-RS page (`limit`, then `offset`)", minimum=1)
    ] = 100
    deid: Annotated[DeidOptions, Table("deidentification", ENV_PREFIX + "DEID_")] = field(
        default_factory=DeidOptions
    )

    @property
    def mappings_folder(self) -> Path:
        """Return the folder of the mapping files in force."""
        return Path(self.mappings) if self.mappings else MAPPINGS

    @property
    def descriptions_file(self) -> Path:
        """Return the dataset descriptions file in force."""
        return Path(self.descriptions) if self.descriptions else DESCRIPTIONS

    @property
    def data_folder(self) -> Path:
        """Return the folder of the site's files (dumps, key file, caches)."""
        if self.data_dir:
            return Path(self.data_dir)
        if self.store.startswith(("http://", "https://")):
            raise ConfigError(
                f"store = {self.store!r} is a remote store: set data_dir "
                "(FAIRDICOM_DATA_DIR) to a folder for dumps, the key file and caches"
            )
        return Path(self.store)

    @property
    def worker_count(self) -> int:
        """Return the number of parsing processes (``workers``, or one per core)."""
        return self.workers or (os.cpu_count() or 1)


@dataclass(frozen=True)
class Setting:
    """One declared setting: its key, type, default, help text and environment variable."""

    key: str
    """The name in ``fairdicom.toml``: ``batch_size``, ``deidentification.longitudinal``."""
    attribute: str
    table_field: str | None
    """The :class:`Settings` field holding the setting's table, or None for a top-level one."""
    kind: Any
    default: object
    env: str
    help: Help

    @property
    def meaning(self) -> str:
        """Return the help text."""
        return self.help.meaning

    @property
    def type_name(self) -> str:
        """Return the type as the README shows it."""
        if get_origin(self.kind) is Literal:
            return "one of " + ", ".join(f"`{c}`" for c in get_args(self.kind))
        return _TYPE_NAMES[self.kind]

    @property
    def shown_default(self) -> str:
        """Return the default as the README shows it."""
        if self.help.shown_default is not None:
            return self.help.shown_default
        default = self.default
        if isinstance(default, bool):
            return f"`{str(default).lower()}`"
        if default == "" or default == ():
            return "none"
        return f"`{default}`"

    def show(self, value: object) -> str:
        """Return a value for an error message (never a sensitive one)."""
        return "<hidden>" if self.help.sensitive else repr(value)


_TYPE_NAMES: dict[object, str] = {
    str: "string",
    int: "integer",
    bool: "boolean",
    tuple[str, ...]: "list of strings",
}


def _declared(owner: type[Any], prefix: str, env_prefix: str, holder: str | None) -> list[Setting]:
    """Return the settings declared by the annotated fields of a settings dataclass."""
    hints = get_type_hints(owner, include_extras=True)
    found: list[Setting] = []
    for item in fields(owner):
        hint = hints[item.name]
        kind, *extras = get_args(hint) if get_origin(hint) is Annotated else (hint,)
        tables = [e for e in extras if isinstance(e, Table)]
        helps = [e for e in extras if isinstance(e, Help)]
        if tables:
            found += _declared(kind, f"{tables[0].name}.", tables[0].env_prefix, item.name)
            continue
        if not helps:
            raise TypeError(f"{owner.__name__}.{item.name} is declared without Help(...)")
        if kind not in _TYPE_NAMES and get_origin(kind) is not Literal:
            raise TypeError(f"{owner.__name__}.{item.name}: settings cannot have type {kind}")
        env = helps[0].env or env_prefix + item.name.upper()
        found.append(
            Setting(prefix + item.name, item.name, holder, kind, item.default, env, helps[0])
        )
    return found


SETTINGS: dict[str, Setting] = {s.key: s for s in _declared(Settings, "", ENV_PREFIX, None)}
"""Every setting, by its key in ``fairdicom.toml``."""
TABLES = frozenset(s.key.split(".")[0] for s in SETTINGS.values() if s.table_field)


class _Invalid(ValueError):
    """A value that does not fit its setting; the message says what was expected."""


def _parse(spec: Setting, value: object, from_text: bool) -> object:
    """Return ``value`` as the setting's type (text is parsed only when ``from_text``)."""
    kind = spec.kind
    text = value.strip() if from_text and isinstance(value, str) else None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in TRUE_WORDS + FALSE_WORDS:
            return text.lower() in TRUE_WORDS
        raise _Invalid("expected true or false")
    if kind is int:
        return _bounded(spec, value, text)
    if kind is str:
        if isinstance(value, str):
            return value
        raise _Invalid("expected a string")
    if kind == tuple[str, ...]:
        items = text.split(",") if text is not None else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise _Invalid("expected a list of strings")
        return tuple(i.strip() for i in items if i.strip())
    choices = get_args(kind)
    word = text.lower() if text is not None else value
    if isinstance(word, str) and word in choices:
        return word
    raise _Invalid(f"use one of {', '.join(choices)}")


def _bounded(spec: Setting, value: object, text: str | None) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif text is not None and re.fullmatch(r"[+-]?[0-9]+", text):
        number = int(text)
    else:
        raise _Invalid("expected a whole number")
    low, high = spec.help.minimum, spec.help.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = [f"at least {low}"] if low is not None else []
        bounds += [f"at most {high}"] if high is not None else []
        raise _Invalid("expected a whole number " + " and ".join(bounds))
    return number


def _parse_all(
    given: Mapping[str, object], origin: Callable[[str], str], from_text: bool
) -> dict[str, object]:
    """Parse settings given by key; raise one error naming every bad key and where it came from."""
    values: dict[str, object] = {}
    problems: list[str] = []
    for key, value in given.items():
        spec = SETTINGS.get(key)
        if spec is None:
            known = ", ".join(SETTINGS)
            problems.append(f"{origin(key)}: unknown setting {key!r}; known: {known}")
            continue
        try:
            values[key] = _parse(spec, value, from_text)
        except _Invalid as exc:
            problems.append(f"{origin(key)}: {key} = {spec.show(value)}: {exc}")
    if problems:
        raise ConfigError("\n".join(problems))
    return values


def _from_file(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    flat: dict[str, object] = {}
    for key, value in data.items():
        if key in TABLES:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {key} must be a table ([{key}])")
            flat |= {f"{key}.{name}": item for name, item in value.items()}
        else:
            flat[key] = value
    values = _parse_all(flat, lambda _key: str(path), from_text=False)
    folder = path.absolute().parent
    for key, value in values.items():
        if SETTINGS[key].help.path and isinstance(value, str):
            values[key] = _beside(folder, value)
    return values


def _beside(folder: Path, value: str) -> str:
    """Return a path setting of a configuration file, relative paths taken from its folder."""
    if not value or value.startswith(("http://", "https://")):
        return value
    return str(folder / Path(value).expanduser())


def _from_environment(environ: Mapping[str, str]) -> dict[str, object]:
    given = {s.key: environ[s.env] for s in SETTINGS.values() if s.env in environ}
    return _parse_all(given, lambda key: f"environment variable {SETTINGS[key].env}", True)


def _from_arguments(overrides: Mapping[str, object]) -> dict[str, object]:
    given = {k: v for k, v in overrides.items() if v is not None}
    return _parse_all(given, lambda _key: "argument", from_text=True)


def config_file(path: Path | None = None) -> Path | None:
    """Return the configuration file: ``path``, ``$FAIRDICOM_CONFIG``, or ./fairdicom.toml."""
    chosen = path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if chosen is not None:
        if not chosen.exists():
            raise ConfigError(f"configuration file {chosen} does not exist")
        return chosen
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings: defaults, a TOML file, ``FAIRDICOM_*`` variables, then ``overrides``."""
    source = config_file(path)
    values = _from_file(source) if source is not None else {}
    values |= _from_environment(os.environ)
    values |= _from_arguments(overrides)
    if not values.get("base_iri"):
        host = str(values.get("host", Settings.host))
        port = values.get("port", Settings.port)
        values["base_iri"] = listen_base(host, port if isinstance(port, int) else Settings.port)
    return _build(values)


LOOPBACK = ("127.0.0.1", "::1", "localhost", "")


def listen_base(host: str, port: int) -> str:
    """Return the ``base_iri`` derived from where the server listens: ``http://localhost:<port>/``
    for a loopback address, the machine's name for every interface, else the address itself."""
    if host in LOOPBACK or host.startswith("127."):
        name = "localhost"
    elif host in ("0.0.0.0", "::"):
        name = socket.gethostname()
    else:
        name = host
    return f"http://{f'[{name}]' if ':' in name else name}:{port}/"


def base_is_derived(settings: Settings) -> bool:
    """Return whether ``base_iri`` is the one derived from ``host`` and ``port`` (not set)."""
    return settings.base_iri == listen_base(settings.host, settings.port)


def _build(values: Mapping[str, object]) -> Settings:
    base = Settings()
    top: dict[str, Any] = {}
    tables: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        spec = SETTINGS[key]
        target = top if spec.table_field is None else tables.setdefault(spec.table_field, {})
        target[spec.attribute] = value
    nested = {name: replace(getattr(base, name), **items) for name, items in tables.items()}
    return replace(base, **top, **nested)


def settings_table() -> str:
    """Return the README's Markdown table of every setting."""
    rows = [
        "| setting | type | default | environment variable | meaning |",
        "|---|---|---|---|---|",
    ]
    for spec in SETTINGS.values():
        cells = [f"`{spec.key}`", spec.type_name, spec.shown_default, f"`{spec.env}`"]
        rows.append("| " + " | ".join([*cells, spec.meaning]) + " |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
