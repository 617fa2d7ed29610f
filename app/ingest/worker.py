"""The per-file work of an ingest, run in worker processes: read, de-identify, convert."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import DeidOptions
from app.dicom.deidentify import Profile, Pseudonymizer
from app.dicom.reader import NotDicom, read_instance
from app.dicom.sources import Source
from app.errors import DicomReadError
from app.namespaces import DataIris
from app.rdf.raw import InstanceRecord, RawConverter


@dataclass
class Outcome:
    """What became of one file: a record, or the reason it was skipped or rejected."""

    source: str
    record: InstanceRecord | None = None
    skipped: str = ""
    rejected: str = ""


class FileWorker:
    """Everything one process needs to turn files into raw-layer records."""

    def __init__(self, base_iri: str, secret: str, options: DeidOptions) -> None:
        self.pseudonyms = Pseudonymizer(secret)
        self.profile = Profile(options)
        self.converter = RawConverter(DataIris(base_iri), self.pseudonyms.token)

    def __call__(self, source: Source) -> Outcome:
        """Process one file; never raise for a bad file."""
        try:
            header = read_instance(source, self.profile, self.pseudonyms)
        except NotDicom as exc:
            return Outcome(str(source), skipped=str(exc))
        except DicomReadError as exc:
            return Outcome(str(source), rejected=str(exc))
        except OSError as exc:
            return Outcome(str(source), rejected=f"cannot read file: {exc.strerror or exc}")
        return Outcome(str(source), record=self.converter.record(header))


_WORKER: FileWorker | None = None


def init_worker(base_iri: str, secret: str, options: DeidOptions) -> None:
    """Set up this worker process (multiprocessing initializer)."""
    global _WORKER
    _WORKER = FileWorker(base_iri, secret, options)


def process_in_worker(source: Source) -> Outcome:
    """Process one file in a worker set up by init_worker."""
    assert _WORKER is not None, "init_worker was not called"
    return _WORKER(source)
