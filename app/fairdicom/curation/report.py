"""The curation results as lines of text for a person (the ``fairdicom mapping`` commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fairdicom.curation.turtle_lines import turtle_line

if TYPE_CHECKING:  # the command that shows a remap need not load what a diff or preview uses
    from fairdicom.curation.coverage import DatasetCoverage
    from fairdicom.curation.diff import MappingDiff
    from fairdicom.curation.remap import RemapSummary

EXAMPLES = 3
"""Example triples shown per query and direction."""


def _short(series: str) -> str:
    return series.strip("<>").rsplit("/", 1)[-1]


def diff_lines(diff: MappingDiff, examples: int = EXAMPLES) -> list[str]:
    """Return a diff as lines: per dataset, per query, counts and example triples."""
    stored = diff.stored or "none published"
    lines = [f"mappings in force: version {diff.version}; in the store's mappings graph: {stored}"]
    total_added = total_removed = 0
    for dataset in diff.datasets:
        lines.append(
            f"dataset {dataset.dataset} ({dataset.series} series): +{dataset.added} "
            f"-{dataset.removed} curated triples"
        )
        for name, change in dataset.queries.items():
            lines.append(f"  {name}: +{len(change.added)} -{len(change.removed)}")
            lines += [f"    + {turtle_line(t)}" for t in change.added[:examples]]
            lines += [f"    - {turtle_line(t)}" for t in change.removed[:examples]]
        if dataset.entering:
            shown = ", ".join(_short(s) for s in dataset.entering[:examples])
            lines.append(
                f"  quarantine: {len(dataset.entering)} series would fail validation ({shown})"
            )
        if dataset.released:
            shown = ", ".join(_short(s) for s in dataset.released[:examples])
            lines.append(
                f"  quarantine: {len(dataset.released)} series would pass and come out ({shown})"
            )
        total_added += dataset.added
        total_removed += dataset.removed
    verdict = "no change" if diff.empty else "`fairdicom mapping apply` would make this change"
    lines.append(f"total: +{total_added} -{total_removed} curated triples; {verdict}")
    return lines


def remap_lines(summary: RemapSummary) -> list[str]:
    """Return what a remap did as lines."""
    commit = f", git {summary.version.commit}" if summary.version.commit else ""
    lines = [f"applied mapping version {summary.version.version}{commit}"]
    for dataset in summary.datasets:
        lines.append(
            f"dataset {dataset.dataset}: {dataset.series} series, +{dataset.added} "
            f"-{dataset.removed} curated triples, {len(dataset.entering)} series into "
            f"quarantine, {len(dataset.released)} out ({dataset.seconds:.1f} s, "
            f"{'fast path' if dataset.quick else 'every series validated'})"
        )
    lines.append(f"time {summary.seconds:.1f} s")
    if summary.catalog:
        lines.append(summary.catalog)
    return lines


def coverage_lines(found: list[DatasetCoverage], everything: bool = False) -> list[str]:
    """Return coverage as lines: attributes, unmapped ones, coded values without concepts."""
    lines: list[str] = []
    for cover in found:
        mapped = [a for a in cover.attributes if a.mapped_by]
        lines.append(
            f"dataset {cover.dataset}: {len(cover.attributes)} attributes in the raw layer, "
            f"{len(mapped)} mapped"
        )
        lines.append("  mapped attributes (series, instances with it: read by)")
        lines += [
            f"    {a.keyword}: {a.series} series, {a.instances} instances: {', '.join(a.mapped_by)}"
            for a in mapped
        ]
        unmapped = cover.unmapped if everything else cover.unmapped[:15]
        lines.append(f"  not mapped: {len(cover.unmapped)} attributes (series, instances with it)")
        lines += [f"    {a.keyword}: {a.series} series, {a.instances} instances" for a in unmapped]
        if len(unmapped) < len(cover.unmapped):
            lines.append(
                f"    ... and {len(cover.unmapped) - len(unmapped)} more (--all lists them)"
            )
        lines.append("  values without a concept mapping (value table)")
        lines += [
            f"    {v.keyword} = {v.value!r}: {v.series} series" for v in cover.unmapped_values
        ] or ["    none"]
        for prop, count in cover.without.items():
            if count:
                lines.append(
                    f"    {count} node(s) have no {prop.rpartition('#')[2]} in the curated layer"
                )
        lines.append("  coded values (sequence items) whose concept is not in the curated layer")
        lines += [
            f"    {c.keyword} {c.scheme} {c.code} {c.meaning!r}: {c.series} series"
            for c in cover.unmapped_codes
        ] or ["    none"]
    return lines
