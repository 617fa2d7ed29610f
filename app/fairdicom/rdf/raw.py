"""The raw layer: every attribute that survives de-identification, as RDF, losslessly.

Per instance, :class:`RawConverter` turns the de-identified header into an
:class:`InstanceRecord`: predicate -> objects, and the predicates whose value is invalid. Per
series, :func:`series_triples` states once on the series every value that all its instances
share and the rest on each instance (docs/rdf-model.md).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from fairdicom.dicom_model import Attr, InstanceHeader
from fairdicom.namespaces import DCMPRIV, DCMTAG, FD, RDF, XSD, DataIris, private_attribute
from fairdicom.rdf.terms import iri, literal, parse_literal, triple
from fairdicom.rdf.values import comparable, convert

TYPE = iri(RDF + "type")
INVALID = iri(FD + "invalidValueFor")
IN_SERIES = iri(FD + "inSeries")
IN_STUDY = iri(FD + "inStudy")
OF_PATIENT = iri(FD + "ofPatient")
ITEM_INDEX = iri(FD + "itemIndex")
SEQUENCE_ITEM = iri(FD + "SequenceItem")
_ITEM_KEY_SEPARATOR = "\x1f"
"""Joins the item IRIs of a nested sequence in the text an item's IRI is derived from."""

Pairs = tuple[tuple[str, str], ...]
"""(predicate, object) pairs of one node, as N-Triples terms."""


@dataclass
class InstanceRecord:
    """One instance's raw-layer content, before series-level values are factored out."""

    patient: str
    study: str
    series: str
    instance: str
    values: dict[str, tuple[str, ...]]
    """Predicate term -> its object terms: one value, or the IRIs of a sequence's items
    (sorted; the item IRIs carry their index)."""
    invalid: frozenset[str] = frozenset()
    """Predicate terms whose value is not valid for its VR: kept as text and flagged
    (``fd:invalidValueFor``)."""
    items: dict[str, Pairs] = field(default_factory=dict)
    """Sequence item IRI -> its (predicate, object) pairs, the items of its own sequences too."""
    warnings: list[str] = field(default_factory=list)
    packed: bytes = b""
    """``values``, ``invalid`` and ``items`` in one pickled piece (see :meth:`pack`)."""

    def pack(self) -> InstanceRecord:
        """Return this record with its content in one piece of bytes: a parsing process hands
        it to the writer, which only routes it to a curation process, and bytes cross two
        processes at the cost of a copy, where a hundred pairs cost their unpickling twice."""
        content = (self.values, self.invalid, self.items)
        packed = pickle.dumps(content, pickle.HIGHEST_PROTOCOL)
        # made directly: dataclasses.replace costs more than the pickling
        record = InstanceRecord(self.patient, self.study, self.series, self.instance, {})
        record.warnings, record.packed = self.warnings, packed
        return record


@dataclass(frozen=True)
class _Converted:
    """One attribute as RDF: its predicate, objects, validity and the items it brings."""

    predicate: str
    objects: tuple[str, ...]
    valid: bool
    items: dict[str, Pairs]


def _predicate(attr: Attr) -> str:
    if attr.private:
        creator, _, key = attr.name.rpartition(":")
        return f"<{private_attribute(creator, int(key[:4], 16), int(key[6:], 16))}>"
    if attr.name:
        return f"<{DCMTAG}{attr.name}>"
    return f"<{DCMTAG}unknown-{attr.tag:08X}>"


class RawConverter:
    """Convert de-identified headers to raw-layer records (one per worker process)."""

    def __init__(self, iris: DataIris, token: Callable[[str], str]) -> None:
        self.iris = iris
        self._token = token
        self._cache: dict[Attr, _Converted] = {}

    def record(self, header: InstanceHeader) -> InstanceRecord:
        """Return the raw-layer record of one instance."""
        items: dict[str, Pairs] = {}
        values: dict[str, tuple[str, ...]] = {}
        invalid: list[str] = []
        cache = self._cache
        for attr in header.attrs:
            converted = cache.get(attr) or self._converted(attr)
            values[converted.predicate] = converted.objects
            if not converted.valid:
                invalid.append(converted.predicate)
            if converted.items:
                items.update(converted.items)
        return InstanceRecord(
            patient=iri(self.iris.resource("patient", header.patient)),
            study=iri(self.iris.resource("study", header.study_uid)),
            series=iri(self.iris.resource("series", header.series_uid)),
            instance=iri(self.iris.resource("instance", header.instance_uid)),
            values=values,
            invalid=frozenset(invalid),
            items=items,
            warnings=list(header.warnings),
        )

    def _converted(self, attr: Attr) -> _Converted:
        cached = self._cache.get(attr)
        if cached is None:
            cached = self._convert(attr)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[attr] = cached
        return cached

    def _convert(self, attr: Attr) -> _Converted:
        predicate = _predicate(attr)
        if not isinstance(attr.value, tuple):
            obj, valid = convert(attr.vr, attr.value)
            return _Converted(predicate, (obj,), valid, {})
        items: dict[str, Pairs] = {}
        nodes = []
        for index, item in enumerate(attr.value):
            pairs = [(ITEM_INDEX, literal(str(index), XSD + "integer"))]
            # The text an item's IRI comes from: one entry per attribute, several objects
            # joined, a flag keyed by its predicate (as written since the first release, so
            # that a re-ingest mints the same item IRIs), each number in its normal form.
            key_pairs = list(pairs)
            for child in item:
                converted = self._converted(child)
                items.update(converted.items)
                pairs += [(converted.predicate, o) for o in converted.objects]
                key_objects = (_key_object(o) for o in converted.objects)
                key_pairs.append((converted.predicate, _ITEM_KEY_SEPARATOR.join(key_objects)))
                if not converted.valid:
                    pairs.append((INVALID, converted.predicate))
                    key_pairs.append((INVALID + converted.predicate, converted.predicate))
            key_pairs.sort()
            key = predicate + "".join(p + o for p, o in key_pairs)
            node = iri(self.iris.resource("item", self._token(key)))
            items[node] = ((TYPE, SEQUENCE_ITEM), *sorted(pairs))
            nodes.append(node)
        return _Converted(predicate, tuple(sorted(nodes)), True, items)


