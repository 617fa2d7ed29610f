"""Count the explorer's facets from the facts of every series (``queries/facts.rq``).

The engine reads each property once, by scanning it (a few milliseconds per thousand series),
instead of joining every property onto every series for every facet (the ``GROUP BY`` per
facet of :func:`fairdicom.explore.sparql.view_query`, which gives the same counts and is what
the page offers to open in the query page, but costs some ten times as much on Oxigraph). The
facts do not depend on the selection, so the result cache answers them for every view of one
store generation; the selection is applied here, each facet under every selection but its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from fairdicom.explore.cells import protected_counts
from fairdicom.explore.counts import Answer, Value, compact, literal_value
from fairdicom.explore.facets import BY_KEY, FACETS, Band, Selection
from fairdicom.explore.sparql import INSTANCE_BINS
from fairdicom.sparql_files import sparql

_DATASET_GRAPH = re.compile(r"/graph/([^/]+)/curated$")
_YEAR = re.compile(r"^(-?[0-9]{4})")
SAFE_IRI = re.compile(r"[^\s<>\"{}|\\^`]+")
"""An IRI that can be written between ``<`` and ``>`` as it is (any other is left out)."""
SERIES_FACTS = ("study", "n", "modality", "body_part", "manufacturer", "model", "thickness")
STUDY_FACTS = ("patient", "age", "date")


def facts_query(graphs: Iterable[str], vocabulary: str) -> str:
    """Return the query of the facts of the series of the curated ``graphs``."""
    listed = " ".join(f"<{graph}>" for graph in graphs) or "<urn:fairdicom:no-dataset>"
    return (
        sparql(__file__, "facts")
        .replace("$GRAPHS", listed)
        .replace("$VOCABULARY", f"<{vocabulary}>")
    )


@dataclass
class Series:
    """One series and what the facets read of it (URL values per facet)."""

    study: str
    patient: str
    instances: int
    values: dict[str, list[Value]] = field(default_factory=dict)
    numbers: dict[str, list[Decimal]] = field(default_factory=dict)
    """The numbers of the ranged facets (age, slice thickness), one per value."""


@dataclass
class Table:
    """Every series the explorer counts, with the values each facet has."""

    series: list[Series]
    values: dict[str, dict[str, Value]]
    labels: dict[str, str]


def read_table(body: bytes, titles: Mapping[str, str]) -> Table:
    """Read the facts query's SPARQL JSON answer into one record per series."""
    rows: list[dict[str, Any]] = json.loads(body)["results"]["bindings"]
    facts: dict[str, dict[str, list[dict[str, str]]]] = {}
    graphs: dict[str, str] = {}
    contrast: set[str] = set()
    labels: dict[str, str] = {}
    for row in rows:
        kind, subject = row["k"]["value"], row["s"]["value"]
        if kind == "contrast":
            contrast.add(subject)
        elif kind == "label":
            labels.setdefault(subject, row["v"]["value"])
        else:
            facts.setdefault(subject, {}).setdefault(kind, []).append(row["v"])
            if kind == "study":
                graphs[subject] = row["g"]["value"]
    reader = _Reader(titles, labels)
    table = Table([], {facet.key: {} for facet in FACETS}, {})
    given, none = _contrast(True), _contrast(False)
    for subject, own in facts.items():
        if "study" not in own or not SAFE_IRI.fullmatch(graphs[subject]):
            continue  # a study or a patient
        for study_binding in own["study"]:
            study = study_binding["value"]
            found = facts.get(study, {})
            for patient_binding in found.get("patient", []):
                patient = patient_binding["value"]
                record = reader.series(own, found, facts.get(patient, {}), graphs[subject])
                record.study, record.patient = study, patient
                record.values["contrast"] = [given if subject in contrast else none]
                table.series.append(record)
    for record in table.series:
        for key, values in record.values.items():
            for value in values:
                table.values[key].setdefault(value.param, value)
    table.labels = {compact(iri): label for iri, label in labels.items()}
    return table


def _contrast(given: bool) -> Value:
    text = "given" if given else "none recorded"
    return Value(text, json.dumps(text), text)


