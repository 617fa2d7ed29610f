"""The curated descriptions of the catalogue and its datasets (``data/datasets.toml``).

Everything a person decides (titles, publisher, licence, access rights, HDAB, ...) lives in
the file; everything the store can tell (counts, dates, modalities, ...) is computed. Each
error names the file and the key that is wrong, e.g. ``datasets.sample.access_rights``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from fairdicom.errors import ConfigError
from fairdicom.resources import DESCRIPTIONS

ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
ACCESS_LEVELS = ("PUBLIC", "RESTRICTED", "NON_PUBLIC")
DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
THEMES = [
    "AGRI",
    "ECON",
    "EDUC",
    "ENER",
    "ENVI",
    "GOVE",
    "HEAL",
    "INTR",
    "JUST",
    "OP_DATPRO",
    "REGI",
    "SOCI",
    "TECH",
    "TRAN",
]
DATASET_TYPE = "http://publications.europa.eu/resource/authority/dataset-type/"
DEFAULT_CATALOG_ID = "fairdicom"
IMAGING = "http://publications.europa.eu/resource/authority/health-category/IMAGING"
GENERATED_LEVEL = "NON_PUBLIC"
"""Access level of a dataset that has no description: closed until a person says otherwise."""
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_IRI = re.compile(r"^[a-z][a-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")


@dataclass(frozen=True)
class Agent:
    """An organisation (or contact) with an IRI, a name and a contact e-mail."""

    iri: str
    name: str
    email: str


@dataclass(frozen=True)
class CatalogDescription:
    """What a person says about the catalogue itself."""

    title: dict[str, str]
    description: dict[str, str]
    publisher: Agent
    licence: str
    legislation: tuple[str, ...]
    identifier: str = DEFAULT_CATALOG_ID
    """The catalogue's ``dct:identifier``, also its FAIR Data Point id (``/catalog/<id>``)."""


@dataclass(frozen=True)
class DatasetDescription:
    """What a person says about one dataset."""

    slug: str
    title: dict[str, str]
    description: dict[str, str]
    publisher: Agent
    contact: Agent
    licence: str
    access_rights: str
    hdab: Agent
    health_categories: tuple[str, ...]
    themes: tuple[str, ...]
    keywords: dict[str, tuple[str, ...]]
    legislation: tuple[str, ...]
    landing_page: str | None
    dataset_type: str | None = None
    public_aggregates: bool = False
    """Everyone may see the dataset's counts in the cohort explorer (small cells hidden), not
    its records."""

    @property
    def access_level(self) -> str:
        """Return the access level (PUBLIC, RESTRICTED or NON_PUBLIC)."""
        return self.access_rights.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Descriptions:
    """The catalogue's description and the described datasets, by slug."""

    catalog: CatalogDescription
    datasets: dict[str, DatasetDescription]


