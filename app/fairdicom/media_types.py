"""The one registry of the formats fairdicom serves and reads, and the one content negotiation.

Each format is declared once: its registry name (the CLI's ``--format`` and the key the
store uses to find the engine's serialiser), media type and the aliases that ask for it,
``format=`` names, file extensions, what it holds (an RDF graph, an RDF dataset, SPARQL query
results, an HTML page), its W3C format IRI and the rdflib serialiser that writes one graph in
it. Every endpoint offers a tuple of these formats and calls :func:`negotiate`, so ``format=``
and ``Accept`` mean the same at ``/sparql``, ``/store``, ``/id``, ``/catalog`` and VoID.

Names and media types that mean one thing for results and another for graphs (``json``,
``xml``, ``application/json``, ``application/xml``) select whichever of the two the endpoint
offers: ``?format=json`` is SPARQL JSON results for a SELECT and JSON-LD for a CONSTRUCT or
a Linked Data page. N3 is answered with Turtle (a subset of N3) labelled ``text/n3``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from fairdicom.errors import NotAcceptable

W3C_FORMATS = "http://www.w3.org/ns/formats/"


class Kind(Enum):
    """What a format holds."""

    GRAPH = "an RDF graph"
    DATASET = "an RDF dataset"
    RESULTS = "SPARQL query results"
    PAGE = "an HTML page"


@dataclass(frozen=True)
class Format:
    """One format: its names, media types, extensions and what it holds."""

    name: str
    """Registry name: the CLI's ``--format`` value and the store's key for its serialiser."""
    label: str
    """What people call it (link texts)."""
    media_type: str
    """The media type a response in this format is labelled with."""
    aliases: tuple[str, ...]
    """Other media types that ask for (or label a request body in) this format."""
    names: tuple[str, ...]
    """``format=`` names, the one links use first."""
    extensions: tuple[str, ...]
    """File extensions, the usual one first."""
    kind: Kind
    w3c: str | None
    """The format's IRI in the W3C ``formats`` namespace (service descriptions)."""
    rdflib: str | None
    """The rdflib serialiser that writes one graph in this format."""

    @property
    def short(self) -> str:
        """Return the ``format=`` name that links use."""
        return self.names[0]

    @property
    def is_rdf(self) -> bool:
        """Return whether the format holds RDF (a graph or a dataset)."""
        return self.kind in (Kind.GRAPH, Kind.DATASET)


def _format(
    name: str,
    label: str,
    media_types: tuple[str, ...],
    names: tuple[str, ...],
    extensions: tuple[str, ...],
    kind: Kind,
    w3c: str | None = None,
    rdflib: str | None = None,
) -> Format:
    media_type, *aliases = media_types
    iri = W3C_FORMATS + w3c if w3c else None
    return Format(name, label, media_type, tuple(aliases), names, extensions, kind, iri, rdflib)


SPARQL_JSON = _format(
    "sparql-json",
    "SPARQL JSON results",
    ("application/sparql-results+json", "application/json"),
    ("json", "srj", "sparql-results+json"),
    ("srj", "json"),
    Kind.RESULTS,
    "SPARQL_Results_JSON",
)
SPARQL_XML = _format(
    "sparql-xml",
    "SPARQL XML results",
    ("application/sparql-results+xml", "application/xml", "text/xml"),
    ("xml", "srx", "sparql-results+xml"),
    ("srx", "xml"),
    Kind.RESULTS,
    "SPARQL_Results_XML",
)
CSV = _format("csv", "CSV", ("text/csv",), ("csv",), ("csv",), Kind.RESULTS, "SPARQL_Results_CSV")
TSV = _format(
    "tsv",
    "TSV",
    ("text/tab-separated-values",),
    ("tsv",),
    ("tsv",),
    Kind.RESULTS,
    "SPARQL_Results_TSV",
)
TURTLE = _format(
    "turtle",
    "Turtle",
    ("text/turtle", "application/x-turtle", "application/turtle"),
    ("ttl", "turtle"),
    ("ttl",),
    Kind.GRAPH,
    "Turtle",
    "turtle",
)
NTRIPLES = _format(
    "ntriples",
    "N-Triples",
    ("application/n-triples", "text/plain"),
    ("nt", "ntriples", "n-triples"),
    ("nt",),
    Kind.GRAPH,
    "N-Triples",
    "nt",
)
RDF_XML = _format(
    "rdfxml",
    "RDF/XML",
    ("application/rdf+xml", "application/xml", "text/xml"),
    ("rdf", "rdfxml", "rdf+xml", "xml"),
    ("rdf", "owl", "xml"),
    Kind.GRAPH,
    "RDF_XML",
    "xml",
)
JSON_LD = _format(
    "jsonld",
    "JSON-LD",
    ("application/ld+json", "application/x-json+ld", "application/json"),
    ("jsonld", "json-ld", "json"),
    ("jsonld", "json"),
    Kind.GRAPH,
    "JSON-LD",
    "json-ld",
)
N3 = _format(
    "n3",
    "N3",
    ("text/n3", "text/rdf+n3", "application/n3"),
    ("n3",),
    ("n3",),
    Kind.GRAPH,
    "N3",
    "turtle",  # Turtle is a subset of N3: what fairdicom writes for N3
)
NQUADS = _format(
    "nquads",
    "N-Quads",
    ("application/n-quads", "text/x-nquads"),
    ("nq", "nquads", "n-quads"),
    ("nq",),
    Kind.DATASET,
    "N-Quads",
    "nt",  # one graph in N-Quads is its N-Triples
)
TRIG = _format(
    "trig",
    "TriG",
    ("application/trig", "application/x-trig"),
    ("trig",),
    ("trig",),
    Kind.DATASET,
    "TriG",
    "turtle",  # one graph in TriG (its default graph) is its Turtle
)
HTML = _format(
    "html", "HTML", ("text/html", "application/xhtml+xml"), ("html",), ("html",), Kind.PAGE
)

