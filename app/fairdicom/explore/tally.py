"""Count every facet and chart of a view from the series records, each facet under every
selection but its own, and protect each count against small cells."""

from __future__ import annotations

from collections.abc import Sequence

from fairdicom.explore.cells import protected_counts
from fairdicom.explore.counts import Answer
from fairdicom.explore.facets import BY_KEY, FACETS, Selection
from fairdicom.explore.sparql import INSTANCE_BINS
from fairdicom.explore.table import Series, Table, band_key

Cells = dict[tuple[str, str], list[int]]
"""The records (their indexes in the table) of each value (and second value) of a branch."""


def _matches(record: Series, key: str, selection: Selection) -> bool:
    """Return whether a series has a value of facet ``key`` that the selection keeps."""
    chosen = selection.values.get(key)
    low, high = selection.ranges.get(key, (None, None))
    if BY_KEY[key].ranged and (low is not None or high is not None):
        bands = BY_KEY[key].bands
        return any(
            (low is None or number >= low)
            and (high is None or number <= high)
            and (not chosen or band_key(bands, number) in chosen)
            for number in record.numbers.get(key, [])
        )
    return any(param in chosen for param in record.params.get(key, ())) if chosen else True


def count(table: Table, selection: Selection, threshold: int) -> Answer:
    """Return the counts of every facet and chart under ``selection``, each protected."""
    records = table.series
    narrowing = [k for k in BY_KEY if k in selection.values or k in selection.ranges]
    kept = {
        key: {i for i, record in enumerate(records) if _matches(record, key, selection)}
        for key in narrowing
    }

    def selected(but: str | None = None) -> list[int]:
        found = [indexes for key, indexes in kept.items() if key != but]
        if not found:
            return list(range(len(records)))
        return sorted(set.intersection(*found))

    chosen = selected()
    groups: dict[str, Cells] = {"total": {("", ""): chosen}}
    for facet in FACETS:
        cells: Cells = {}
        for i in selected(facet.key) if facet.key in kept else chosen:
            for param in records[i].params.get(facet.key, ()):
                cells.setdefault((param, ""), []).append(i)
        groups[facet.key] = cells
    _charts(groups, records, chosen)
    patients = [r.patient for r in records]
    studies = [r.study for r in records]
    instances = [r.instances for r in records]
    answer = Answer(labels=dict(table.labels))
    for name, branch in groups.items():
        answer.counts[name] = {
            cell: protected_counts(
                len(set(map(patients.__getitem__, indexes))),
                len(set(map(studies.__getitem__, indexes))),
                len(indexes),
                sum(map(instances.__getitem__, indexes)),
                threshold,
            )
            for cell, indexes in branch.items()
            if indexes
        }
    answer.values = {key: dict(values) for key, values in table.values.items()}
    modalities = table.values.get("modality", {})
    answer.values["chart:modality-body-part"] = dict(modalities)
    return answer


def _charts(groups: dict[str, Cells], records: Sequence[Series], chosen: list[int]) -> None:
    """Add the cells of the three charts: age by sex, modality by body part, instances."""
    ages: Cells = {}
    pairs: Cells = {}
    bins: Cells = {}
    for i in chosen:
        record = records[i]
        sexes = record.params.get("sex") or ("",)
        for age in dict.fromkeys(int(n // 10 * 10) for n in record.numbers.get("age", [])):
            for sex in sexes:
                ages.setdefault((str(age), sex), []).append(i)
        parts = record.params.get("body_part") or ("",)
        for modality in record.params.get("modality", ()):
            for part in parts:
                pairs.setdefault((modality, part), []).append(i)
        bins.setdefault((_instance_bin(record.instances), ""), []).append(i)
    groups["chart:age-sex"] = ages
    groups["chart:modality-body-part"] = pairs
    groups["chart:instances"] = bins


def _instance_bin(instances: int) -> str:
    if instances <= 0:
        return "unknown"
    limits = {"1": 2, "2-9": 10, "10-19": 20, "20-49": 50, "50-99": 100}
    for key, _ in INSTANCE_BINS:
        if key in limits and instances < limits[key]:
            return key
    return INSTANCE_BINS[-1][0]
