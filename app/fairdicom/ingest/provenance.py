"""The PROV-O record of an ingest run: who, when, what, software and mapping version, counts."""

from __future__ import annotations

import hashlib
import re
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


_ABSOLUTE_IRI = re.compile(r"https?://[^\s<>\"{}|^`\\]+")
"""An operator given as an IRI (an ORCID, a web page) is used as the agent's IRI."""


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
    operator: str = "",
) -> list[str]:
    """Return the N-Triples lines that describe one ingest run; the run is associated with
    the software and, when the ``operator`` setting names one, with that agent (never with
    the account that happens to run the process)."""
    run = iri(iris.run(run_id))
    software = iri(iris.resource("software", f"fairdicom-{__version__}"))
    mappings = iri(iris.resource("mapping-set", mapping_version))
    a = iri(RDF + "type")
    lines = [
        triple(run, a, iri(PROV + "Activity")),
        triple(run, a, iri(FD + "IngestRun")),
        triple(run, iri(PROV + "startedAtTime"), _when(started)),
        triple(run, iri(PROV + "endedAtTime"), _when(ended)),
        triple(run, iri(PROV + "wasAssociatedWith"), software),
        triple(run, iri(PROV + "used"), mappings),
        triple(run, iri(FD + "dataset"), iri(iris.dataset(dataset))),
        triple(software, a, iri(PROV + "SoftwareAgent")),
        triple(software, iri(RDFS + "label"), literal(f"fairdicom {__version__}")),
        triple(software, iri(OWL + "versionInfo"), literal(__version__)),
        triple(mappings, a, iri(PROV + "Entity")),
        triple(mappings, iri(OWL + "versionInfo"), literal(mapping_version)),
    ]
    if operator:
        lines += _operator(iris, run, operator)
    lines += [
        triple(run, iri(FD + "deidentificationMethod"), iri(DCM + code)) for code in method_codes
    ]
    lines += [
        triple(run, iri(FD + name), literal(str(getattr(summary, field)), XSD + "integer"))
        for name, field in COUNTS.items()
    ]
    return lines


def _operator(iris: DataIris, run: str, operator: str) -> list[str]:
    """Return the lines that name the operator: an IRI as given (an ORCID, a web page), or a
    name as the label of an agent minted from it."""
    if _ABSOLUTE_IRI.fullmatch(operator):
        agent = iri(operator)
        lines = []
    else:
        key = hashlib.sha256(operator.encode()).hexdigest()[:16]
        agent = iri(iris.resource("agent", key))
        lines = [triple(agent, iri(RDFS + "label"), literal(operator))]
    return [
        triple(run, iri(PROV + "wasAssociatedWith"), agent),
        triple(agent, iri(RDF + "type"), iri(PROV + "Agent")),
        *lines,
    ]
