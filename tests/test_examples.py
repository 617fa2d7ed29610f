"""Run every example query of the query page against an ingested corpus.

Each example must return rows; several must return exactly what the DICOM files say, read
here independently with pydicom.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from itertools import takewhile
from pathlib import Path

import pydicom
import pyoxigraph
import pytest
from fairdicom.namespaces import DCM, PREFIXES, SCT
from fairdicom.resources import SAMPLE

from tests.conftest import ROOT, SECRET
from tests.helpers import ingest_isolated

EXAMPLES = ROOT / "app" / "fairdicom" / "web" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.rq"))
CHEST = ("CHEST", "CHESTABDOMEN", "CHESTABDPELVIS")
FEMALE, MALE = SCT + "248152002", SCT + "248153007"

Row = dict[str, str]


@dataclass(frozen=True)
class Series:
    """What pydicom reads from the files of one series."""

    modality: str
    body_part: str
    manufacturer: str
    model: str
    thickness: Decimal | None
    sequence_name: str
    repetition_time: Decimal | None
    echo_time: Decimal | None
    regions: frozenset[str]
    doses: tuple[Decimal, ...]
    instances: int


@dataclass(frozen=True)
class Corpus:
    """The DICOM files of a corpus as pydicom reads them, and its store after ingest."""

    store: Path
    files: int
    series: dict[str, Series]
    patients: dict[str, tuple[str, int]]
    """PatientID -> (PatientSex, age in years at the first study)."""
    studies: int


def _decimal(value: object) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _read(folder: Path) -> tuple[int, dict[str, Series], dict[str, tuple[str, int]], int]:
    """Read every DICOM file under ``folder`` with pydicom and summarise it per series."""
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
    first: dict[str, pydicom.Dataset] = {}
    counts: Counter[str] = Counter()
    ages: dict[str, list[int]] = defaultdict(list)
    sexes: dict[str, str] = {}
    studies: set[str] = set()
    for path in files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:
            continue
        first.setdefault(ds.SeriesInstanceUID, ds)
        counts[ds.SeriesInstanceUID] += 1
        studies.add(ds.StudyInstanceUID)
        sexes[ds.PatientID] = ds.get("PatientSex", "")
        if ds.get("PatientAge"):
            ages[ds.PatientID].append(int(ds.PatientAge[:3]))
    series = {uid: _series(ds, counts[uid]) for uid, ds in first.items()}
    patients = {pid: (sex, min(ages[pid])) for pid, sex in sexes.items()}
    return len(files), series, patients, len(studies)


def _series(ds: pydicom.Dataset, instances: int) -> Series:
    info = ds.get("RadiopharmaceuticalInformationSequence", [])
    return Series(
        modality=ds.Modality,
        body_part=ds.get("BodyPartExamined", ""),
        manufacturer=ds.get("Manufacturer", ""),
        model=ds.get("ManufacturerModelName", ""),
        thickness=_decimal(ds.get("SliceThickness")),
        sequence_name=ds.get("SequenceName", ""),
        repetition_time=_decimal(ds.get("RepetitionTime")),
        echo_time=_decimal(ds.get("EchoTime")),
        regions=frozenset(item.CodeValue for item in ds.get("AnatomicRegionSequence", [])),
        doses=tuple(Decimal(str(item.RadionuclideTotalDose)) for item in info),
        instances=instances,
    )


def _ingested(folder: Path, store: Path) -> Corpus:
    """Ingest ``folder`` into a new store (away from the user's settings) and read its files."""
    ingest_isolated(folder, store, "sample", SECRET)
    return Corpus(store, *_read(folder))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The bundled sample, ingested."""
    return _ingested(SAMPLE, tmp_path_factory.mktemp("examples-sample") / "store")


@pytest.fixture(scope="module")
def synthetic(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The synthetic test corpus (4 patients, seed 11, with chest CT), ingested."""
    return _ingested(corpus, tmp_path_factory.mktemp("examples-corpus") / "store")


def run(corpus: Corpus, slug: str) -> list[Row]:
    """Run one example on a corpus' store; return its rows as variable -> term value."""
    text = (EXAMPLES / f"{slug}.rq").read_text(encoding="utf-8")
    store = pyoxigraph.Store.read_only(str(corpus.store))
    solutions = store.query(text, use_default_graph_as_union=True)
    assert isinstance(solutions, pyoxigraph.QuerySolutions)
    names = [variable.value for variable in solutions.variables]
    return [
        {n: t.value for n, t in zip(names, row, strict=True) if t is not None} for row in solutions
    ]


def header(path: Path) -> dict[str, str]:
    """Return the ``# key: value`` lines of a query file's leading comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = takewhile(lambda line: line.startswith("#"), lines)
    found = (re.match(r"# (\w+): (.+)$", line) for line in comments)
    return {m.group(1): m.group(2) for m in found if m}


def test_examples_exist() -> None:
    assert len(EXAMPLE_FILES) >= 10


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_has_title_answers_and_project_prefixes(path: Path) -> None:
    fields = header(path)
    assert fields.get("title") and fields.get("answers"), f"{path.name}: # title: / # answers:"
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", path.stem), "slug: lower-case words and -"
    text = path.read_text(encoding="utf-8")
    for name, iri in re.findall(r"PREFIX\s+(\w*):\s*<([^>]*)>", text):
        assert PREFIXES.get(name) == iri, f"{path.name}: PREFIX {name}: differs from PREFIXES"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_is_documented(path: Path) -> None:
    docs = (ROOT / "docs" / "queries.md").read_text(encoding="utf-8")
    assert path.read_text(encoding="utf-8").rstrip() in docs, f"docs/queries.md: {path.name}"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_returns_rows(path: Path, request: pytest.FixtureRequest) -> None:
    """Every example finds something in the bundled sample (what `fairdicom demo` serves)."""
    corpus: Corpus = request.getfixturevalue("sample")
    assert run(corpus, path.stem), f"{path.name} returned no rows"


def test_series_by_modality_and_body_part(sample: Corpus) -> None:
    per_modality: Counter[str] = Counter()
    for row in run(sample, "modality-bodypart"):
        per_modality[row["modality"].removeprefix(DCM)] += int(row["seriesCount"])
    assert per_modality == Counter(s.modality for s in sample.series.values())
    assert per_modality["CT"] == 7


@pytest.mark.parametrize("name", ["sample", "synthetic"])
def test_thin_slice_chest_ct(name: str, request: pytest.FixtureRequest) -> None:
    corpus: Corpus = request.getfixturevalue(name)
    rows = run(corpus, "chest-ct-thin-slice")
    expected = [
        s
        for s in corpus.series.values()
        if s.modality == "CT"
        and s.body_part in CHEST
        and s.thickness is not None
        and s.thickness < 2
    ]
    assert len({row["series"] for row in rows}) == len(expected) > 0
    assert all(Decimal(row["thickness"]) < 2 for row in rows)


def test_patients_by_age_band_and_sex(sample: Corpus) -> None:
    def band(age: int) -> str:
        bands = ((18, "0-17"), (40, "18-39"), (60, "40-59"), (80, "60-79"))
        return next((label for limit, label in bands if age < limit), "80+")

    labels = {"F": "female", "M": "male", "O": "other"}
    expected = Counter((band(age), labels[sex]) for sex, age in sample.patients.values())
    rows = run(sample, "patients-age-sex")
    assert {(r["ageBand"], r["sexLabel"]): int(r["patients"]) for r in rows} == expected
    females = sum(int(r["patients"]) for r in rows if r.get("sex") == FEMALE)
    assert females == sum(sex == "F" for sex, _ in sample.patients.values()) == 3
    assert sum(int(r["patients"]) for r in rows if r.get("sex") == MALE) == 3


def test_manufacturers_and_models(sample: Corpus) -> None:
    rows = run(sample, "equipment-by-modality")
    found = {
        (r["modality"].removeprefix(DCM), r["manufacturer"], r["model"]): int(r["seriesCount"])
        for r in rows
    }
    expected = Counter((s.modality, s.manufacturer, s.model) for s in sample.series.values())
    assert found == expected


def test_studies_per_year(sample: Corpus) -> None:
    rows = run(sample, "studies-per-year")
    assert sum(int(r["studies"]) for r in rows) == sample.studies == 12


def test_mr_sequences(sample: Corpus) -> None:
    """One row per sequence, repetition time and echo time, with its series: as many rows as
    there are combinations, not as there are series."""
    rows = run(sample, "mr-sequences")
    found = {
        (r["sequenceName"], Decimal(r["repetitionTime"]), Decimal(r["echoTime"])): int(
            r["seriesCount"]
        )
        for r in rows
    }
    mr = [s for s in sample.series.values() if s.modality == "MR"]
    expected = Counter((s.sequence_name, s.repetition_time, s.echo_time) for s in mr)
    assert found == expected
    assert len(rows) == len(expected)  # a row per combination, its series counted
    counts = [int(r["seriesCount"]) for r in rows]
    assert counts == sorted(counts, reverse=True)  # the most used first


def test_values_stated_per_instance_are_found(tmp_path: Path) -> None:
    """A value that differs between the instances of a series is stated on each instance, not
    on the series: the sequence and radiopharmaceutical examples find it there too."""
    folder = tmp_path / "corpus"
    mr_files = [p for p in sorted(SAMPLE.rglob("*")) if _modality(p) == "MR"]
    uid = pydicom.dcmread(mr_files[0], stop_before_pixels=True).SeriesInstanceUID
    series = [
        p for p in mr_files if pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID == uid
    ]
    pet = [p for p in sorted(SAMPLE.rglob("*")) if _modality(p) == "PT"]
    pet_uid = pydicom.dcmread(pet[0], stop_before_pixels=True).SeriesInstanceUID
    pet = [
        p for p in pet if pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID == pet_uid
    ]
    assert len(series) >= 2 and len(pet) >= 2
    folder.mkdir()
    echoes = set()
    for n, path in enumerate(series):  # a multi-echo series: echo time per instance
        ds = pydicom.dcmread(path)
        ds.EchoTime = 10 + 10 * (n % 2)
        echoes.add(Decimal(str(ds.EchoTime)))
        ds.save_as(folder / f"mr{n}.dcm")
    doses = []
    for n, path in enumerate(pet):  # a dose per instance: the sequence per instance
        ds = pydicom.dcmread(path)
        ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = 100_000_000 * (n + 1)
        doses.append(Decimal(100 * (n + 1)))
        ds.save_as(folder / f"pt{n}.dcm")
    corpus = _ingested(folder, tmp_path / "store")
    rows = run(corpus, "mr-sequences")
    assert {Decimal(r["echoTime"]) for r in rows} == echoes == {Decimal(10), Decimal(20)}
    assert all(int(r["seriesCount"]) == 1 for r in rows)  # the one series, under each echo
    (row,) = run(corpus, "pet-radiopharmaceuticals")
    assert int(row["seriesCount"]) == 1
    assert abs(Decimal(row["meanDoseMBq"]) - sum(doses) / len(doses)) < Decimal("1e-9")


def _modality(path: Path) -> str | None:
    """Return a file's Modality (None for a file that is not DICOM)."""
    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True).Modality)
    except (pydicom.errors.InvalidDicomError, AttributeError, IsADirectoryError):
        return None


