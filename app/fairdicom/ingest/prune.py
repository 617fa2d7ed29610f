"""Remove whole studies from a dataset: what a harvest with ``--prune`` does to a study that
was deleted on its source.

Every triple of the study's series and instances goes from the raw, curated and quarantine
graphs, with the study node itself, in one transaction; the nodes they referred to (sequence
items, equipment, the patient) go too when nothing refers to them any more. A patient who keeps
other studies has its curated triples computed again from the series it keeps (its sex, for
one, came from all of its studies): those series are written again from the store, as a
re-ingest of them would (one transaction per patient), so they are validated again too.
"""

from __future__ import annotations

from fairdicom.ingest.batch import BatchWriter
from fairdicom.ingest.plan import BatchGraphs, referenced_levels, stored_items
from fairdicom.namespaces import DataIris
from fairdicom.rdf.mapping import MappingSet
from fairdicom.rdf.raw import IN_SERIES, IN_STUDY, OF_PATIENT, InstanceRecord, records_from_store
from fairdicom.store import GraphStore


def dataset_graphs(iris: DataIris, dataset: str) -> BatchGraphs:
    """Return the raw, curated and quarantine graphs of a dataset."""
    return BatchGraphs(
        iris.graph(dataset, "raw"),
        iris.graph(dataset, "curated"),
        iris.graph(dataset, "quarantine"),
    )


def remove_studies(
    store: GraphStore, iris: DataIris, dataset: str, studies: list[str], mappings: MappingSet
) -> int:
    """Remove studies (IRI terms) and everything derived from them, then curate their patients
    again from the series they keep; return the instances removed."""
    if not studies:
        return 0
    graphs = dataset_graphs(iris, dataset)
    patients = {
        obj
        for graph in (graphs.raw, graphs.quarantine)
        for _, predicate, obj in store.triples_of(set(studies), graph)
        if predicate == OF_PATIENT
    }
    members: list[str] = list(studies)
    instances: set[str] = set()
    for graph in (graphs.raw, graphs.quarantine, graphs.curated):
        series = [s for s, _ in store.subjects_with(IN_STUDY, studies, graph)]
        found = [i for i, _ in store.subjects_with(IN_SERIES, series, graph)]
        members += series + found
        instances.update(found)
    members = sorted(set(members))
    levels = referenced_levels(store, graphs, members, iris.base + "id/")
    deletes = dict.fromkeys(graphs.all, members)
    store.replace(deletes, {}, dict.fromkeys(graphs.all, levels))
    store.flush()
    writer = BatchWriter(store, iris, dataset, mappings)
    for patient in sorted(patients):
        records = _kept_records(store, graphs, patient, writer.data_prefix)
        if records:
            writer.write(records)
    return len(instances)


def _kept_records(
    store: GraphStore, graphs: BatchGraphs, patient: str, data_prefix: str
) -> list[InstanceRecord]:
    """Return the records of every series a patient still has (raw or quarantined), with
    their sequence items, rebuilt from the store."""
    records: list[InstanceRecord] = []
    for graph in (graphs.raw, graphs.quarantine):
        studies = [study for study, _ in store.subjects_with(OF_PATIENT, [patient], graph)]
        for series, study in sorted(store.subjects_with(IN_STUDY, studies, graph)):
            found = [i for i, _ in store.subjects_with(IN_SERIES, [series], graph)]
            rows = store.triples_of([series, *found], graph)
            kept = records_from_store(series, study, patient, rows)
            if kept:
                kept[0].items = stored_items(store, graph, {o for _, _, o in rows}, data_prefix)
            records += kept
    return records
