"""Write synthetic, realistic, header-only DICOM corpora that carry fictitious PHI.

Every file is a valid Part 10 file (explicit VR little endian) without PixelData; Rows and
Columns are those of the real image (:func:`add_pixel_data` puts a frame behind the header).
The same ``(patients, seed, instances_per_series)`` always gives byte-identical files: all
randomness comes from seeded ``random.Random`` instances and UIDs are ``2.25.`` decimals of
SHA-256 digests. Vocabularies live in ``synth_tables``.
"""

from __future__ import annotations

import hashlib
import random
import struct
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.uid import UID, ExplicitVRLittleEndian

from fairdicom.dicom import synth_tables as T
from fairdicom.dicom.synth_series import (
    CROSS_SECTIONAL,
    _ds,
    _Patient,
    _Series,
    _series_dataset,
    _Study,
    _tm,
    _uid,
)

# Identifying attributes written on every file (SR and SEG included).
PHI_KEYWORDS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "OtherPatientIDsSequence",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "StationName",
    "DeviceSerialNumber",
    "AccessionNumber",
    "StudyID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)
IMPLEMENTATION_UID = "2.25." + str(int.from_bytes(hashlib.sha256(b"fairdicom").digest()[:16]))
IMPLEMENTATION_VERSION = "FAIRDICOM_SYN1"


@dataclass(frozen=True)
class SynthSummary:
    """Count what :func:`write_corpus` wrote and list its files in writing order."""

    patients: int
    studies: int
    series: int
    instances: int
    files: list[Path]


def _family(k: int, pool: list[str]) -> str:
    """Return a distinct family name for every index ``k`` (double-barrelled past the pool)."""
    n = len(pool)
    if k < n:
        return pool[k]
    q, a = divmod(k - n, n)
    name = f"{pool[a]}-{pool[(a + 1 + q % (n - 1)) % n]}"  # two different names
    return name if q < n - 1 else f"{name}-{_family(q // (n - 1) - 1, pool)}"


def _series_kinds(rng: random.Random, modality: str, part: str) -> list[tuple[str, int]]:
    """Choose the (modality, variant) of each image series of a study."""
    if modality == "PT":  # PET/CT: the CT for attenuation correction, then AC (and NAC) PET
        return [("CT", 0)] + [("PT", v) for v in range(rng.randint(1, 2))]
    options = {
        "CT": len(T.CT_RECONS),
        "MR": len(T.MR_SEQUENCES.get(part, ())),
        "MG": 4,
        "US": len(T.US_VIEWS.get(part, ())),
    }.get(modality) or len(T.XR_VIEWS[part])
    chosen = rng.sample(range(options), rng.randint(1, min(4, options)))
    return [(modality, v) for v in sorted(chosen)]


def _plan(seed: int, patients: int, limits: tuple[int, int] | None) -> list[_Patient]:
    """Draw every patient, study and series of the corpus (no file is written)."""
    rng = random.Random(seed)
    cycle = rng.sample(T.STUDY_MODALITIES, len(T.STUDY_MODALITIES))
    counts = [rng.randint(1, 3) for _ in range(patients)]
    while sum(counts) < min(len(cycle), 3 * patients):  # room for every modality
        counts[min(range(patients), key=lambda i: (counts[i], i))] += 1
    pools = {
        False: rng.sample(T.FAMILY_NAMES, len(T.FAMILY_NAMES)),
        True: rng.sample(T.FAMILY_NAMES_UTF8, len(T.FAMILY_NAMES_UTF8)),
    }
    used = {False: 0, True: 0}
    pids = rng.sample(range(1_000_000, 10_000_000), patients)
    empis = rng.sample(range(10_000_000, 100_000_000), patients)
    accessions = rng.sample(range(10_000_000, 100_000_000), sum(counts))
    plan: list[_Patient] = []
    n_study = n_series = 0
    for i in range(patients):
        utf8 = i % 5 == 2  # a few patients in UTF-8 with names outside Latin-1
        family = _family(used[utf8], pools[utf8])
        used[utf8] += 1
        mods = [cycle[(n_study + j) % len(cycle)] for j in range(counts[i])]
        sex = "F" if "MG" in mods else rng.choice("FM")
        given = rng.choice(
            {
                (False, "F"): T.GIVEN_F,
                (False, "M"): T.GIVEN_M,
                (True, "F"): T.GIVEN_F_UTF8,
                (True, "M"): T.GIVEN_M_UTF8,
            }[utf8, sex]
        )
        day = date(2012, 1, 1) + timedelta(days=rng.randrange(3650))
        low, high = (42, 74) if "MG" in mods else (19, 88)
        birth = day - timedelta(days=rng.randint(low * 366, high * 365))
        inst = rng.choice(T.INSTITUTIONS)
        street = f"{rng.randint(2, 240)} {rng.choice(T.STREETS)} {rng.choice(T.STREET_TYPES)}"
        phone = f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        attrs = {
            "SpecificCharacterSet": "ISO_IR 192" if utf8 else "ISO_IR 100",
            "PatientName": f"{family}^{given}",
            "PatientID": f"PID-{pids[i]}",
            "IssuerOfPatientID": inst.issuer,
            "PatientBirthDate": f"{birth:%Y%m%d}",
            "PatientSex": sex,
            "PatientAddress": f"{street}, {inst.postcode} {inst.city}",
            "PatientTelephoneNumbers": phone,
            "EMPI": f"EMPI-{empis[i]}",
            "PatientSize": _ds(rng.uniform(1.52, 1.95), 2),
        }
        patient = _Patient(i, family, sex, birth, attrs, _ds(rng.uniform(52, 108), 1), inst)
        for j, mod in enumerate(mods):
            proc = rng.choice(T.PROCEDURES[mod])
            study = _Study(
                j,
                _uid(seed, "study", i, j),
                mod,
                proc,
                datetime.combine(day, time(7)) + timedelta(seconds=rng.randrange(11 * 3600)),
                f"ACC{accessions[n_study]}",
                f"ST{rng.randrange(10**6, 10**7)}",
                rng.choice(T.PHYSICIANS),
                rng.choice(T.PHYSICIANS),
                rng.choice(T.EQUIPMENT[mod]),
                rng.choice("LR") if proc.body_part in T.LATERAL_PARTS else "",
            )
            n_study += 1
            for number, (smod, variant) in enumerate(_series_kinds(rng, mod, proc.body_part), 1):
                low_i, high_i = limits or T.DEFAULT_INSTANCES[smod]
                study.series.append(
                    _Series(
                        _uid(seed, "series", i, j, number),
                        number,
                        smod,
                        variant,
                        rng.randint(low_i, high_i),
                        n_series % 7 == 3,
                        n_series % 3 == 1,
                    )
                )
                n_series += 1
            patient.studies.append(study)
            day += timedelta(days=rng.randint(20, 700))
        plan.append(patient)
    if patients >= 2:  # exactly one SR and one SEG instance in the corpus
        plan[0].studies[0].series.append(_Series(_uid(seed, "sr"), 900, "SR", 0, 1))
        hosts = [s for p in plan[1:] for s in p.studies if s.modality in CROSS_SECTIONAL]
        host = hosts[0] if hosts else plan[1].studies[0]
        host.series.append(_Series(_uid(seed, "seg"), 950, "SEG", 0, 1, source=host.series[-1]))
    return plan


