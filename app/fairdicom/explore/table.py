"""Read the facts of every series (``queries/facts.rq``) into one record per series.

The engine reads each property once, by scanning it, and writes each value once with the
subjects that have it (a few milliseconds per thousand series), instead of joining every
property onto every series for every facet (the ``GROUP BY`` per facet of
:func:`fairdicom.explore.sparql.view_query`, which gives the same counts and is what the page
offers to open in the query page, but costs some ten times as much on Oxigraph). The facts do
not depend on the selection: the server reads them once per store generation, and
:func:`fairdicom.explore.tally.count` applies each selection to the records.
"""

from __future__ import annotations

import gc
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from fairdicom.explore.counts import Value, compact, literal_value
from fairdicom.explore.facets import BY_KEY, FACETS, Band
from fairdicom.explore.facts import FactRow, read_facts
from fairdicom.sparql_files import sparql

_DATASET_GRAPH = re.compile(r"/graph/([^/]+)/curated$")
_YEAR = re.compile(r"^(-?[0-9]{4})")
SAFE_IRI = re.compile(r"[^\s<>\"{}|\\^`]+")
"""An IRI that can be written between ``<`` and ``>`` as it is (any other is left out)."""
SERIES_FACETS = ("modality", "body_part", "manufacturer", "model")
"""The facets whose values are facts of the series itself (besides dataset, contrast, thickness)."""
T = TypeVar("T")
VALUE_OF = {"date": "year"}
"""The facet each kind of fact gives values of, where their names differ."""


def facts_query(graphs: Iterable[str], vocabulary: str) -> str:
    """Return the query of the facts of the series of the curated ``graphs``."""
    listed = " ".join(f"<{graph}>" for graph in graphs) or "<urn:fairdicom:no-dataset>"
    return (
        sparql(__file__, "facts")
        .replace("$GRAPHS", listed)
        .replace("$VOCABULARY", f"<{vocabulary}>")
    )


@dataclass(slots=True)
class Series:
    """One series and what the facets read of it: its values' URL forms, each once."""

    study: str
    patient: str
    instances: int
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    numbers: dict[str, list[Decimal]] = field(default_factory=dict)
    """The numbers of the ranged facets (age, slice thickness), one per value."""


@dataclass
class Table:
    """Every series the explorer counts, with the values each facet has."""

    series: list[Series]
    values: dict[str, dict[str, Value]]
    labels: dict[str, str]


class _CollectorPause:
    """Pause Python's cyclic garbage collector while tables are read (threads may overlap: the
    last one out resumes it). A table is tens of thousands of containers that all live on, so
    each collection during a read would walk the server's whole heap again and free nothing: in
    a server with a few tables kept, that doubled the time of a read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.readers = 0
        self.resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if self.readers == 0:
                self.resume = gc.isenabled()
                gc.disable()
            self.readers += 1
        try:
            yield
        finally:
            with self.lock:
                self.readers -= 1
                if self.readers == 0 and self.resume:
                    gc.enable()


_collector_paused = _CollectorPause()


def read_table(body: bytes, titles: Mapping[str, str]) -> Table:
    """Read the facts query's SPARQL TSV answer into one record per series."""
    with _collector_paused():
        return _read_table(body, titles)


