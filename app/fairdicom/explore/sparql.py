"""Build the explorer's SPARQL from the ``queries/*.rq`` templates and a checked selection.

Nothing a user typed reaches the text: a selection is first resolved against the values the
store holds (:func:`fairdicom.explore.counts.resolve`), so a value is an IRI or a literal the
store gave, a band's fixed expression, or a number read as a decimal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from fairdicom.explore.facets import BY_KEY, FACETS, Facet
from fairdicom.sparql_files import sparql

AGE_DECADE = "xsd:integer(FLOOR(?age / 10) * 10)"
INSTANCE_BINS = (
    ("1", "?n = 1"),
    ("2-9", "?n < 10"),
    ("10-19", "?n < 20"),
    ("20-49", "?n < 50"),
    ("50-99", "?n < 100"),
    ("100+", "?n >= 100"),
)
"""Bins of the instances-per-series chart (a series with no count is "unknown")."""


def _instance_bin() -> str:
    expression = '"unknown"'
    for key, test in reversed(INSTANCE_BINS):
        expression = f'IF({test}, "{key}", {expression})'
    return f'IF(?n = 0, "unknown", {expression})'


@dataclass(frozen=True)
class Chosen:
    """A selection resolved to SPARQL: terms per facet key, numeric ranges per facet key."""

    terms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: Mapping[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)

    def without(self, key: str) -> Chosen:
        """Return this selection without facet ``key``."""
        return Chosen(
            {k: v for k, v in self.terms.items() if k != key},
            {k: v for k, v in self.ranges.items() if k != key},
        )

    @property
    def keys(self) -> set[str]:
        """Return the facets that narrow the selection."""
        return set(self.terms) | set(self.ranges)


@dataclass(frozen=True)
class Branch:
    """One group of counts: a facet's values, a chart's bars or the cohort's total."""

    name: str
    value: str | None = None
    value2: str | None = None
    needs: tuple[str, ...] = ()
    """Facets whose patterns must match (their variables are used)."""
    optional: tuple[str, ...] = ()
    """Facets whose patterns may match (``value2``)."""
    own: str | None = None
    """The facet whose own selection this branch leaves out."""


def facet_branch(facet: Facet) -> Branch:
    """Return the branch of one facet's value counts."""
    return Branch(facet.key, facet.value_expression, None, (facet.key,), (), facet.key)


TOTAL = Branch("total")
CHARTS = (
    Branch("chart:age-sex", AGE_DECADE, "?sex", ("age",), ("sex",)),
    Branch("chart:modality-body-part", "?modality", "?bodyPart", ("modality",), ("body_part",)),
    Branch("chart:instances", _instance_bin()),
)
BRANCHES = (TOTAL, *(facet_branch(f) for f in FACETS), *CHARTS)


def series_pattern(
    chosen: Chosen,
    graphs: Sequence[str],
    needs: Iterable[str] = (),
    optional: Iterable[str] = (),
    indent: str = "",
    also: str = "",
) -> str:
    """Return the pattern of the selected series (``?series ?study ?patient ?n ?g``), with the
    variables of the facets ``needs`` bound and those of ``optional`` bound where known
    (``also``: more patterns on the series' curated graph)."""
    selected_graphs = chosen.terms.get("dataset")
    listed = " ".join(selected_graphs or [f"<{graph}>" for graph in graphs])
    required = [k for k in BY_KEY if k != "dataset" and (k in chosen.keys or k in needs)]
    inside: list[str] = []
    outside: list[str] = []
    for key in required:
        facet = BY_KEY[key]
        lines = [facet.pattern, *_constraints(facet, chosen)]
        (inside if facet.in_graph else outside).extend(lines)
    for key in optional:
        facet = BY_KEY[key]
        if key not in required:
            (inside if facet.in_graph else outside).append(f"OPTIONAL {{ {facet.pattern} }}")
    text = (
        sparql(__file__, "series")
        .replace("$GRAPHS", listed or "<urn:fairdicom:no-dataset>")
        .replace("$IN_GRAPH", "\n".join("  " + line for line in [*inside, *also.splitlines()]))
        .replace("$OUTSIDE", "\n".join(outside))
    )
    return "\n".join(indent + line if line.strip() else "" for line in text.rstrip().splitlines())


def _constraints(facet: Facet, chosen: Chosen) -> list[str]:
    """Return the VALUES and FILTER lines that keep the facet's selected values."""
    lines = []
    terms = chosen.terms.get(facet.key, ())
    if terms and facet.kind == "band":
        tests = " || ".join(b.test(facet.variable) for b in facet.bands if b.key in terms)
        lines.append(f"FILTER({tests})")
    elif terms and facet.kind in ("iri", "literal") and facet.in_graph:
        lines.append(f"VALUES {facet.variable} {{ {' '.join(terms)} }}")
    elif terms:
        lines.append(f"FILTER({facet.variable} IN ({', '.join(terms)}))")
    low, high = chosen.ranges.get(facet.key, (None, None))
    if low is not None:
        lines.append(f"FILTER({facet.variable} >= {low})")
    if high is not None:
        lines.append(f"FILTER({facet.variable} <= {high})")
    return lines


def branch_text(branch: Branch, chosen: Chosen, graphs: Sequence[str]) -> str:
    """Return one branch of the view query."""
    seen = chosen.without(branch.own) if branch.own else chosen
    series = series_pattern(seen, graphs, branch.needs, branch.optional, " " * 8)
    return (
        sparql(__file__, "branch")
        .replace("$FACET", branch.name)
        .replace("$VALUE2", f'COALESCE({branch.value2}, "")' if branch.value2 else '""')
        .replace("$VALUE", f'COALESCE({branch.value}, "")' if branch.value else '""')
        .replace("$SERIES", series)
    )


def view_query(
    chosen: Chosen,
    graphs: Sequence[str],
    vocabulary: str,
    branches: Sequence[Branch] = BRANCHES,
) -> str:
    """Return the query of a whole explorer view (or of some of its branches)."""
    parts = [branch_text(b, chosen, graphs) for b in branches]
    text = sparql(__file__, "view")
    return text.replace("$BRANCHES", "\n  UNION\n".join(parts)).replace(
        "$VOCABULARY", f"<{vocabulary}>"
    )


def facet_query(key: str, chosen: Chosen, graphs: Sequence[str], vocabulary: str) -> str:
    """Return the query of one facet's counts alone (to open in the query page)."""
    branch = next(b for b in BRANCHES if b.name == key)
    return view_query(chosen, graphs, vocabulary, (branch,))


def cohort_query(chosen: Chosen, graphs: Sequence[str]) -> str:
    """Return the query of the selected series, one row each."""
    columns = sparql(__file__, "cohort_columns").strip()
    series = series_pattern(chosen, graphs, indent="  ", also=columns)
    return sparql(__file__, "cohort").replace("$SERIES", series)
