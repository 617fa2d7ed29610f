"""Curate and validate the raw triples of a batch, and route each series to its graphs.

:func:`curate` runs the mapping queries over raw triples in memory; :func:`route` validates the
curated triples with SHACL and sends each series that fails, with its report, to the
quarantine graph instead of the raw and curated graphs. Both work on N-Triples lines only, so
a remap can run them over raw triples read back from the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from fairdicom.namespaces import FD
from fairdicom.rdf.mapping import MappingSet
from fairdicom.rdf.raw import InstanceRecord
from fairdicom.rdf.terms import iri, literal, triple
from fairdicom.rdf.validation import validate_curated
from fairdicom.store import MemoryStore

REPORT = iri(FD + "validationReport")


def curate(mappings: MappingSet, raw_lines: list[str]) -> list[str]:
    """Run every mapping query over the raw triples of complete series; return curated lines."""
    memory = MemoryStore()
    memory.load_lines(raw_lines)
    curated: dict[str, None] = {}
    for query in mappings.queries:
        curated.update(dict.fromkeys(memory.construct(query.sparql)))
    return list(curated)


def subject_of(line: str) -> str:
    """Return the subject term of an N-Triples line."""
    return line.split(" ", 1)[0]


@dataclass
class Routed:
    """The lines of a batch per layer, and the series that went to quarantine."""

    raw: list[str] = field(default_factory=list)
    curated: list[str] = field(default_factory=list)
    quarantine: list[str] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)
    """Quarantined series IRI -> number of its instances."""
    reports: dict[str, str] = field(default_factory=dict)
    """Quarantined series IRI -> its SHACL report."""


def route(
    raw: Mapping[str, list[str]],
    curated: list[str],
    owners: Mapping[str, set[str]],
    instances: Mapping[str, list[str]],
) -> Routed:
    """Validate the curated lines and route every series to raw + curated or to quarantine.

    ``raw``: series -> its raw lines; ``owners``: resource term -> the series it belongs to (a
    curated line about a resource whose series all fail goes to quarantine with them);
    ``instances``: series -> its instance terms.
    """
    # Instances get their curated type from one rule (hierarchy.rq), so validation,
    # the costly step, looks at series, studies, patients and equipment; `fairdicom
    # validate` checks instances too.
    members = {instance for group in instances.values() for instance in group}
    shared = [line for line in curated if subject_of(line) not in members]
    verdict = validate_curated("".join(shared))
    bad = {iri(s) for s in verdict.failing_series} & raw.keys()
    routed = Routed()
    held: list[str] = []
    for line in curated:
        owner = owners.get(subject_of(line))
        (held if owner and owner <= bad else routed.curated).append(line)
    routed.raw = [line for series, lines in raw.items() if series not in bad for line in lines]
    routed.quarantine = [line for series in sorted(bad) for line in raw[series]] + held
    for series in sorted(bad):
        mine = [c for c in curated if series in owners.get(subject_of(c), {series})]
        report = validate_curated("".join(mine)).report_text
        routed.reports[series] = report
        routed.quarantined[series] = len(instances[series])
        routed.quarantine.append(triple(series, REPORT, literal(report)))
    return routed


def owners_of(
    by_series: Mapping[str, list[InstanceRecord]],
    curated: list[str],
    context_owners: Mapping[str, set[str]] | None = None,
) -> dict[str, set[str]]:
    """Map each resource term to the series it belongs to: the batch's records, the nodes their
    curated triples refer to (such as equipment), and ``context_owners`` (the other, stored
    series of the same studies and patients)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for series, group in by_series.items():
        owners[series].add(series)
        for record in group:
            owners[record.instance].add(series)
            owners[record.study].add(series)
            owners[record.patient].add(series)
    for node, others in (context_owners or {}).items():
        owners[node] |= others
    for line in curated:
        subject, _, rest = line.partition(" ")
        obj = rest.partition(" ")[2][:-3]
        if obj.startswith("<") and subject in owners and obj not in by_series:
            owners[obj] |= owners[subject]
    return dict(owners)
