"""Facet values and the protected counts of one view, and a selection resolved against them.

Counts are kept as :class:`~fairdicom.explore.cells.Counts` only: what leaves the explorer's
model is already protected against small cells.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from fairdicom.errors import UsageError
from fairdicom.explore.cells import Counts, zero_counts
from fairdicom.explore.facets import BY_KEY, Selection
from fairdicom.explore.sparql import Chosen
from fairdicom.namespaces import PREFIXES, XSD


@dataclass(frozen=True)
class Value:
    """One value of a facet: what the URL says, what SPARQL says, what people read."""

    param: str
    term: str
    label: str


@dataclass
class Answer:
    """The counts of one view: per branch, per value (and second value), protected."""

    counts: dict[str, dict[tuple[str, str], Counts]] = field(default_factory=dict)
    values: dict[str, dict[str, Value]] = field(default_factory=dict)
    """The values each facet's answer holds, by URL value, with their labels."""
    labels: dict[str, str] = field(default_factory=dict)
    """Labels of second values (chart series), by URL value."""

    def total(self, threshold: int) -> Counts:
        """Return the counts of the whole selection."""
        return self.counts.get("total", {}).get(("", ""), zero_counts(threshold))


def compact(iri: str) -> str:
    """Return ``prefix:local`` for an IRI in a known namespace, else the IRI."""
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        local = iri[len(namespace) :]
        if iri.startswith(namespace) and re.fullmatch(r"[A-Za-z0-9_.-]+", local or "-"):
            return f"{prefix}:{local}"
    return iri


def literal_value(binding: dict[str, str]) -> Value:
    """Return a literal of a SPARQL JSON answer as a facet value (its text is the URL value)."""
    text = binding["value"]
    datatype = binding.get("datatype", XSD + "string")
    term = json.dumps(text, ensure_ascii=False)
    if "xml:lang" in binding:
        term += "@" + binding["xml:lang"]
    elif datatype != XSD + "string":
        term += f"^^<{datatype}>"
    return Value(text, term, text)


def resolve(selection: Selection, known: Answer) -> Chosen:
    """Turn a selection into SPARQL terms, each one the store gave for that facet; raise
    UsageError naming a value the facet does not have."""
    terms: dict[str, tuple[str, ...]] = {}
    for key, params in selection.values.items():
        facet = BY_KEY[key]
        found: list[str] = []
        for param in params:
            if facet.kind == "band":
                if not any(b.key == param for b in facet.bands):
                    choices = ", ".join(b.key for b in facet.bands)
                    raise UsageError(f"{key}={param[:40]!r} is not a band; choose one of {choices}")
                found.append(param)
                continue
            value = known.values.get(key, {}).get(param)
            if value is None:
                value = next(
                    (v for v in known.values.get(key, {}).values() if v.term == f"<{param}>"),
                    None,
                )
            if value is None:
                raise UsageError(
                    f"{key}={param[:80]!r} is not a value of the {facet.title.lower()} facet "
                    "here; choose one the explorer lists"
                )
            found.append(value.term)
        terms[key] = tuple(found)
    return Chosen(terms, dict(selection.ranges))
