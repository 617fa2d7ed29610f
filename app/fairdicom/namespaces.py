"""IRIs of the vocabularies fairdicom uses and mints.

Vocabulary namespaces are fixed (they name terms, not data); data IRIs live under the
configurable ``base_iri`` and are built by :class:`DataIris`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

FD = "https://w3id.org/fairdicom/ontology#"
"""The core ontology: Patient, Study, Series, Instance, Equipment and curated properties."""
DCMTAG = "https://w3id.org/fairdicom/dicom#"
"""One property per DICOM data-dictionary attribute, named by keyword."""
DCMPRIV = "https://w3id.org/fairdicom/dicom/private/"
"""Private attributes: ``DCMPRIV + quote(creator) + '#' + 'ggggxxee'``."""
VR = "https://w3id.org/fairdicom/vr#"
"""Datatypes for DICOM values that no XSD type holds losslessly (multi-values, partial times)."""
DCM = "http://dicom.nema.org/resources/ontology/DCM/"
SCT = "http://snomed.info/id/"
SEDI = "http://semantic-dicom.org/dcm#"
FHIR = "http://hl7.org/fhir/"
QUDT = "http://qudt.org/schema/qudt/"
UNIT = "http://qudt.org/vocab/unit/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PROV = "http://www.w3.org/ns/prov#"
DCT = "http://purl.org/dc/terms/"
SH = "http://www.w3.org/ns/shacl#"

PREFIXES: dict[str, str] = {
    "fd": FD,
    "dcmtag": DCMTAG,
    "vr": VR,
    "dcm": DCM,
    "sct": SCT,
    "sedi": SEDI,
    "fhir": FHIR,
    "qudt": QUDT,
    "unit": UNIT,
    "xsd": XSD,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "skos": SKOS,
    "prov": PROV,
    "dct": DCT,
}


def private_attribute(creator: str, group: int, element: int) -> str:
    """Return the property IRI of a private attribute, keyed by its private creator."""
    return f"{DCMPRIV}{quote(creator.strip(), safe='')}#{group:04X}xx{element & 0xFF:02X}"


@dataclass(frozen=True)
class DataIris:
    """Build the IRIs of data (resources and graphs) under one base IRI."""

    base: str

    def __post_init__(self) -> None:
        if not self.base.endswith("/"):
            object.__setattr__(self, "base", self.base + "/")

    def resource(self, kind: str, key: str) -> str:
        """Return ``{base}id/{kind}/{key}`` (kind: patient, study, series, instance, ...)."""
        return f"{self.base}id/{kind}/{key}"

    def graph(self, dataset: str, layer: str) -> str:
        """Return the named graph of one dataset's layer (raw, curated, quarantine)."""
        return f"{self.base}graph/{dataset}/{layer}"

    def harvest_graph(self, dataset: str) -> str:
        """Return the named graph of the DICOMweb harvest state of a dataset's sources (it
        names the dataset's studies: it belongs to the dataset, for access as for the rest)."""
        return self.graph(dataset, "harvest")

    @property
    def provenance_graph(self) -> str:
        return f"{self.base}graph/provenance"

    def run(self, run_id: str) -> str:
        return f"{self.base}id/run/{run_id}"

    def dataset(self, dataset: str) -> str:
        return f"{self.base}id/dataset/{dataset}"