def _read_table(body: bytes, titles: Mapping[str, str]) -> Table:
    rows = list(read_facts(body))
    labels: dict[str, str] = {}
    for row in rows:
        if row.kind == "label" and row.value is not None:
            for subject in row.subjects:
                labels.setdefault(subject, row.value["value"])
    reader = _Reader(titles, labels)
    facts = _Facts()
    for row in rows:
        facts.add(row, reader)
    table = Table([], {facet.key: {} for facet in FACETS}, {})
    given, none = _contrast(True), _contrast(False)
    studies: dict[str, _Part] = {}
    patients: dict[str, _Part] = {}
    datasets = {
        graph: reader.value("dataset", {"type": "uri", "value": graph})
        for graph in set(facts.graph_of.values())
        if SAFE_IRI.fullmatch(graph)
    }
    of_series = [(key, facts.values.get(key, {})) for key in SERIES_FACETS]
    thicknesses = facts.numbers.get("thickness", {})
    recorded: list[tuple[str, Value, Value]] = []  # series with records: dataset, contrast
    for subject, its_studies in facts.study_of.items():
        dataset = datasets.get(facts.graph_of[subject])
        if dataset is None:
            continue
        contrast = given if subject in facts.contrast else none
        own = {key: _params(found.get(subject, ())) for key, found in of_series}
        own["dataset"], own["contrast"] = (dataset.param,), (contrast.param,)
        read = thicknesses.get(subject, [])
        own["thickness"] = _params([value for _, value in read if value is not None])
        own_numbers = {"thickness": [number for number, _ in read]}
        instances = facts.instances.get(subject, 0)
        before = len(table.series)
        for study in its_studies:
            of_study = studies.get(study)
            if of_study is None:
                values = facts.values_of(study, ("year",))
                read = facts.numbers.get("age", {}).get(study, [])
                values["age"] = [value for _, value in read if value is not None]
                numbers = {"age": [number for number, _ in read]}
                of_study = studies[study] = _Part(values, numbers)
            for patient in facts.patient_of.get(study, []):
                of_patient = patients.get(patient)
                if of_patient is None:
                    values = facts.values_of(patient, ("sex",))
                    of_patient = patients[patient] = _Part(values, {})
                of_study.list_values(table)
                of_patient.list_values(table)
                params = {**own, **of_study.params, **of_patient.params}
                numbers = {**own_numbers, **of_study.numbers}
                table.series.append(Series(study, patient, instances, params, numbers))
        if len(table.series) > before:
            recorded.append((subject, dataset, contrast))
    for subject, dataset, contrast in recorded:
        table.values["dataset"].setdefault(dataset.param, dataset)
        table.values["contrast"].setdefault(contrast.param, contrast)
        for key, found in of_series:
            for value in found.get(subject, ()):
                table.values[key].setdefault(value.param, value)
        for _, band in thicknesses.get(subject, ()):
            if band is not None:
                table.values["thickness"].setdefault(band.param, band)
    table.labels = {compact(iri): label for iri, label in labels.items()}
    return table


class _Part:
    """What a study or a patient gives the records of its series."""

    def __init__(self, values: dict[str, list[Value]], numbers: dict[str, list[Decimal]]) -> None:
        self.values, self.numbers = values, numbers
        self.params = {key: _params(found) for key, found in values.items()}
        self.listed = False

    def list_values(self, table: Table) -> None:
        """Add this subject's values to the table's values (once: a record has them)."""
        if self.listed:
            return
        self.listed = True
        for key, found in self.values.items():
            known = table.values[key]
            for value in found:
                known.setdefault(value.param, value)


def _params(values: Sequence[Value]) -> tuple[str, ...]:
    """Return the URL values of a list of values, each once."""
    if len(values) == 1:
        return (values[0].param,)
    return tuple(dict.fromkeys(value.param for value in values))