def _key_object(term: str) -> str:
    """Return the text an object gives its item's IRI: a number as its normal literal.

    Equal numbers written differently (DS "3.0" in a file, 3 in DICOM JSON) are one value,
    as :func:`comparable` and the store see them, so they make one item IRI. A literal whose
    text is normal already is its own key, so the IRIs of such items never changed."""
    form = comparable(term)
    if form == term:
        return term
    number = format(Decimal(form.partition(":")[2]), "f")
    return literal(number, parse_literal(term).datatype)


def _same(one: tuple[str, ...], other: tuple[str, ...] | None) -> bool:
    """Return whether two objects tuples are equal (equal numbers in any notation too)."""
    if other == one:
        return True
    if other is None or len(other) != len(one):
        return False
    return all(comparable(a) == comparable(b) for a, b in zip(one, other, strict=True))


_Content = tuple[dict[str, tuple[str, ...]], frozenset[str], dict[str, Pairs]]


def _content(record: InstanceRecord) -> _Content:
    """Return a record's values, invalid predicates and items (unpickled when packed)."""
    if record.packed:
        content: _Content = pickle.loads(record.packed)
        return content
    return record.values, record.invalid, record.items


def series_triples(records: Iterable[InstanceRecord]) -> list[str]:
    """Return the N-Triples lines of one series: shared values once, the rest per instance."""
    members = list(records)
    first = members[0]
    group = [(record.instance, _content(record)) for record in members]
    first_values, first_invalid, _ = group[0][1]
    shared = dict(first_values)
    flagged = set(first_invalid)
    for _, (values, invalid, _) in group[1:]:
        # equal tuples first: most values of a series are written alike in every file
        differing = [
            predicate
            for predicate, objects in shared.items()
            if values.get(predicate) != objects and not _same(objects, values.get(predicate))
        ]
        for predicate in differing:
            del shared[predicate]
        flagged &= invalid
    # No rdf:type for the hierarchy here: the curated layer states it, and a query over the
    # union of the graphs would otherwise see every type twice (Oxigraph does not merge them).
    lines = [
        triple(first.study, OF_PATIENT, first.patient),
        triple(first.series, IN_STUDY, first.study),
    ]
    series = first.series
    lines += [f"{series} {p} {o} .\n" for p, objects in shared.items() for o in objects]
    lines += [f"{series} {INVALID} {p} .\n" for p in flagged]
    items: dict[str, Pairs] = {}
    in_series = f" {IN_SERIES} {series} .\n"
    for instance, (values, invalid, record_items) in group:
        lines.append(instance + in_series)
        lines += [
            f"{instance} {p} {o} .\n"
            for p, objects in values.items()
            if p not in shared
            for o in objects
        ]
        lines += [f"{instance} {INVALID} {p} .\n" for p in invalid if p not in flagged]
        items.update(record_items)
    lines += [f"{node} {p} {o} .\n" for node, pairs in items.items() for p, o in pairs]
    return lines


def _raw_attribute(predicate: str) -> bool:
    """Return whether a predicate term is a DICOM attribute of the raw layer."""
    return predicate.startswith(("<" + DCMTAG, "<" + DCMPRIV))


def records_from_store(
    series: str, study: str, patient: str, rows: Iterable[tuple[str, str, str]]
) -> list[InstanceRecord]:
    """Rebuild the records of stored instances from the triples of their series and instance
    nodes (other predicates, such as curated ones held in quarantine, are ignored).

    Used when a batch writes a series that is in the store already, so that shared values are
    decided over the whole series, exactly as if it had come in one batch.
    """
    by_subject: dict[str, dict[str, list[str]]] = {}
    for subject, predicate, obj in rows:
        if _raw_attribute(predicate) or predicate in (INVALID, IN_SERIES):
            by_subject.setdefault(subject, {}).setdefault(predicate, []).append(obj)

    def typed(pairs: dict[str, list[str]]) -> tuple[dict[str, tuple[str, ...]], set[str]]:
        values = {
            p: tuple(sorted(objs)) for p, objs in pairs.items() if p not in (INVALID, IN_SERIES)
        }
        return values, set(pairs.get(INVALID, ()))

    shared, shared_flags = typed(by_subject.pop(series, {}))
    records = []
    for subject, pairs in by_subject.items():
        if series not in pairs.get(IN_SERIES, []):
            continue
        values, flags = typed(pairs)
        records.append(
            InstanceRecord(
                patient,
                study,
                series,
                subject,
                {**shared, **values},
                frozenset(shared_flags | flags),
            )
        )
    return records
