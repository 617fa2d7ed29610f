"""One synthetic series of each modality: the plan records and the dataset builders.

:mod:`fairdicom.dicom.synth` plans a corpus with these records and writes the files.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pydicom.dataset import Dataset

from fairdicom.dicom import synth_tables as T

CROSS_SECTIONAL = frozenset({"CT", "MR", "PT"})

Element = tuple[int, str, str]  # (tag, VR, value) of an element that changes per instance
Patch = Callable[[int], list[Element]]


@dataclass
class _Series:
    uid: str
    number: int
    modality: str
    variant: int  # index into the modality's table of reconstructions, sequences or views
    count: int
    with_name: bool = False
    private: bool = False
    source: _Series | None = None  # the image series a SEG is derived from


@dataclass
class _Study:
    index: int
    uid: str
    modality: str
    proc: T.Procedure
    start: datetime
    accession: str
    study_id: str
    referring: str
    performing: str
    equipment: T.Equipment
    laterality: str
    series: list[_Series] = field(default_factory=list)


@dataclass
class _Patient:
    index: int
    family: str
    sex: str
    birth: date
    attrs: dict[str, str]  # patient-level attributes written as they are
    weight: str
    institution: T.Institution
    studies: list[_Study] = field(default_factory=list)


@dataclass(frozen=True)
class _Geom:
    rows: int
    cols: int
    fov: float
    spacing: str
    thickness: str = ""
    iop: tuple[str, ...] = ()
    normal: tuple[int, int, int] = (0, 0, 1)
    origin: tuple[float, ...] = (0.0, 0.0, 0.0)
    step: float = 0.0

    def position(self, k: int) -> list[str]:
        """Return ImagePositionPatient of slice ``k`` (1-based) as DS strings."""
        pairs = zip(self.origin, self.normal, strict=True)
        return [_ds(o + n * self.step * (k - 1), 4) for o, n in pairs]


def _uid(*parts: object) -> str:
    """Return a deterministic ``2.25.`` UID for a path of identifiers."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16]))


def _ds(value: float, digits: int = 6) -> str:
    """Format a number as a short DS string."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _tm(when: datetime, fraction: bool = False) -> str:
    """Format a time as TM, with milliseconds when asked."""
    return f"{when:%H%M%S}" + (f".{when.microsecond // 1000:03d}" if fraction else "")


def _code(code: T.Code) -> Dataset:
    """Return a code sequence item."""
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code
    return item


def age_on(birth: date, day: date) -> int:
    """Return the age in completed years on a day."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _ct_recon(study: _Study, series: _Series) -> tuple[str, bool]:
    """Return (SliceThickness, sharp kernel?) of a CT series."""
    return ("3.0", False) if study.modality == "PT" else T.CT_RECONS[series.variant]


def _geometry(study: _Study, series: _Series) -> _Geom:
    """Return the deterministic image geometry of a series."""
    r = random.Random(series.uid + "/geometry")
    part, plane, sign = study.proc.body_part, "TRA", 1.0
    if series.modality not in CROSS_SECTIONAL:
        rows, cols, spacing = T.PROJECTION_PIXELS[series.modality]
        return _Geom(rows, cols, 0.0, spacing)
    if series.modality == "MR":
        seq = T.MR_SEQUENCES[part][series.variant]
        size, fov, plane = seq.matrix, r.choice((160.0, 200.0, 240.0)), seq.plane
        thickness, gap = seq.thickness, float(seq.thickness) * 1.1
    elif series.modality == "PT":
        size, fov, thickness, gap = 200, 814.0, "3.0", 3.0
    else:  # CT, slices go feet-wards
        size, fov = 512, float(r.randint(*T.CT_FOV.get(part, (320, 450))))
        thickness, sign = _ct_recon(study, series)[0], -1.0
        gap = float(thickness)
    iop, normal = T.PLANES[plane]
    center = (r.uniform(-15, 15), r.uniform(-40, 20), r.uniform(-250, 60))
    half = (series.count - 1) * gap * sign / 2
    axes = zip(center, map(float, iop[:3]), map(float, iop[3:]), normal, strict=True)
    origin = tuple(c - (a + b) * fov / 2 - n * half for c, a, b, n in axes)
    return _Geom(size, size, fov, _ds(fov / size), thickness, iop, normal, origin, gap * sign)


