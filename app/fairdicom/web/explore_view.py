"""What the explorer page shows: facets with their values and counts, charts, query links.

Built from two answers of the view query: the one without a selection (every value each facet
has, with labels) and the one of the current selection (the counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from fairdicom.explore.cells import Counts, zero_counts
from fairdicom.explore.charts import Bar, bar_chart
from fairdicom.explore.counts import Answer, Value
from fairdicom.explore.facets import FACETS, Facet, Selection
from fairdicom.explore.sparql import INSTANCE_BINS


@dataclass(frozen=True)
class ValueView:
    """One facet value as the page lists it."""

    param: str
    label: str
    counts: Counts
    selected: bool
    href: str


@dataclass(frozen=True)
class FacetView:
    """One facet as the page shows it."""

    facet: Facet
    values: list[ValueView]
    low: Decimal | None
    high: Decimal | None
    query_href: str


def _order(facet: Facet, values: dict[str, Value]) -> list[Value]:
    """Return a facet's values in the order the page lists them."""
    if facet.kind == "band":
        return [values[b.key] for b in facet.bands if b.key in values]
    if facet.kind == "number":
        return sorted(values.values(), key=lambda v: int(v.param))
    return sorted(values.values(), key=lambda v: (v.label.lower(), v.param))


def facet_views(
    selection: Selection,
    known: Answer,
    current: Answer,
    threshold: int,
    page: str,
    query_hrefs: dict[str, str],
) -> list[FacetView]:
    """Return the facets of the page: every known value, its counts under the selection."""
    views = []
    for facet in FACETS:
        chosen = selection.values.get(facet.key, ())
        counts = current.counts.get(facet.key, {})
        values = [
            ValueView(
                value.param,
                value.label,
                counts.get((value.param, ""), zero_counts(threshold)),
                value.param in chosen,
                page + "?" + urlencode(selection.toggled(facet.key, value.param)),
            )
            for value in _order(facet, known.values.get(facet.key, {}))
        ]
        low, high = selection.ranges.get(facet.key, (None, None))
        views.append(FacetView(facet, values, low, high, query_hrefs[facet.key]))
    return views


@dataclass(frozen=True)
class Chart:
    """One chart: its SVG and the query of its bars."""

    key: str
    title: str
    svg: str
    query_href: str


def charts(current: Answer, hrefs: dict[str, str]) -> list[Chart]:
    """Return the four charts of the selection."""
    made = []
    ages = current.counts.get("chart:age-sex", {})
    sexes = sorted({current.labels.get(sex, "not recorded") for _, sex in ages})
    unknown = "not recorded"
    bars = [
        Bar(f"{decade}-{int(decade) + 9} y", counts.patients, current.labels.get(sex, unknown))
        for (decade, sex), counts in sorted(ages.items(), key=lambda i: (int(i[0][0]), i[0][1]))
        if decade
    ]
    title = "Patients by age at study and sex"
    made.append(_chart("age-sex", title, "patients", bars, sexes, hrefs))
    pairs = current.counts.get("chart:modality-body-part", {})
    labels = current.values.get("chart:modality-body-part", {})
    bars = [
        Bar(
            f"{labels[m].label if m in labels else m} · {current.labels.get(b, 'no body part')}",
            counts.series,
        )
        for (m, b), counts in sorted(pairs.items(), key=lambda i: (-(i[1].series.bar), i[0]))
    ]
    made.append(
        _chart("modality-body-part", "Series per modality and body part", "series", bars, [], hrefs)
    )
    years = current.counts.get("year", {})
    ordered = sorted(years.items(), key=lambda item: int(item[0][0]))
    bars = [Bar(year, counts.studies) for (year, _), counts in ordered]
    made.append(_chart("year", "Studies per year", "studies", bars, [], hrefs))
    bins = current.counts.get("chart:instances", {})
    order = [key for key, _ in INSTANCE_BINS] + ["unknown"]
    bars = [Bar(f"{key} instances", bins[(key, "")].series) for key in order if (key, "") in bins]
    made.append(_chart("instances", "Series by number of instances", "series", bars, [], hrefs))
    return made


def _chart(
    key: str, title: str, unit: str, bars: list[Bar], legend: list[str], hrefs: dict[str, str]
) -> Chart:
    name = "year" if key == "year" else f"chart:{key}"
    return Chart(key, title, bar_chart(f"chart-{key}", title, unit, bars, legend), hrefs[name])
