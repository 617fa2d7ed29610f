"""The PROV-O record of an ingest run: who, when, what, software and mapping version, counts."""

from __future__ import annotations

import getpass
from datetime import datetime

from fairdicom import __version__
from fairdicom.ingest.summary import IngestSummary
from fairdicom.namespaces import DCM, FD, OWL, PROV, RDF, RDFS, XSD, DataIris
from fairdicom.rdf.terms import iri, literal, triple

COUNTS = {
    "filesSeen": "files_seen",
    "filesIngested": "ingested",
    "filesSkipped": "skipped",
    "filesRejected": "rejected",
    "instancesQuarantined": "quarantined_instances",
    "seriesQuarantined": "quarantined_series",
    "triplesWritten": "triples_written",
}


def _when(moment: datetime) -> str:
    return literal(moment.isoformat(timespec="seconds"), XSD + "dateTime")


def run_record(
    iris: DataIris,
    run_id: str,
    dataset: str,
    started: datetime,
    ended: datetime,
    summary: IngestSummary,
    mapping_version: str,
    method_codes: list[str],
) -> list[str]:
    """Return the N-Triples lines that describe one ingest run."""
    run = iri(iris.run(run_id))
    software = iri(iris.resource("software", f"fairdicom-{__version__}"))
    mappings = iri(iris.resource("mapping-set", mapping_version))
    operator = iri(iris.resource("agent", getpass.getuser()))
    a = iri(RDF + "type")
    lines = [
        triple(run, a, iri(PROV + "Activity")),
        triple(run, a, iri(FD + "IngestRun")),
        triple(run, iri(PROV + "startedAtTime"), _when(started)),
        triple(run, iri(PROV + "endedAtTime"), _when(ended)),
        triple(run, iri(PROV + "wasAssociatedWith"), software),
        triple(run, iri(PROV + "wasAssociatedWith"), operator),
        triple(run, iri(PROV + "used"), mappings),
        triple(run, iri(FD + "dataset"), iri(iris.dataset(dataset))),
        triple(software, a, iri(PROV + "SoftwareAgent")),
        triple(software, iri(RDFS + "label"), literal(f"fairdicom {__version__}")),
        triple(software, iri(OWL + "versionInfo"), literal(__version__)),
        triple(operator, a, iri(PROV + "Person")),
        triple(mappings, a, iri(PROV + "Entity")),
        triple(mappings, iri(OWL + "versionInfo"), literal(mapping_version)),
    ]
    lines += [
        triple(run, iri(FD + "deidentificationMethod"), iri(DCM + code)) for code in method_codes
    ]
    lines += [
        triple(run, iri(FD + name), literal(str(getattr(summary, field)), XSD + "integer"))
        for name, field in COUNTS.items()
    ]
    return lines