def _slices(ds: Dataset, study: _Study, g: _Geom) -> Patch:
    """Write plane geometry and return the per-slice patch."""
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = _uid(study.uid, "frame"), ""
    ds.ImageOrientationPatient, ds.PixelSpacing = list(g.iop), [g.spacing, g.spacing]
    ds.SliceThickness = g.thickness

    def patch(k: int) -> list[Element]:
        position = g.position(k)
        location = sum(float(p) * n for p, n in zip(position, g.normal, strict=True))
        return [(0x00200032, "DS", "\\".join(position)), (0x00201041, "DS", _ds(location, 4))]

    return patch


def _ct(ds: Dataset, p: _Patient, st: _Study, se: _Series, r: random.Random) -> Patch | None:
    part, (thickness, sharp), g = st.proc.body_part, _ct_recon(st, se), _geometry(st, se)
    kernel = st.equipment.kernels[0 if sharp else 1]
    ds.SeriesDescription = f"CT {T.REGION_LABEL[part]} {thickness} {kernel}"
    ds.KVP = "120" if part in ("HEAD", "WHOLEBODY") else r.choice(("100", "120"))
    ds.XRayTubeCurrent, ds.ExposureTime = r.randint(80, 420), r.randint(500, 1000)
    ds.Exposure, ds.ConvolutionKernel = r.randint(40, 300), kernel
    ds.ReconstructionDiameter, ds.TableHeight = _ds(g.fov), _ds(r.uniform(120, 180), 1)
    ds.SpiralPitchFactor, ds.CTDIvol = r.choice((0.6, 0.8, 1.0)), round(r.uniform(2, 60), 2)
    if " W " in f" {st.proc.description} ":
        ds.ContrastBolusAgent = "Iomeprol 350"
    ds.PatientWeight = p.weight
    ds.WindowCenter, ds.WindowWidth = T.CT_WINDOWS[part, sharp]
    return _slices(ds, st, g)


def _mr(ds: Dataset, p: _Patient, st: _Study, se: _Series, r: random.Random) -> Patch | None:
    part, g = st.proc.body_part, _geometry(st, se)
    seq, tesla = T.MR_SEQUENCES[part][se.variant], st.equipment.field
    ds.SeriesDescription, ds.SequenceName = seq.description, seq.name
    ds.ImageType = ["ORIGINAL", "PRIMARY", "DIFFUSION" if "diff" in seq.description else "M", "ND"]
    ds.ScanningSequence, ds.SequenceVariant = list(seq.scanning), list(seq.variant)
    ds.MRAcquisitionType, ds.RepetitionTime, ds.EchoTime = seq.acq_type, seq.tr, seq.te
    ds.FlipAngle, ds.NumberOfAverages = seq.flip, r.choice(("1", "2"))
    if seq.ti:
        ds.InversionTime = seq.ti
    ds.MagneticFieldStrength, ds.ImagingFrequency = tesla, _ds(42.577478 * float(tesla))
    train = seq.name.rsplit("_", 1)[-1]
    ds.EchoTrainLength = int(train) if "tse" in seq.name or "tir" in seq.name else 1
    ds.SpacingBetweenSlices, ds.PixelBandwidth = _ds(g.step, 3), r.choice(("130", "200", "260"))
    ds.ReceiveCoilName, ds.AcquisitionMatrix = T.MR_COIL[part], [g.cols, 0, 0, g.rows]
    ds.SAR, ds.PatientWeight = _ds(r.uniform(0.2, 2.8), 4), p.weight
    ds.PatientPosition = "FFS" if part == "KNEE" else "HFS"
    center = r.randint(200, 900)
    ds.WindowCenter, ds.WindowWidth = str(center), str(2 * center + r.randint(0, 200))
    return _slices(ds, st, g)