class _Reader:
    """Turn facts into facet values, each distinct value made once."""

    def __init__(self, titles: Mapping[str, str], labels: Mapping[str, str]) -> None:
        self.titles, self.labels = titles, labels
        self.made: dict[tuple[str, str, str, str], Value | None] = {}
        self.numbers: dict[tuple[str, str], tuple[Decimal, Value | None] | None] = {}

    def value(self, key: str, binding: dict[str, str]) -> Value | None:
        """Return the value of facet ``key`` a SPARQL JSON term gives (None: none)."""
        found = (key, binding["type"], binding["value"], binding.get("datatype", ""))
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

    def series(
        self,
        own: dict[str, list[dict[str, str]]],
        study: dict[str, list[dict[str, str]]],
        patient: dict[str, list[dict[str, str]]],
        graph: str,
    ) -> Series:
        """Return the record of one series from its facts, its study's and its patient's."""
        instances = 0
        for binding in own.get("n", []):
            if binding["value"].isdigit():
                instances = int(binding["value"])
        record = Series("", "", instances)
        sources = {
            "dataset": [{"type": "uri", "value": graph}],
            "modality": own.get("modality", []),
            "body_part": own.get("body_part", []),
            "sex": patient.get("sex", []),
            "manufacturer": own.get("manufacturer", []),
            "model": own.get("model", []),
            "year": study.get("date", []),
        }
        for key, bindings in sources.items():
            values = [v for b in bindings if (v := self.value(key, b)) is not None]
            record.values[key] = list({v.param: v for v in values}.values())
        for key, bindings in (
            ("age", study.get("age", [])),
            ("thickness", own.get("thickness", [])),
        ):
            read = [found for b in bindings if (found := self.number(key, b["value"]))]
            record.numbers[key] = [number for number, _ in read]
            record.values[key] = [value for _, value in read if value is not None]
        return record


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


def _band_key(bands: tuple[Band, ...], number: Decimal) -> str:
    band = _band(bands, number)
    return band.key if band else ""


def _matches(record: Series, key: str, selection: Selection) -> bool:
    """Return whether a series has a value of facet ``key`` that the selection keeps."""
    chosen = selection.values.get(key)
    low, high = selection.ranges.get(key, (None, None))
    if BY_KEY[key].ranged and (low is not None or high is not None):
        bands = BY_KEY[key].bands
        return any(
            (low is None or number >= low)
            and (high is None or number <= high)
            and (not chosen or _band_key(bands, number) in chosen)
            for number in record.numbers.get(key, [])
        )
    return any(value.param in chosen for value in record.values.get(key, [])) if chosen else True


def count(table: Table, selection: Selection, threshold: int) -> Answer:
    """Return the counts of every facet and chart under ``selection``, each protected."""
    narrowing = [k for k in BY_KEY if k in selection.values or k in selection.ranges]
    kept = {
        key: {i for i, record in enumerate(table.series) if _matches(record, key, selection)}
        for key in narrowing
    }
    everything = set(range(len(table.series)))

    def selected(but: str | None = None) -> list[Series]:
        indexes = everything.copy()
        for key, found in kept.items():
            if key != but:
                indexes &= found
        return [table.series[i] for i in sorted(indexes)]

    groups: dict[str, dict[tuple[str, str], list[Series]]] = {}
    chosen = selected()
    groups["total"] = {("", ""): chosen}
    for facet in FACETS:
        cells = groups.setdefault(facet.key, {})
        for record in selected(facet.key) if facet.key in kept else chosen:
            for param in {value.param for value in record.values.get(facet.key, [])}:
                cells.setdefault((param, ""), []).append(record)
    _charts(groups, chosen)
    answer = Answer(labels=dict(table.labels))
    for name, cells in groups.items():
        answer.counts[name] = {
            cell: protected_counts(
                len({r.patient for r in records}),
                len({r.study for r in records}),
                len({id(r) for r in records}),
                sum(r.instances for r in {id(r): r for r in records}.values()),
                threshold,
            )
            for cell, records in cells.items()
            if records
        }
    answer.values = {key: dict(values) for key, values in table.values.items()}
    modalities = table.values.get("modality", {})
    answer.values["chart:modality-body-part"] = dict(modalities)
    return answer


def _charts(groups: dict[str, dict[tuple[str, str], list[Series]]], chosen: list[Series]) -> None:
    ages = groups.setdefault("chart:age-sex", {})
    pairs = groups.setdefault("chart:modality-body-part", {})
    bins = groups.setdefault("chart:instances", {})
    for record in chosen:
        sexes = {v.param for v in record.values.get("sex", [])} or {""}
        for age in {int(n // 10 * 10) for n in record.numbers.get("age", [])}:
            for sex in sexes:
                ages.setdefault((str(age), sex), []).append(record)
        parts = {v.param for v in record.values.get("body_part", [])} or {""}
        for modality in {v.param for v in record.values.get("modality", [])}:
            for part in parts:
                pairs.setdefault((modality, part), []).append(record)
        bins.setdefault((_instance_bin(record.instances), ""), []).append(record)


def _instance_bin(instances: int) -> str:
    if instances <= 0:
        return "unknown"
    limits = {"1": 2, "2-9": 10, "10-19": 20, "20-49": 50, "50-99": 100}
    for key, _ in INSTANCE_BINS:
        if key in limits and instances < limits[key]:
            return key
    return INSTANCE_BINS[-1][0]
