"""The facets of the explorer and the selection a query string makes of them.

A facet reads one value per series from the curated layer (the dataset from the graph the
series is in). Its values are IRIs (modality, body part, sex: labelled from the vocabulary
graph), texts (manufacturer, model), numbers (study year) or bands of a number (age, slice
thickness, whose ranges can also be given as ``age_min``/``age_max``, ``thickness_min``/
``thickness_max``). A selection lists values per facet (one parameter per value: ``?modality=
dcm:CT&modality=dcm:MR``); values of one facet are alternatives, facets are combined.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from fairdicom.errors import UsageError


@dataclass(frozen=True)
class Band:
    """A half-open range ``[low, high)`` of a number, with its URL key and label."""

    key: str
    label: str
    low: Decimal | None
    high: Decimal | None

    def test(self, variable: str) -> str:
        """Return a SPARQL expression true when ``variable`` lies in the band."""
        parts = []
        if self.low is not None:
            parts.append(f"{variable} >= {self.low}")
        if self.high is not None:
            parts.append(f"{variable} < {self.high}")
        return "(" + " && ".join(parts or ["true"]) + ")"


def _bands(unit: str, *edges: int | str) -> tuple[Band, ...]:
    """Return the bands between consecutive edges, the first from nothing, the last open."""
    numbers = [Decimal(str(e)) for e in edges]
    bands = [Band(f"0-{numbers[0]}", f"under {numbers[0]} {unit}", None, numbers[0])]
    for low, high in itertools.pairwise(numbers):
        bands.append(Band(f"{low}-{high}", f"{low} to under {high} {unit}", low, high))
    bands.append(Band(f"{numbers[-1]}+", f"{numbers[-1]} {unit} or more", numbers[-1], None))
    return tuple(bands)


@dataclass(frozen=True)
class Facet:
    """One facet: its URL parameter, title, SPARQL pattern and how its values are read."""

    key: str
    title: str
    variable: str
    """The SPARQL variable that holds the facet's value for a series."""
    pattern: str
    """The triple patterns that bind ``variable`` (inside the curated graph, or not)."""
    kind: str
    """``dataset``, ``iri``, ``literal``, ``number`` (a year) or ``band``."""
    bands: tuple[Band, ...] = ()
    unit: str = ""
    in_graph: bool = True
    """Whether ``pattern`` reads the series' curated graph (else the default graph)."""
    note: str = ""

    @property
    def ranged(self) -> bool:
        """Return whether the facet also takes a numeric range (``KEY_min``, ``KEY_max``)."""
        return self.kind == "band"

    @property
    def value_expression(self) -> str:
        """Return the SPARQL expression of the facet's value (a band's key for bands)."""
        if self.kind != "band":
            return self.variable
        expression = '""'
        for band in reversed(self.bands):
            expression = f'IF({band.test(self.variable)}, "{band.key}", {expression})'
        return expression


AGE_BANDS = (
    Band("0-18", "0-17 years", None, Decimal(18)),
    Band("18-40", "18-39 years", Decimal(18), Decimal(40)),
    Band("40-60", "40-59 years", Decimal(40), Decimal(60)),
    Band("60-80", "60-79 years", Decimal(60), Decimal(80)),
    Band("80+", "80 years or more", Decimal(80), None),
)
THICKNESS_BANDS = _bands("mm", 1, "2.5", 5)