def _pt(ds: Dataset, p: _Patient, st: _Study, se: _Series, r: random.Random) -> Patch | None:
    g, ac = _geometry(st, se), se.variant == 0
    ds.SeriesDescription = "PET WB FDG AC" if ac else "PET WB FDG NAC"
    ds.CorrectedImage = ["NORM", "DTIM", "RAN", "DECY"] + (["SCAT", "ATTN"] if ac else [])
    ds.ReconstructionMethod = "OSEM3D 4i5s" if ac else "OSEM3D 4i5s NAC"
    ds.AttenuationCorrectionMethod = "measured,CTAC" if ac else "NONE"
    ds.NumberOfSlices, ds.DecayFactor = se.count, _ds(r.uniform(1.1, 1.4), 5)
    ds.PatientWeight, ds.PatientSize = p.weight, p.attrs["PatientSize"]
    drug = Dataset()
    drug.Radiopharmaceutical = "Fludeoxyglucose"
    drug.RadiopharmaceuticalStartTime = _tm(st.start - timedelta(minutes=r.randint(55, 75)))
    drug.RadionuclideTotalDose = str(r.randint(180, 400) * 1_000_000)
    drug.RadionuclideHalfLife, drug.RadionuclidePositronFraction = "6586.2", "0.9673"
    drug.RadionuclideCodeSequence = [_code(T.RADIONUCLIDE)]
    drug.RadiopharmaceuticalCodeSequence = [_code(T.RADIOPHARMACEUTICAL)]
    ds.RadiopharmaceuticalInformationSequence = [drug]
    geometry = _slices(ds, st, g)

    def patch(k: int) -> list[Element]:
        slope = _ds(0.5 + (k * 7919 % 997) / 131)  # differs per slice, as on real scanners
        return [*geometry(k), (0x00281053, "DS", slope), (0x00541330, "US", str(k))]

    return patch


def _xr(ds: Dataset, p: _Patient, st: _Study, se: _Series, r: random.Random) -> Patch | None:
    part, spacing, suffix = st.proc.body_part, T.PROJECTION_PIXELS[se.modality][2], ""
    if se.modality == "MG":
        view = T.MG_VIEWS[se.variant]
        ds.ViewCodeSequence = [_code(T.MG_VIEW_CODES[view.position])]
        ds.KVP, ds.OrganDose = str(r.randint(26, 34)), _ds(r.uniform(0.8, 2.5), 4)
        ds.BodyPartThickness = _ds(r.uniform(35, 75), 1)
        ds.CompressionForce = _ds(r.uniform(60, 140), 1)
        ds.ImageLaterality = view.laterality
    else:
        view = T.XR_VIEWS[part][se.variant]
        suffix = {"L": " LEFT", "R": " RIGHT"}.get(st.laterality, "")
        ds.KVP = "125" if part == "CHEST" else str(r.randint(55, 80))
        ds.DistanceSourceToDetector = "1800" if part == "CHEST" else "1150"
        if se.modality == "DX":
            ds.ImageLaterality = st.laterality or "U"
    ds.SeriesDescription = view.description + suffix
    ds.ViewPosition, ds.PatientOrientation = view.position, list(view.orientation)
    ds.XRayTubeCurrent, ds.ExposureTime = r.randint(100, 500), r.randint(5, 400)
    ds.Exposure = r.randint(2, 200)
    ds.ImagerPixelSpacing = ds.PixelSpacing = [spacing, spacing]
    return None


def _us(ds: Dataset, p: _Patient, st: _Study, se: _Series, r: random.Random) -> Patch | None:
    part = st.proc.body_part
    ds.SeriesDescription = "US " + T.US_VIEWS[part][se.variant]
    ds.ImageType = ["ORIGINAL", "PRIMARY", T.US_IMAGE_TYPE[part]]
    ds.TransducerData = r.choice(("C1-6-D", "ML6-15-D", "C5-1"))
    region, delta = Dataset(), r.choice((0.0123, 0.0089, 0.0146))  # cm per pixel
    for keyword, value in T.US_REGION.items():
        setattr(region, keyword, value)
    region.PhysicalDeltaX = region.PhysicalDeltaY = delta
    ds.SequenceOfUltrasoundRegions = [region]
    return None


