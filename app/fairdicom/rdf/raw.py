"""The raw layer: every attribute that survives de-identification, as RDF, losslessly.

Per instance, :func:`instance_record` turns the de-identified header into predicate -> object
pairs. Per series, :func:`series_triples` states once on the series every pair that all its
instances share and the rest on each instance (docs/rdf-model.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fairdicom.dicom_model import Attr, InstanceHeader
from fairdicom.namespaces import DCMPRIV, DCMTAG, FD, RDF, XSD, DataIris, private_attribute
from fairdicom.rdf.terms import OBJECT_SEPARATOR, iri, literal, triple
from fairdicom.rdf.values import comparable, convert

TYPE = iri(RDF + "type")
INVALID = iri(FD + "invalidValueFor")
IN_SERIES = iri(FD + "inSeries")
IN_STUDY = iri(FD + "inStudy")
OF_PATIENT = iri(FD + "ofPatient")
ITEM_INDEX = iri(FD + "itemIndex")
SEQUENCE_ITEM = iri(FD + "SequenceItem")


@dataclass
class InstanceRecord:
    """One instance's raw-layer content, before series-level values are factored out."""

    patient: str
    study: str
    series: str
    instance: str
    props: dict[str, str]
    """Key -> object. A key is the predicate term (``<fd:invalidValueFor><p>`` for a flag); the
    items of a sequence are one object, their IRIs sorted and joined by OBJECT_SEPARATOR."""
    items: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


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
        self._cache: dict[Attr, tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]] = {}

    def record(self, header: InstanceHeader) -> InstanceRecord:
        """Return the raw-layer record of one instance."""
        items: dict[str, list[tuple[str, str]]] = {}
        props: dict[str, str] = {}
        for attr in header.attrs:
            for predicate, obj in self._pairs(attr, items):
                props[predicate] = obj
        return InstanceRecord(
            patient=iri(self.iris.resource("patient", header.patient)),
            study=iri(self.iris.resource("study", header.study_uid)),
            series=iri(self.iris.resource("series", header.series_uid)),
            instance=iri(self.iris.resource("instance", header.instance_uid)),
            props=props,
            items=items,
            warnings=list(header.warnings),
        )

    def _pairs(self, attr: Attr, items: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str]]:
        cached = self._cache.get(attr)
        if cached is None:
            own_items: dict[str, list[tuple[str, str]]] = {}
            cached = (self._convert(attr, own_items), own_items)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[attr] = cached
        items.update(cached[1])
        return cached[0]

    def _convert(
        self, attr: Attr, items: dict[str, list[tuple[str, str]]]
    ) -> list[tuple[str, str]]:
        predicate = _predicate(attr)
        if isinstance(attr.value, tuple):
            pairs = []
            for index, item in enumerate(attr.value):
                item_pairs = [(ITEM_INDEX, literal(str(index), XSD + "integer"))]
                for child in item:
                    item_pairs.extend(self._pairs(child, items))
                item_pairs.sort()
                key = predicate + "".join(p + o for p, o in item_pairs)
                node = iri(self.iris.resource("item", self._token(key)))
                items[node] = [(TYPE, SEQUENCE_ITEM), *item_pairs]
                pairs.append((predicate, node))
            # All items under one key, sorted: the item IRIs carry their index.
            return [(predicate, OBJECT_SEPARATOR.join(sorted(node for _, node in pairs)))]
        obj, valid = convert(attr.vr, attr.value)
        if valid:
            return [(predicate, obj)]
        return [(predicate, obj), (INVALID + predicate, predicate)]


def _lines(subject: str, key: str, obj: str) -> list[str]:
    # A key is a predicate term, maybe followed by a suffix that keeps keys unique.
    predicate = key[: key.index(">") + 1]
    return [triple(subject, predicate, o) for o in obj.split(OBJECT_SEPARATOR)]


def series_triples(records: Iterable[InstanceRecord]) -> list[str]:
    """Return the N-Triples lines of one series: shared values once, the rest per instance."""
    group = list(records)
    first = group[0]
    shared = dict(first.props)
    for record in group[1:]:
        for key, value in list(shared.items()):
            other = record.props.get(key)
            if other != value and (other is None or comparable(other) != comparable(value)):
                del shared[key]
    # No rdf:type for the hierarchy here: the curated layer states it, and a query over the
    # union of the graphs would otherwise see every type twice (Oxigraph does not merge them).
    lines = [
        triple(first.study, OF_PATIENT, first.patient),
        triple(first.series, IN_STUDY, first.study),
    ]
    for key, obj in shared.items():
        lines += _lines(first.series, key, obj)
    items: dict[str, list[tuple[str, str]]] = {}
    for record in group:
        lines.append(triple(record.instance, IN_SERIES, record.series))
        for key, obj in record.props.items():
            if key not in shared:
                lines += _lines(record.instance, key, obj)
        items.update(record.items)
    for node, pairs in items.items():
        for key, obj in pairs:
            lines += _lines(node, key, obj)
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

    def props(pairs: dict[str, list[str]]) -> dict[str, str]:
        result: dict[str, str] = {}
        for predicate, objs in pairs.items():
            if predicate == INVALID:
                result.update({INVALID + o: o for o in objs})
            elif predicate != IN_SERIES:
                result[predicate] = OBJECT_SEPARATOR.join(sorted(objs))
        return result

    shared = props(by_subject.pop(series, {}))
    return [
        InstanceRecord(patient, study, series, subject, {**shared, **props(pairs)})
        for subject, pairs in by_subject.items()
        if series in pairs.get(IN_SERIES, [])
    ]