FORMATS: tuple[Format, ...] = (
    SPARQL_JSON,
    SPARQL_XML,
    CSV,
    TSV,
    TURTLE,
    NTRIPLES,
    RDF_XML,
    JSON_LD,
    N3,
    NQUADS,
    TRIG,
    HTML,
)
"""Every format, results before RDF: where a name or alias means two formats, the first wins."""

RESULTS: tuple[Format, ...] = (SPARQL_JSON, SPARQL_XML, CSV, TSV)
"""What a SELECT or ASK query answers in, the default first."""
RDF: tuple[Format, ...] = (TURTLE, NTRIPLES, RDF_XML, JSON_LD, N3, NQUADS, TRIG)
"""What an RDF graph is served in (CONSTRUCT, DESCRIBE, Graph Store, VoID), the default first."""
DOCUMENT: tuple[Format, ...] = (TURTLE, HTML, *RDF[1:])
"""What a resource with a web page is served in (``/id``, ``/catalog``): RDF or HTML."""

_SPECIFIC, _TYPE_RANGE, _ANY = 3, 2, 1


def find(value: str, among: Iterable[Format] = FORMATS) -> Format | None:
    """Return the first format of ``among`` that a ``format=`` name or media type names."""
    wanted = _bare(value)
    for fmt in among:
        if wanted in fmt.names or wanted == fmt.media_type or wanted in fmt.aliases:
            return fmt
    return None


def by_extension(extension: str, among: Iterable[Format] = FORMATS) -> Format | None:
    """Return the first format of ``among`` whose files end in ``extension`` (no dot)."""
    wanted = extension.lower().lstrip(".")
    return next((fmt for fmt in among if wanted in fmt.extensions), None)


def wishes(formats: Sequence[str], accept: str | None) -> list[str]:
    """Return what a client asks for, in its order: the ``format=`` values if it gave any
    (they override ``Accept``), else the entries of its ``Accept`` header."""
    given = [value.strip() for value in formats if value.strip()]
    if given:
        return given
    return [entry.strip() for entry in _split(accept or "") if entry.strip()]


def negotiate(offered: Sequence[Format], wanted: Sequence[str]) -> Format:
    """Return the offered format the client prefers; raise NotAcceptable naming the offer.

    ``wanted`` holds ``format=`` names, media types and media ranges (``text/*``, ``*/*``),
    each optionally with ``;q=``; nothing wanted means the first offered format. A format's
    quality is that of the most specific entry naming it; ties go to the entry the client
    listed first, then to the endpoint's order.
    """
    entries = [_entry(text) for text in wanted]
    if not entries:
        return offered[0]
    best: tuple[float, int, int] | None = None
    chosen: Format | None = None
    for position, fmt in enumerate(offered):
        match = _match(fmt, entries)
        if match is None or match[0] <= 0:
            continue
        score = (match[0], -match[1], -position)
        if best is None or score > best:
            best, chosen = score, fmt
    if chosen is None:
        raise NotAcceptable(_refusal(offered, wanted))
    return chosen


def offer_text(offered: Sequence[Format]) -> str:
    """Return a sentence listing the offered formats with their media types and names."""
    return ", ".join(f"{fmt.media_type} (format={fmt.short})" for fmt in offered)


def _refusal(offered: Sequence[Format], wanted: Sequence[str]) -> str:
    kinds = {fmt.kind for fmt in offered}
    if kinds == {Kind.RESULTS}:
        what = Kind.RESULTS.value
    elif Kind.PAGE in kinds:
        what = f"{Kind.GRAPH.value} or {Kind.PAGE.value}"
    else:
        what = Kind.GRAPH.value
    others = [find(text) for text in wanted if find(text, offered) is None]
    notes = [f"{fmt.label} is {fmt.kind.value}" for fmt in dict.fromkeys(others) if fmt]
    note = f" ({'; '.join(notes)})" if notes else ""
    return (
        f"cannot answer with {', '.join(wanted)}{note}: this is {what}, offered as "
        f"{offer_text(offered)}"
    )


@dataclass(frozen=True)
class _Entry:
    """One thing a client asks for: a name or media range, and its quality."""

    value: str
    quality: float


def _entry(text: str) -> _Entry:
    value, *params = text.split(";")
    quality = 1.0
    for param in params:
        key, _, raw = param.partition("=")
        if key.strip().lower() == "q":
            try:
                quality = float(raw.strip())
            except ValueError:
                quality = 0.0
            if not 0.0 <= quality <= 1.0:  # out of range or NaN: it asks for nothing
                quality = 0.0
    return _Entry(value.strip().lower(), quality)


def _match(fmt: Format, entries: Sequence[_Entry]) -> tuple[float, int] | None:
    """Return (quality, place) of the most specific entry naming ``fmt``, or None."""
    found: tuple[int, float, int] | None = None
    for place, entry in enumerate(entries):
        level = _specificity(fmt, entry.value)
        if not level:
            continue
        candidate = (level, entry.quality, -place)
        if found is None or candidate > found:
            found = candidate
    return None if found is None else (found[1], -found[2])


def _specificity(fmt: Format, value: str) -> int:
    if value in ("*", "*/*"):
        return _ANY
    if value.endswith("/*"):
        return _TYPE_RANGE if fmt.media_type.startswith(value[:-1]) else 0
    if value in fmt.names or value == fmt.media_type or value in fmt.aliases:
        return _SPECIFIC
    return 0


def _bare(text: str) -> str:
    return text.split(";", 1)[0].strip().lower()


def _split(header: str) -> list[str]:
    """Split an Accept header at the commas that are not inside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