class _Facts:
    """The facts of every subject, each value read once per row of the answer."""

    def __init__(self) -> None:
        self.study_of: dict[str, list[str]] = {}
        self.graph_of: dict[str, str] = {}
        self.patient_of: dict[str, list[str]] = {}
        self.instances: dict[str, int] = {}
        self.contrast: set[str] = set()
        self.values: dict[str, dict[str, list[Value]]] = {}
        self.numbers: dict[str, dict[str, list[tuple[Decimal, Value | None]]]] = {}

    def add(self, row: FactRow, reader: _Reader) -> None:
        """Record what one row of the answer says of its subjects."""
        kind, value = row.kind, row.value
        if kind == "contrast":
            self.contrast.update(row.subjects)
        elif value is None or kind == "label":
            return
        elif kind == "study":
            for subject in row.subjects:
                self.study_of.setdefault(subject, []).append(value["value"])
                self.graph_of[subject] = row.graph
        elif kind == "patient":
            for subject in row.subjects:
                self.patient_of.setdefault(subject, []).append(value["value"])
        elif kind == "n":
            if value["value"].isdigit():
                self.instances.update(dict.fromkeys(row.subjects, int(value["value"])))
        elif kind in ("age", "thickness"):
            number = reader.number(kind, value["value"])
            if number is not None:
                self._add(self.numbers.setdefault(kind, {}), row.subjects, number)
        else:
            key = VALUE_OF.get(kind, kind)
            made = reader.value(key, value)
            if made is not None:
                self._add(self.values.setdefault(key, {}), row.subjects, made)

    @staticmethod
    def _add(to: dict[str, list[T]], subjects: list[str], item: T) -> None:
        for subject in subjects:
            found = to.get(subject)
            if found is None:
                to[subject] = [item]
            else:
                found.append(item)

    def values_of(self, subject: str, keys: Iterable[str]) -> dict[str, list[Value]]:
        """Return the values of a subject for each facet of ``keys`` (each value once)."""
        out: dict[str, list[Value]] = {}
        for key in keys:
            values = self.values.get(key, {}).get(subject, [])
            out[key] = list({v.param: v for v in values}.values()) if len(values) > 1 else values
        return out


def _contrast(given: bool) -> Value:
    text = "given" if given else "none recorded"
    return Value(text, json.dumps(text), text)


class _Reader:
    """Turn facts into facet values, each distinct value made once."""

    def __init__(self, titles: Mapping[str, str], labels: Mapping[str, str]) -> None:
        self.titles, self.labels = titles, labels
        self.made: dict[tuple[str, str, str, str, str], Value | None] = {}
        self.numbers: dict[tuple[str, str], tuple[Decimal, Value | None] | None] = {}

    def value(self, key: str, binding: dict[str, str]) -> Value | None:
        """Return the value of facet ``key`` a SPARQL JSON term gives (None: none)."""
        found = (
            key,
            binding["type"],
            binding["value"],
            binding.get("datatype", ""),
            binding.get("xml:lang", ""),
        )
        if found not in self.made:
            self.made[found] = self._make(key, binding)
        return self.made[found]

    def _make(self, key: str, binding: dict[str, str]) -> Value | None:
        text = binding["value"]
        if key == "dataset":
            match = _DATASET_GRAPH.search(text)
            slug = match.group(1) if match else text
            title = self.titles.get(slug)
            return Value(slug, f"<{text}>", f"{title} ({slug})" if title else slug)
        if key in ("modality", "body_part", "sex"):
            if binding["type"] != "uri" or not SAFE_IRI.fullmatch(text):
                return None
            return Value(compact(text), f"<{text}>", self.labels.get(text, compact(text)))
        if key in ("manufacturer", "model"):
            return literal_value(binding) if binding["type"] == "literal" else None
        if key == "year":
            match = _YEAR.match(text)
            year = str(int(match.group(1))) if match else None
            return Value(year, year, year) if year else None
        raise ValueError(key)

    def number(self, key: str, text: str) -> tuple[Decimal, Value | None] | None:
        """Return a number of a ranged facet and the value of its band (None: no number)."""
        if (key, text) not in self.numbers:
            number = _number(text)
            band = _band(BY_KEY[key].bands, number) if number is not None else None
            value = Value(band.key, band.key, band.label) if band else None
            self.numbers[(key, text)] = (number, value) if number is not None else None
        return self.numbers[(key, text)]


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _band(bands: tuple[Band, ...], number: Decimal) -> Band | None:
    for band in bands:
        if (band.low is None or number >= band.low) and (band.high is None or number < band.high):
            return band
    return None


def band_key(bands: tuple[Band, ...], number: Decimal) -> str:
    """Return the key of the band a number lies in (empty: none)."""
    band = _band(bands, number)
    return band.key if band else ""
