"""The counts of one ingest run, printed at its end and recorded in provenance."""

from __future__ import annotations

from dataclasses import dataclass, field

KEPT_SKIPS = 10_000
"""Skipped inputs remembered with their path (all are counted): memory stays bounded."""
LISTED_SKIPS = 50
"""Skipped inputs listed in the summary; ``ingest -v`` lists every one as it goes."""


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
    startup_seconds: float = 0.0
    """Of ``seconds``: until the first file was read (walking the inputs, starting the
    processes, checking the mappings, opening the store)."""
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of every rejected file and quarantined series, in order."""
    skips: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of the skipped inputs (not DICOM, not a file...), the first KEPT_SKIPS."""

    def skip(self, path: str, reason: str) -> None:
        """Count a skipped input and remember its path and reason."""
        self.skipped += 1
        if len(self.skips) < KEPT_SKIPS:
            self.skips.append((path, reason))

    @property
    def exit_code(self) -> int:
        """Return 0 when everything went in (or was skipped: not DICOM, not a file), else 1."""
        return 1 if self.rejected or self.quarantined_series else 0

    @property
    def rate(self) -> float:
        return self.files_seen / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        """Return the summary as lines for a person (skipped inputs listed with reasons)."""
        listed = [f"skipped {path}: {reason}" for path, reason in self.skips[:LISTED_SKIPS]]
        if self.skipped > len(listed):
            listed.append(f"... and {self.skipped - len(listed)} more skipped (-v lists them)")
        return [
            f"files seen {self.files_seen}: ingested {self.ingested}, skipped {self.skipped} "
            f"(not DICOM or not a file), rejected {self.rejected}, quarantined "
            f"{self.quarantined_instances} (in {self.quarantined_series} series)",
            f"patients {self.patients}, studies {self.studies}, series {self.series}, "
            f"instances {self.instances}",
            f"triples written {self.triples_written}; store now holds {self.store_quads} quads",
            f"time {self.seconds:.1f} s ({self.rate:.0f} files/s), of which start-up "
            f"{self.startup_seconds:.1f} s",
            *listed,
        ]