def _reference(series: _Series, k: int) -> Dataset:
    """Return an item referencing instance ``k`` of a series."""
    item = Dataset()
    item.ReferencedSOPClassUID = T.SOP_CLASS[series.modality]
    item.ReferencedSOPInstanceUID = _uid(series.uid, k)
    return item


def _sr(ds: Dataset, p: _Patient, st: _Study, se: _Series, r: random.Random) -> Patch | None:
    ds.ConceptNameCodeSequence = [_code(T.SR_TITLE)]
    observer = Dataset()
    observer.VerifyingObserverName = st.referring
    observer.VerifyingOrganization = p.institution.name
    observer.VerificationDateTime = f"{st.start + timedelta(hours=3):%Y%m%d%H%M%S}"
    observer.VerifyingObserverIdentificationCodeSequence = []
    ds.VerifyingObserverSequence, ds.ReferencedPerformedProcedureStepSequence = [observer], []
    ds.PerformedProcedureCodeSequence = [_code(st.proc.code)]
    evidence, series = Dataset(), Dataset()
    series.SeriesInstanceUID = st.series[0].uid
    series.ReferencedSOPSequence = [_reference(st.series[0], 1)]
    evidence.StudyInstanceUID, evidence.ReferencedSeriesSequence = st.uid, [series]
    ds.CurrentRequestedProcedureEvidenceSequence = [evidence]
    ds.ContentSequence = []
    for code, text in T.SR_SECTIONS:  # the history names the patient, as reports often do
        item = Dataset()
        item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
        item.ConceptNameCodeSequence = [_code(code)]
        item.TextValue = text.format(family=p.family)
        ds.ContentSequence.append(item)
    return None


def _seg(ds: Dataset, p: _Patient, st: _Study, se: _Series, r: random.Random) -> Patch | None:
    assert se.source is not None
    source, part, cross = se.source, st.proc.body_part, se.source.modality in CROSS_SECTIONAL
    g, frames = _geometry(st, source), min(3, source.count)
    kind = T.SEG_TYPES.get(part, T.SEG_NEOPLASM)
    ds.SeriesDescription, ds.ContentCreatorName = f"{kind[2]} segmentation", st.performing
    ds.Rows, ds.Columns, ds.NumberOfFrames = g.rows, g.cols, frames
    segment = Dataset()
    segment.SegmentNumber, segment.SegmentLabel = 1, kind[2]
    segment.SegmentAlgorithmType, segment.SegmentAlgorithmName = "SEMIAUTOMATIC", "AutoContour"
    category = T.SEG_ANATOMY if part in T.SEG_TYPES else T.SEG_LESION
    segment.SegmentedPropertyCategoryCodeSequence = [_code(category)]
    segment.SegmentedPropertyTypeCodeSequence = [_code(kind)]
    ds.SegmentSequence, referenced = [segment], Dataset()
    referenced.SeriesInstanceUID = source.uid
    referenced.ReferencedInstanceSequence = [_reference(source, k) for k in range(1, frames + 1)]
    ds.ReferencedSeriesSequence = [referenced]
    ds.FrameOfReferenceUID = _uid(st.uid if cross else se.uid, "frame")
    shared, measures, orientation = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing, shared.PixelMeasuresSequence = [g.spacing, g.spacing], [measures]
    if cross:
        measures.SliceThickness, orientation.ImageOrientationPatient = g.thickness, list(g.iop)
        shared.PlaneOrientationSequence = [orientation]
    ds.SharedFunctionalGroupsSequence, ds.PerFrameFunctionalGroupsSequence = [shared], []
    for k in range(1, frames + 1):
        item, ident, position = Dataset(), Dataset(), Dataset()
        ident.ReferencedSegmentNumber, item.SegmentIdentificationSequence = 1, [ident]
        if cross:
            position.ImagePositionPatient, item.PlanePositionSequence = g.position(k), [position]
        ds.PerFrameFunctionalGroupsSequence.append(item)
    return None


Builder = Callable[[Dataset, _Patient, _Study, _Series, random.Random], Patch | None]
_BUILDERS: dict[str, Builder] = {
    "CT": _ct,
    "MR": _mr,
    "PT": _pt,
    "CR": _xr,
    "DX": _xr,
    "MG": _xr,
    "US": _us,
    "SR": _sr,
    "SEG": _seg,
}


