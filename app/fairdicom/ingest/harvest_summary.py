"""The summary of one harvest, printed at its end."""

from __future__ import annotations

from dataclasses import dataclass, field

from fairdicom.ingest.summary import IngestSummary


@dataclass
class HarvestSummary:
    """What one harvest did: studies listed, fetched, unchanged, failed, deleted, pruned."""

    endpoint: str
    listed: int = 0
    fetched: int = 0
    unchanged: int = 0
    instances: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(study label, reason) of every study that could not be harvested."""
    deleted: list[str] = field(default_factory=list)
    """Labels of the studies deleted on the source (removed from the store with --prune)."""
    pruned: int = 0
    pruned_instances: int = 0
    deletions_checked: bool = True
    source_failure: str = ""
    ingest: IngestSummary | None = None

    @property
    def exit_code(self) -> int:
        """Return 1 when a study (or the listing) failed or an instance was rejected, else 0."""
        ingest_code = self.ingest.exit_code if self.ingest else 0
        return 1 if self.failed or self.source_failure or ingest_code else 0

    def lines(self) -> list[str]:
        """Return the summary for a person."""
        if self.source_failure:
            return [f"source {self.endpoint}: {self.source_failure}; nothing harvested"]
        lines = [
            f"source {self.endpoint}: studies listed {self.listed}, fetched {self.fetched} "
            f"({self.instances} instances), unchanged {self.unchanged}, failed {len(self.failed)}"
        ]
        lines += [f"failed {label}: {reason}" for label, reason in self.failed]
        if not self.deletions_checked:
            lines.append(
                "deleted studies: not checked (the listing was narrowed by --filter/--since)"
            )
        elif self.deleted and not self.pruned:
            lines.append(
                f"deleted on the source: {len(self.deleted)} studies (still in the store; "
                "--prune removes them)"
            )
        if self.pruned:
            lines.append(
                f"pruned: {self.pruned} studies deleted on the source "
                f"({self.pruned_instances} instances) removed from the store"
            )
        lines += [f"deleted on the source: {label}" for label in self.deleted]
        if self.ingest is not None:
            lines += self.ingest.lines()
        return lines