class _Reader:
    """Read typed values from one TOML table, naming ``file: key`` in every error."""

    def __init__(self, path: Path, key: str, table: Any) -> None:
        self.path, self.key = path, key
        if not isinstance(table, dict):
            self.fail(key, "must be a table")
        self.table: dict[str, Any] = table

    def fail(self, key: str, problem: str) -> NoReturn:
        raise ConfigError(f"{self.path}: {key}: {problem}")

    def value(self, name: str, required: bool = True) -> Any:
        if name not in self.table and required:
            self.fail(f"{self.key}.{name}", "is missing")
        return self.table.get(name)

    def iri(self, name: str, required: bool = True) -> str | None:
        value = self.value(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not _IRI.match(value):
            self.fail(f"{self.key}.{name}", f"{value!r} is not an absolute IRI")
        return str(value)

    def iris(self, name: str) -> tuple[str, ...]:
        values = self.value(name)
        if not isinstance(values, list) or not values:
            self.fail(f"{self.key}.{name}", "must be a non-empty list of IRIs")
        for value in values:
            if not isinstance(value, str) or not _IRI.match(value):
                self.fail(f"{self.key}.{name}", f"{value!r} is not an absolute IRI")
        return tuple(values)

    def texts(self, name: str) -> dict[str, str]:
        value = self.value(name)
        if not isinstance(value, dict) or not value:
            self.fail(f"{self.key}.{name}", "must be a table of language tag -> text")
        for lang, text in value.items():
            if not _LANGUAGE.match(lang):
                self.fail(f"{self.key}.{name}.{lang}", "is not a language tag")
            if not isinstance(text, str) or not text.strip():
                self.fail(f"{self.key}.{name}.{lang}", "must be a non-empty text")
        return dict(value)

    def agent(self, name: str, iri_required: bool = True) -> Agent:
        sub = _Reader(self.path, f"{self.key}.{name}", self.value(name))
        label = sub.value("name")
        if not isinstance(label, str) or not label.strip():
            sub.fail(f"{sub.key}.name", "must be a non-empty text")
        mail = sub.value("email")
        if not isinstance(mail, str) or not _EMAIL.match(mail):
            sub.fail(f"{sub.key}.email", f"{mail!r} is not an e-mail address")
        iri = sub.iri("iri", required=iri_required)
        return Agent(iri or f"mailto:{mail}", label, mail)


def load_descriptions(path: Path = DESCRIPTIONS) -> Descriptions:
    """Load and check the descriptions file; raise ConfigError naming the wrong key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    top = _Reader(path, "", data)
    for key in data:
        if key not in ("catalog", "datasets"):
            top.fail(key, "unknown table (expected catalog, datasets)")
    cat = _Reader(path, "catalog", top.value("catalog"))
    identifier = cat.value("identifier", required=False) or DEFAULT_CATALOG_ID
    if not isinstance(identifier, str) or not _WORD.fullmatch(identifier):
        cat.fail("catalog.identifier", f"{identifier!r} is not a word of letters, digits, . _ -")
    catalog = CatalogDescription(
        title=cat.texts("title"),
        description=cat.texts("description"),
        publisher=cat.agent("publisher"),
        licence=str(cat.iri("licence")),
        legislation=cat.iris("applicable_legislation"),
        identifier=identifier,
    )
    tables = _Reader(path, "datasets", top.value("datasets"))
    datasets = {slug: _dataset(path, slug, table) for slug, table in tables.table.items()}
    return Descriptions(catalog, datasets)


def _dataset(path: Path, slug: str, table: Any) -> DatasetDescription:
    r = _Reader(path, f"datasets.{slug}", table)
    known = {"title", "description", "publisher", "contact", "licence", "access_rights", "hdab"}
    known |= {"health_categories", "themes", "keywords", "applicable_legislation"}
    for key in r.table:
        if key not in known | {"landing_page", "dataset_type", "public_aggregates"}:
            r.fail(f"{r.key}.{key}", f"unknown key (expected one of {', '.join(sorted(known))})")
    access = r.value("access_rights")
    aggregates = r.value("public_aggregates", required=False)
    if aggregates is not None and not isinstance(aggregates, bool):
        r.fail(f"{r.key}.public_aggregates", f"{aggregates!r} is not true or false")
    dataset_type = r.value("dataset_type", required=False)
    if dataset_type is not None and not re.fullmatch(r"[A-Z_]+", str(dataset_type)):
        r.fail(f"{r.key}.dataset_type", f"{dataset_type!r} is not an EU dataset-type code")
    if access not in ACCESS_LEVELS:
        r.fail(f"{r.key}.access_rights", f"{access!r} is not one of {', '.join(ACCESS_LEVELS)}")
    themes = r.value("themes")
    if not isinstance(themes, list) or not themes or any(t not in THEMES for t in themes):
        themes_list = ", ".join(THEMES)
        r.fail(f"{r.key}.themes", f"must be a non-empty list of EU data themes ({themes_list})")
    keywords = r.value("keywords")
    if not isinstance(keywords, dict) or not all(
        _LANGUAGE.match(lang) and isinstance(words, list) and all(isinstance(w, str) for w in words)
        for lang, words in keywords.items()
    ):
        r.fail(f"{r.key}.keywords", "must be a table of language tag -> list of words")
    return DatasetDescription(
        slug=slug,
        title=r.texts("title"),
        description=r.texts("description"),
        publisher=r.agent("publisher"),
        contact=r.agent("contact", iri_required=False),
        licence=str(r.iri("licence")),
        access_rights=ACCESS_RIGHT + str(access),
        hdab=r.agent("hdab"),
        health_categories=r.iris("health_categories"),
        themes=tuple(DATA_THEME + t for t in themes),
        keywords={lang: tuple(words) for lang, words in keywords.items()},
        legislation=r.iris("applicable_legislation"),
        landing_page=r.iri("landing_page", required=False),
        dataset_type=DATASET_TYPE + dataset_type if dataset_type else None,
        public_aggregates=bool(aggregates),
    )


def generated_description(slug: str, catalog: CatalogDescription) -> DatasetDescription:
    """Return the minimal description of a dataset the descriptions file does not describe.

    The catalogue's publisher stands in for publisher, contact point and HDAB, the catalogue's
    licence and legislation apply, and the access level is NON_PUBLIC (pseudonymised imaging
    data are personal data): every dataset in the store is published, none is opened by
    default, and the profiles' mandatory properties are all there.
    """
    return DatasetDescription(
        slug=slug,
        title={"en": f"Imaging dataset {slug}"},
        description={
            "en": f"De-identified DICOM metadata of the imaging dataset '{slug}'. This description "
            "was generated because the site's descriptions file has no entry for the dataset."
        },
        publisher=catalog.publisher,
        contact=catalog.publisher,
        licence=catalog.licence,
        access_rights=ACCESS_RIGHT + GENERATED_LEVEL,
        hdab=catalog.publisher,
        health_categories=(IMAGING,),
        themes=(DATA_THEME + "HEAL",),
        keywords={"en": ("medical imaging", "DICOM")},
        legislation=catalog.legislation,
        landing_page=None,
        dataset_type=DATASET_TYPE + "PERSONAL_DATA",
    )