def test_instances_per_series(sample: Corpus) -> None:
    def band(n: int) -> str:
        bands = ((2, "1"), (10, "2-9"), (20, "10-19"), (50, "20-49"))
        return next((label for limit, label in bands if n < limit), "50+")

    rows = run(sample, "instances-per-series")
    expected = Counter(band(s.instances) for s in sample.series.values())
    assert {r["instances"]: int(r["seriesCount"]) for r in rows} == expected


def test_pet_radiopharmaceuticals(sample: Corpus) -> None:
    (row,) = run(sample, "pet-radiopharmaceuticals")
    pet = [s for s in sample.series.values() if s.modality == "PT"]
    doses = [dose for s in pet for dose in s.doses]
    assert int(row["seriesCount"]) == len(pet) == 3
    # The engine divides with its own decimal precision (18 places): compare to 1e-9 MBq.
    assert abs(Decimal(row["meanDoseMBq"]) - sum(doses) / len(doses) / 1_000_000) < Decimal("1e-9")
    assert row["code"] == SCT + "35321007"


def test_series_of_an_anatomic_region(sample: Corpus) -> None:
    rows = run(sample, "series-by-region")
    expected = [
        s for s in sample.series.values() if "818981001" in s.regions or s.body_part == "ABDOMEN"
    ]
    assert len({r["series"] for r in rows}) == len(expected) == 4


def test_ingest_provenance(sample: Corpus) -> None:
    (row,) = run(sample, "ingest-provenance")
    dicom_files = sum(s.instances for s in sample.series.values())
    assert (int(row["filesSeen"]), int(row["filesIngested"])) == (sample.files, dicom_files)
    assert "Basic Application Confidentiality Profile" in row["deidentification"]