def _encode(ds: Dataset) -> list[tuple[int, bytes]]:
    """Encode each top-level element of a dataset (explicit VR little endian)."""
    encoded = []
    for tag in sorted(ds.keys()):
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_data_element(fp, ds[tag], ds.get("SpecificCharacterSet"))
        encoded.append((int(tag), fp.getvalue()))
    return encoded


def _element(tag: int, vr: str, value: str) -> bytes:
    """Encode one short per-instance element (explicit VR little endian)."""
    if vr == "US":
        return struct.pack("<HH2sHH", tag >> 16, tag & 0xFFFF, b"US", 2, int(value))
    data = value.encode("ascii")
    data += (b"\0" if vr == "UI" else b" ") * (len(data) % 2)
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(data)) + data


def _write_series(out: Path, p: _Patient, st: _Study, se: _Series) -> list[Path]:
    """Write one series by encoding its dataset once and splicing in per-instance elements."""
    # The bytes equal those of Dataset.save_as(path, enforce_file_format=True) (a test checks
    # it); encoding the shared elements once per series is what makes the generator fast.
    derived = se.number >= 900  # SR and SEG are made a couple of hours after the images
    seconds = 7200 + 60 * (se.number - 900) if derived else 150 * se.number + int(se.uid[-2:])
    start = st.start + timedelta(seconds=seconds)
    ds, patch = _series_dataset(p, st, se, start)
    shared = _encode(ds)
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = UID(T.SOP_CLASS[se.modality])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(IMPLEMENTATION_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    meta_parts = [e for _, e in _encode(meta)]  # (0002,0003) goes between the 2nd and 3rd
    folder = out / f"patient{p.index + 1:04d}" / f"study{st.index + 1:02d}"
    folder = folder / f"series{se.number:03d}-{se.modality}"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(1, se.count + 1):
        uid, when = _uid(se.uid, k), _tm(start + timedelta(milliseconds=373 * k), fraction=True)
        varying = [(0x00080018, "UI", uid), (0x00080033, "TM", when), (0x00200013, "IS", str(k))]
        if "AcquisitionDate" in ds:
            varying.append((0x00080032, "TM", when))
        varying += patch(k) if patch else []
        body = sorted(shared + [(tag, _element(tag, vr, v)) for tag, vr, v in varying])
        group = b"".join([*meta_parts[:2], _element(0x00020003, "UI", uid), *meta_parts[2:]])
        head = b"\0" * 128 + b"DICM" + struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(group))
        path = folder / f"{k:04d}.dcm"
        path.write_bytes(head + group + b"".join(e for _, e in body))
        files.append(path)
    return files


def write_corpus(
    out: Path, patients: int, seed: int = 0, *, instances_per_series: tuple[int, int] | None = None
) -> SynthSummary:
    """Write a synthetic corpus of ``patients`` patients under ``out`` and summarise it."""
    low, high = instances_per_series or (1, 1)
    if patients < 1 or not 1 <= low <= high:
        raise ValueError("need patients >= 1 and instances_per_series (min, max), 1 <= min <= max")
    plan = _plan(seed, patients, instances_per_series)
    studies = [st for p in plan for st in p.studies]
    files = [
        f
        for p in plan
        for st in p.studies
        for se in st.series
        for f in _write_series(Path(out), p, st, se)
    ]
    return SynthSummary(
        len(plan), len(studies), sum(len(st.series) for st in studies), len(files), files
    )


def add_pixel_data(files: list[Path], kib: int) -> None:
    """Give each image (each file but SR documents) one square 16-bit frame of about ``kib``
    KiB behind its header, as real files carry it (a CT slice of 512 x 512: 512 KiB)."""
    side = int((kib * 1024 / 2) ** 0.5)
    for path in files:
        ds = pydicom.dcmread(path)
        if ds.get("Modality") == "SR":
            continue
        ds.Rows = ds.Columns = side
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PixelData = bytes(side * side * 2)
        ds["PixelData"].VR = "OW"
        ds.save_as(path)