def _series_dataset(
    p: _Patient, st: _Study, se: _Series, start: datetime
) -> tuple[Dataset, Patch | None]:
    """Return a series' dataset (all but per-instance elements) and its per-instance patch."""
    ds, r, inst = Dataset(), random.Random(se.uid), p.institution
    derived = se.modality in ("SR", "SEG")
    eq = T.EQUIPMENT[se.modality][0] if derived else st.equipment
    ds.SpecificCharacterSet = p.attrs["SpecificCharacterSet"]  # first: text below uses it
    ds.SOPClassUID, ds.Modality = T.SOP_CLASS[se.modality], se.modality
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = f"{st.start:%Y%m%d}"
    ds.StudyTime, ds.SeriesTime = _tm(st.start), _tm(start)
    if not derived:
        ds.AcquisitionDate, ds.AcquisitionNumber = ds.StudyDate, 1
    if st.laterality and not derived:
        ds.Laterality = st.laterality
    ds.Manufacturer, ds.ManufacturerModelName = eq.manufacturer, eq.model
    ds.SoftwareVersions = list(eq.software) if len(eq.software) > 1 else eq.software[0]
    ds.InstitutionName, ds.InstitutionAddress = inst.name, inst.address
    ds.InstitutionalDepartmentName = f"{inst.city} {inst.department}"
    number = 1 if derived else 1 + T.EQUIPMENT[st.modality].index(st.equipment)
    station = {"SR": "RPT", "SEG": "AI"}.get(se.modality, st.modality)
    ds.StationName = f"{inst.station_prefix}-{station}{number:02d}"
    serial = hashlib.sha256(f"{inst.name}/{eq.model}".encode()).digest()  # one per scanner
    ds.DeviceSerialNumber = f"SN-{int.from_bytes(serial[:4]) % 900000 + 100000}"
    ds.ReferringPhysicianName, ds.PerformingPhysicianName = st.referring, st.performing
    ds.OperatorsName, ds.AccessionNumber = r.choice(T.OPERATORS), st.accession
    ds.StudyDescription, ds.ProcedureCodeSequence = st.proc.description, [_code(st.proc.code)]
    for keyword in (
        "PatientName",
        "PatientID",
        "IssuerOfPatientID",
        "PatientBirthDate",
        "PatientSex",
        "PatientAddress",
        "PatientTelephoneNumbers",
    ):
        setattr(ds, keyword, p.attrs[keyword])
    ds.PatientAge = f"{age_on(p.birth, st.start.date()):03d}Y"
    other = Dataset()
    other.PatientID, other.IssuerOfPatientID = p.attrs["EMPI"], T.EMPI_ISSUER
    other.TypeOfPatientID, ds.OtherPatientIDsSequence = "TEXT", [other]
    ds.StudyInstanceUID, ds.SeriesInstanceUID = st.uid, se.uid
    ds.StudyID, ds.SeriesNumber = st.study_id, se.number
    if se.modality != "SR":
        ds.BodyPartExamined, ds.ProtocolName = st.proc.body_part, st.proc.protocol
        ds.AnatomicRegionSequence = [_code(T.BODY_PARTS[st.proc.body_part])]
    if se.modality in T.PROJECTION_PIXELS:
        ds.Rows, ds.Columns = T.PROJECTION_PIXELS[se.modality][:2]
    for keyword, value in T.FIXED[se.modality].items():
        setattr(ds, keyword, value)
    patch = _BUILDERS[se.modality](ds, p, st, se, r)
    if se.modality in CROSS_SECTIONAL:
        ds.Rows = ds.Columns = _geometry(st, se).rows
    if se.with_name:  # a technologist typed the patient's name (a Clean Descriptors case)
        ds.SeriesDescription = f"{ds.SeriesDescription} {p.family}"
    if se.private:
        block = ds.private_block(0x0009, "ACME 1.1", create=True)
        block.add_new(0x01, "LO", "RECON PRESET 7")
        block.add_new(0x02, "DS", "1.25")
    return ds, patch
