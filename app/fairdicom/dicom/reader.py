"""Read one DICOM file's header and de-identify it, without touching pixel data.

The result, :class:`InstanceHeader`, holds only what the profile keeps, as DICOM text: it is
the one form in which DICOM data leaves this package.

De-identification decides on the attribute, never on how it was encoded: every element is
read with the VR of the data dictionary when the file gives none (implicit VR), gives UN or
contradicts it (:mod:`fairdicom.dicom.vr`); sequences encoded as UN are parsed as sequences; text is
decoded in its character set (:mod:`fairdicom.dicom.charset`) before any decision, and a value that
cannot be read is removed and reported by tag, never kept as bytes. On top of the per-tag
actions of Table E.1-1, two rules hold for every attribute at every depth: a UI value that is
not a well-known UID is pseudonymised, and a DA or DT value is shifted by the patient's shift
(or removed, or kept, as the longitudinal option says).

Values are decoded once per distinct raw value and everything else the result depends on (a
series repeats most of them), not converted by pydicom one by one. That memo belongs to the
pseudonymizer (the secret) and the options it was made with, so it never outlives them.
Reading is bounded (:mod:`fairdicom.dicom.limits`) and every failure becomes a DicomReadError whose
reason quotes nothing from the file. The usual header (explicit VR little endian, as nearly every
modality writes) is read from its bytes in one pass (:mod:`fairdicom.dicom.header_bytes`), any
other by pydicom's ``dcmread``; both give the same dataset. The walk over the elements is in
:mod:`fairdicom.dicom.element_walk`, the conversion of one value in
:mod:`fairdicom.dicom.value_conversion`, the memo and what else a file's conversion depends on
in :mod:`fairdicom.dicom.read_context`.
"""

from __future__ import annotations

import io
import logging
import os
import warnings

import pydicom
import pydicom.config
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from fairdicom.dicom.charset import character_set
from fairdicom.dicom.deidentify import Profile, Pseudonymizer
from fairdicom.dicom.element_walk import CHARSET_TAG, walk
from fairdicom.dicom.header_bytes import read_explicit_little
from fairdicom.dicom.limits import DEFER_BYTES, Readable, failure_reason, parse_header
from fairdicom.dicom.read_context import ReadContext, memo_for, raw_element
from fairdicom.dicom.sources import Source
from fairdicom.dicom_model import InstanceHeader
from fairdicom.errors import DicomReadError

__all__ = ["NotDicom", "looks_like_dicom", "read_instance"]

# Reading never validates values: pydicom would log the offending value (which may be a
# patient's name or birth date) and we keep invalid values, flagged, in the raw layer anyway.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
# pydicom's log messages may quote values; they never leave this process.
_PYDICOM_LOG = logging.getLogger("pydicom")
_PYDICOM_LOG.propagate = False
_PYDICOM_LOG.addHandler(logging.NullHandler())

PIXEL_REPRESENTATION_TAG = 0x00280103
_TAGS = {
    keyword: int(tag_for_keyword(keyword) or 0)
    for keyword in (
        "SOPInstanceUID",
        "SeriesInstanceUID",
        "StudyInstanceUID",
        "PatientID",
        "IssuerOfPatientID",
    )
}
_REQUIRED = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")


class NotDicom(Exception):
    """The file is plainly not DICOM (skipped and counted, never an error)."""


def looks_like_dicom(head: bytes) -> bool:
    """Return True when the first bytes are a Part 10 preamble or a plausible raw dataset."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    group = int.from_bytes(head[0:2], "little")
    return (group in (0x0002, 0x0008) and head[4:6].isalpha()) or group == 0x0008


def read_instance(source: Source, profile: Profile, pseudonyms: Pseudonymizer) -> InstanceHeader:
    """Read, check and de-identify one file; raise NotDicom or DicomReadError."""
    with source.open() as handle:
        head = handle.read(132)
        if not head:
            raise DicomReadError("empty file")
        if os.path.basename(source.member or source.path).upper() == "DICOMDIR":
            raise NotDicom("DICOMDIR index (its files are read where they lie)")
        if not looks_like_dicom(head):
            raise NotDicom("not a DICOM file")
        handle.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = parse_header(handle, _parse)
                return _deidentify(ds, profile, pseudonyms)
            except DicomReadError:
                raise
            except Exception as exc:  # pydicom's, ours, MemoryError, RecursionError...
                reason = failure_reason(exc)
    # Raised outside the handler: the original exception (whose text may quote header bytes)
    # is not even chained to this one.
    raise DicomReadError(reason)


def _parse(stream: Readable) -> Dataset:
    """Parse a header up to its pixel data, long values skipped unread: from its bytes in one
    pass in the usual case, else by ``dcmread``."""
    if isinstance(stream, io.BytesIO):
        usual = read_explicit_little(stream.getvalue(), DEFER_BYTES)
        if usual is not None:
            dataset, end = usual
            stream.seek(end)  # where dcmread stops
            return dataset
    return pydicom.dcmread(stream, defer_size=DEFER_BYTES, stop_before_pixels=True, force=True)


def _text(ds: Dataset, keyword: str) -> str:
    """Return an attribute's text from its raw bytes when it has not been converted yet."""
    element = raw_element(ds, _TAGS[keyword])
    if element is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        return value.decode("latin-1").strip("\x00 ")
    return "" if value is None else str(value).strip()


def _pixel_signed(ds: Dataset) -> bool:
    """Return True when PixelRepresentation says pixel values are signed."""
    element = raw_element(ds, PIXEL_REPRESENTATION_TAG)
    value = None if element is None else element.value
    if isinstance(value, bytes):
        return len(value) >= 2 and (value[0] or value[1]) != 0
    return value == 1


def _deidentify(ds: Dataset, profile: Profile, pseudonyms: Pseudonymizer) -> InstanceHeader:
    """Return the de-identified header of a dataset read by pydicom."""
    identifiers = {keyword: _text(ds, keyword) for keyword in _REQUIRED}
    missing = [keyword for keyword in _REQUIRED if not identifiers[keyword]]
    if missing:
        raise DicomReadError(f"missing {', '.join(missing)}")
    notes: list[str] = []
    element = raw_element(ds, CHARSET_TAG)
    charset = character_set(None if element is None else element.value)
    if charset.unknown:
        notes.append(
            "SpecificCharacterSet (0008,0005) names a character set that is not defined: "
            "only plain ASCII text is kept"
        )
    patient_id = _text(ds, "PatientID")
    study = identifiers["StudyInstanceUID"]
    patient = (
        pseudonyms.patient(patient_id, _text(ds, "IssuerOfPatientID"))
        if patient_id
        else pseudonyms.patient("study:" + study)
    )
    context = ReadContext(
        patient=patient,
        profile=profile,
        pseudonyms=pseudonyms,
        charset=charset,
        dataset=ds,
        shift_days=pseudonyms.date_shift(patient),
        warnings=notes,
        memo=memo_for(profile, pseudonyms),
        signed=_pixel_signed(ds),
    )
    attrs = walk(ds, context, charset, 0)
    return InstanceHeader(
        patient=patient,
        study_uid=pseudonyms.uid(study),
        series_uid=pseudonyms.uid(identifiers["SeriesInstanceUID"]),
        instance_uid=pseudonyms.uid(identifiers["SOPInstanceUID"]),
        attrs=attrs,
        warnings=list(dict.fromkeys(notes)),
    )
