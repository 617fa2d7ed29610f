"""The counts of one ingest run, printed at its end and recorded in provenance."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IngestSummary:
    """Files seen and what became of them; resources and triples written; time taken."""

    files_seen: int = 0
    ingested: int = 0
    skipped: int = 0
    rejected: int = 0
    quarantined_instances: int = 0
    quarantined_series: int = 0
    patients: int = 0
    studies: int = 0
    series: int = 0
    instances: int = 0
    triples_written: int = 0
    store_quads: int = 0
    seconds: float = 0.0
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of every rejected file and quarantined series, in order."""

    @property
    def exit_code(self) -> int:
        """Return 0 when everything went in (or was plainly not DICOM), else 1."""
        return 1 if self.rejected or self.quarantined_series else 0

    @property
    def rate(self) -> float:
        return self.files_seen / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        """Return the summary as lines for a person."""
        return [
            f"files seen {self.files_seen}: ingested {self.ingested}, skipped {self.skipped} "
            f"(not DICOM), rejected {self.rejected}, quarantined {self.quarantined_instances} "
            f"(in {self.quarantined_series} series)",
            f"patients {self.patients}, studies {self.studies}, series {self.series}, "
            f"instances {self.instances}",
            f"triples written {self.triples_written}; store now holds {self.store_quads} quads",
            f"time {self.seconds:.1f} s ({self.rate:.0f} files/s)",
        ]
