"""Fetch one study over DICOMweb into the spool: its series (QIDO-RS), every instance's
metadata (WADO-RS), and the bulk data the profile may keep. A study is fetched whole or not
at all: what fails is the reason, never an exception."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairdicom.dicom.deidentify import Profile, Pseudonymizer
from fairdicom.dicom.dicom_json import (
    MAX_BULK_BYTES,
    DicomJsonSource,
    load_instance,
    spool_text,
    wanted_bulk_data,
)
from fairdicom.dicom.dicomweb import DicomwebClient, count_of, series_uid, study_uid
from fairdicom.errors import SourceError
from fairdicom.namespaces import DataIris
from fairdicom.rdf.terms import iri

VOLATILE = frozenset({"00081190", "00080056"})
"""QIDO-RS attributes left out of a study's fingerprint: RetrieveURL (names the server as it
was reached) and InstanceAvailability (says nothing about the content)."""


@dataclass
class ListedStudy:
    """One listed study: its original UID (never stored), its IRI and its fingerprint."""

    uid: str
    iri: str
    label: str
    instances: int | None
    series: int | None
    fingerprint: str


@dataclass
class FetchedStudy:
    """The spooled instances of one study, or why it could not be fetched."""

    sources: list[DicomJsonSource] = field(default_factory=list)
    series: int = 0
    failure: str = ""


def listed_study(
    found: dict[str, Any], endpoint: str, secret: str, pseudonyms: Pseudonymizer, iris: DataIris
) -> ListedStudy | None:
    """Return a listed study with its pseudonymised IRI and keyed fingerprint."""
    uid = study_uid(found)
    if not uid:
        return None
    pseudonym = pseudonyms.uid(uid)
    kept = {k: v for k, v in sorted(found.items()) if k not in VOLATILE}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":")).encode("utf-8")
    fingerprint = hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()[:32]
    study = iri(iris.resource("study", pseudonym))
    return ListedStudy(
        uid,
        study,
        study_label(endpoint, study),
        count_of(found, "00201208"),
        count_of(found, "00201206"),
        fingerprint,
    )


def study_label(endpoint: str, study: str) -> str:
    """Name a study in reports: the source and the pseudonymised UID, never the original."""
    return f"{endpoint} study {study.strip('<>').rsplit('/', 1)[-1]}"


def fetch_study(
    client: DicomwebClient, study: ListedStudy, spool: Path, profile: Profile
) -> FetchedStudy:
    """Fetch the metadata of every series of a study into the spool; never raise."""
    fetched = FetchedStudy()
    try:
        series = client.series(study.uid)
        fetched.series = len(series)
        if not series and study.instances:
            raise SourceError("QIDO-RS lists no series for a study with instances")
        folder = spool / uuid.uuid4().hex
        folder.mkdir()
        for index, found in enumerate(series, 1):
            texts = client.series_metadata(study.uid, series_uid(found))
            announced = count_of(found, "00201209")
            if announced is not None and len(texts) < announced:
                raise SourceError(
                    f"WADO-RS series metadata: cut off ({len(texts)} of {announced} instances "
                    f"in series {index})"
                )
            for number, text in enumerate(texts, 1):
                bulk = _bulk_data(client, text, profile)
                path = folder / f"{index}-{number}.json"
                path.write_text(spool_text(text, bulk), encoding="utf-8")
                label = f"{study.label} series {index} instance {number}"
                fetched.sources.append(DicomJsonSource(str(path), label=label))
    except SourceError as exc:
        return FetchedStudy(series=fetched.series, failure=str(exc))
    except OSError as exc:
        return FetchedStudy(
            failure=f"cannot spool the metadata: {exc.strerror or type(exc).__name__}"
        )
    except Exception as exc:  # a bug costs the study, not the run; no message (it may quote)
        return FetchedStudy(failure=f"internal error ({type(exc).__name__}) while fetching")
    return fetched


def _bulk_data(client: DicomwebClient, text: str, profile: Profile) -> dict[str, bytes]:
    """Fetch the bulk data of an instance that the reader may keep (most instances have none)."""
    if '"BulkDataURI"' not in text:
        return {}
    instance = load_instance(text)
    if not isinstance(instance, dict):
        return {}  # malformed: the reader rejects it with the reason
    found: dict[str, bytes] = {}
    for path, uri in wanted_bulk_data(instance, profile):
        data = client.bulk_data(uri, MAX_BULK_BYTES)
        if data is not None:
            found[path] = data
    return found
