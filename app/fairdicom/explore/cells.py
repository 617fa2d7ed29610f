"""Small-cell protection: a count below ``min_cell_count`` is shown as "<k", never as itself."""

from __future__ import annotations

from dataclasses import dataclass

from fairdicom.errors import FairdicomError


@dataclass(frozen=True)
class Cell:
    """One published count: its number, or None when it is too small to publish."""

    value: int | None
    threshold: int

    @property
    def suppressed(self) -> bool:
        """Return whether the number is hidden."""
        return self.value is None

    @property
    def text(self) -> str:
        """Return the count as the page and downloads show it ("<5" when hidden)."""
        return f"<{self.threshold}" if self.value is None else f"{self.value:,}"

    @property
    def plain(self) -> str:
        """Return the count without thousands separators (for CSV and RDF)."""
        return f"<{self.threshold}" if self.value is None else str(self.value)

    @property
    def json(self) -> int | str:
        """Return the count for JSON: the number, or the text "<k"."""
        return self.plain if self.value is None else self.value

    @property
    def bar(self) -> int:
        """Return the length a chart may draw: the threshold itself for a hidden count, so a
        bar says no more than its label."""
        return self.threshold if self.value is None else self.value


def protect(count: int, threshold: int) -> Cell:
    """Return ``count`` as a cell, hidden when it is above 0 and below ``threshold``."""
    if 0 < count < threshold:
        return Cell(None, threshold)
    return Cell(count, threshold)


@dataclass(frozen=True)
class Counts:
    """The four counts of a facet value, a chart bar or a cohort, each protected."""

    patients: Cell
    studies: Cell
    series: Cell
    instances: Cell

    def as_json(self) -> dict[str, int | str]:
        """Return the counts as a JSON object."""
        return {
            "patients": self.patients.json,
            "studies": self.studies.json,
            "series": self.series.json,
            "instances": self.instances.json,
        }


def protected_counts(
    patients: int, studies: int, series: int, instances: int, threshold: int
) -> Counts:
    """Return the four counts, each hidden when small."""
    return Counts(
        protect(patients, threshold),
        protect(studies, threshold),
        protect(series, threshold),
        protect(instances, threshold),
    )


def zero_counts(threshold: int) -> Counts:
    """Return the counts of a value no selected series has."""
    return protected_counts(0, 0, 0, 0, threshold)


class SmallCohort(FairdicomError):
    """A cohort download would show fewer patients than ``min_cell_count``."""

    http_status = 403