FACETS: tuple[Facet, ...] = (
    Facet("dataset", "Dataset", "?g", "", "dataset"),
    Facet("modality", "Modality", "?modality", "?series fd:modality ?modality .", "iri"),
    Facet("body_part", "Body part", "?bodyPart", "?series fd:bodyPart ?bodyPart .", "iri"),
    Facet("sex", "Sex", "?sex", "?patient fd:sex ?sex .", "iri"),
    Facet(
        "age",
        "Age at study",
        "?age",
        "?study fd:patientAgeInYears ?age .",
        "band",
        AGE_BANDS,
        "years",
    ),
    Facet(
        "year",
        "Study year",
        "?year",
        "?study fd:studyDate ?date . BIND(YEAR(?date) AS ?year)",
        "number",
        note="Dates are de-identified: each patient's dates move back by up to three years.",
    ),
    Facet(
        "manufacturer",
        "Manufacturer",
        "?manufacturer",
        "?series fd:manufacturer ?manufacturer .",
        "literal",
    ),
    Facet(
        "model",
        "Scanner model",
        "?model",
        "?series fd:manufacturerModelName ?model .",
        "literal",
    ),
    Facet(
        "thickness",
        "Slice thickness",
        "?thickness",
        "?series fd:sliceThickness ?thickness .",
        "band",
        THICKNESS_BANDS,
        "mm",
    ),
    Facet(
        "contrast",
        "Contrast agent",
        "?contrast",
        'BIND(IF(EXISTS { ?series dcmtag:ContrastBolusAgent ?agent }, "given", "none recorded")'
        " AS ?contrast)",
        "literal",
        in_graph=False,
        note="From the raw layer's Contrast/Bolus Agent (0018,0010): the curated layer has no "
        "contrast term yet.",
    ),
)
BY_KEY = {facet.key: facet for facet in FACETS}
RANGE_PARAMETERS = {f"{f.key}_{end}": f for f in FACETS if f.ranged for end in ("min", "max")}
OTHER_PARAMETERS = frozenset({"format"})
_NUMBER = re.compile(r"-?[0-9]{1,6}(\.[0-9]{1,6})?")


@dataclass(frozen=True)
class Selection:
    """What a query string selects: values per facet, and numeric ranges."""

    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """URL values per facet key, as given (checked against the store's by the caller)."""
    ranges: dict[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Return whether nothing is selected."""
        return not self.values and not self.ranges

    def without(self, key: str) -> Selection:
        """Return the selection of every facet but ``key`` (what ``key``'s own counts see)."""
        return Selection(
            {k: v for k, v in self.values.items() if k != key},
            {k: v for k, v in self.ranges.items() if k != key},
        )

    def toggled(self, key: str, value: str) -> list[tuple[str, str]]:
        """Return the query string pairs of this selection with ``value`` of ``key`` added, or
        removed when it is selected."""
        pairs = self.pairs()
        if (key, value) in pairs:
            return [pair for pair in pairs if pair != (key, value)]
        return [*pairs, (key, value)]

    def pairs(self) -> list[tuple[str, str]]:
        """Return the selection as query string pairs, in the facets' order."""
        pairs = []
        for facet in FACETS:
            pairs += [(facet.key, value) for value in self.values.get(facet.key, ())]
            low, high = self.ranges.get(facet.key, (None, None))
            if low is not None:
                pairs.append((f"{facet.key}_min", str(low)))
            if high is not None:
                pairs.append((f"{facet.key}_max", str(high)))
        return pairs


def read_selection(arguments: list[tuple[str, str]]) -> Selection:
    """Read a selection from query string pairs; raise UsageError for an unknown parameter
    or a range bound that is not a number."""
    values: dict[str, list[str]] = {}
    ranges: dict[str, list[Decimal | None]] = {}
    for name, raw in arguments:
        text = raw.strip()
        if name in OTHER_PARAMETERS or not text:
            continue
        if name in BY_KEY:
            chosen = values.setdefault(name, [])
            if text not in chosen:
                chosen.append(text)
        elif name in RANGE_PARAMETERS:
            if not _NUMBER.fullmatch(text):
                raise UsageError(f"{name} must be a number such as 40 or 2.5, not {text[:40]!r}")
            bounds = ranges.setdefault(RANGE_PARAMETERS[name].key, [None, None])
            try:
                bounds[0 if name.endswith("_min") else 1] = Decimal(text)
            except InvalidOperation:  # pragma: no cover - the pattern admits numbers only
                raise UsageError(f"{name} must be a number, not {text[:40]!r}") from None
        else:
            known = ", ".join([*BY_KEY, *RANGE_PARAMETERS])
            raise UsageError(f"the explorer has no parameter {name[:40]!r}; it takes {known}")
    return Selection(
        {k: tuple(v) for k, v in values.items()},
        {k: (v[0], v[1]) for k, v in ranges.items()},
    )
