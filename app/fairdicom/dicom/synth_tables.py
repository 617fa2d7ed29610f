"""Hold the fixed vocabularies used by the synthetic DICOM generator (all people are fictitious)."""

from __future__ import annotations

from typing import NamedTuple

Code = tuple[str, str, str]  # (CodeValue, CodingSchemeDesignator, CodeMeaning)


class Institution(NamedTuple):
    """Describe a fictitious imaging site."""

    name: str
    address: str
    department: str
    station_prefix: str
    issuer: str
    city: str
    postcode: str


class Equipment(NamedTuple):
    """Describe one realistic scanner model."""

    manufacturer: str
    model: str
    software: tuple[str, ...]
    kernels: tuple[str, str] = ("", "")  # (sharp, soft) CT reconstruction kernels
    field: str = ""  # MR field strength in tesla


class Procedure(NamedTuple):
    """Describe one requested procedure and its coded form."""

    body_part: str
    description: str
    protocol: str
    code: Code


class MRSeq(NamedTuple):
    """Describe one MR pulse sequence as a vendor would label it."""

    description: str
    plane: str
    scanning: tuple[str, ...]
    variant: tuple[str, ...]
    name: str
    tr: str
    te: str
    ti: str
    flip: str
    acq_type: str
    matrix: int
    thickness: str


class View(NamedTuple):
    """Describe one projection view (CR, DX, MG)."""

    description: str
    position: str
    orientation: tuple[str, str]
    laterality: str = ""


# Family names: at least 6 characters, none is a substring of another or of any other table string.
FAMILY_NAMES: tuple[str, ...] = (
    "Abernathy",
    "Okonkwo",
    "Halvorsen",
    "Quintanilla",
    "Brzezinski",
    "Vandersloot",
    "Thistlewood",
    "Castellanos",
    "Wainwright",
    "Nakashima",
    "Oyelaran",
    "Fitzgibbon",
    "Lindqvist",
    "Marchetti",
    "Szczepanik",
    "Ravensworth",
    "Delacroix",
    "Yamaguchi",
    "Achterberg",
    "Pemberton",
    "Villanueva",
    "Grimaldi",
    "Hargreaves",
    "Ostrowski",
    "Blackwood",
    "Trevelyan",
    "Featherstone",
    "Rasmussen",
    "Esposito",
    "Vukovich",
    "Donnellan",
    "Takahashi",
    "Abiodun",
    "Hendricks",
    "Vandermerwe",
    "Lachance",
    "Whitmore",
    "Ashdown",
    "Carmichael",
    "Drummond",
    "Fairweather",
    "Galbraith",
    "Hollingsby",
    "Ingleby",
    "Jablonski",
    "Kingsbury",
    "Lockhart",
    "MacAllister",
    "Northcott",
    "Pennington",
    "Quigley",
    "Rutherford",
    "Sandoval",
    "Tolliver",
    "Underhill",
    "Vasquez",
    "Winterbottom",
    "Yardley",
    "Zeitler",
    "Jørgensen",
    "Åkerlund",
    "Müllenbach",
)
# Used for patients written with SpecificCharacterSet ISO_IR 192 (characters outside Latin-1).
FAMILY_NAMES_UTF8: tuple[str, ...] = (
    "Łukaszewicz",
    "Kovačević",
    "Dvořáček",
    "Şahinoğlu",
    "Žemaitytė",
    "Csörgőházi",
    "Wiśniewska",
    "Ştefănescu",
    "Đorđević",
    "Přibylová",
    "Ołdakowska",
    "Nguyễn-Thào",
)
GIVEN_F: tuple[str, ...] = (
    "Ingrid",
    "Marisol",
    "Annelie",
    "Rosalind",
    "Svetlana",
    "Henrietta",
    "Beatrix",
    "Ottilie",
    "Clementine",
    "Georgina",
    "Winifred",
    "Leonora",
    "Cordelia",
    "Seraphina",
)
GIVEN_M: tuple[str, ...] = (
    "Torsten",
    "Leopold",
    "Casimir",
    "Barnaby",
    "Evander",
    "Anselm",
    "Lucius",
    "Ignatius",
    "Florian",
    "Gideon",
    "Tobias",
    "Horatio",
    "Mattias",
    "Cornelius",
)
GIVEN_F_UTF8: tuple[str, ...] = ("Małgorzata", "Jiřina", "Đurđica", "Ľubomíra", "Grażyna")
GIVEN_M_UTF8: tuple[str, ...] = ("Bartłomiej", "Radosław", "Zoltán", "Přemysl", "Ştefan")

PHYSICIANS: tuple[str, ...] = (
    "Tremblay^Odile^^Dr",
    "Achterhof^Niklas^^Dr",
    "Sorensby^Pernille^^Dr",
    "Blanchflower^Edmund^^Dr",
    "Kettleborough^Imogen^^Dr",
    "Rosenquist^Aurelio^^Dr",
    "Wetherall^Priyanka^^Dr",
    "Iwasaki-Moore^Kenta^^Dr",
)
OPERATORS: tuple[str, ...] = (
    "Pettersson^Liv",
    "Draycott^Kimberly",
    "Oduyebo^Femi",
    "Hallberg^Annika",
    "Trowbridge^Declan",
    "Mbatha^Lindiwe",
)
STREETS: tuple[str, ...] = (
    "Larkspur",
    "Juniper Hollow",
    "Quarrystone",
    "Wrenfield",
    "Ashcombe",
    "Marigold",
    "Kestrel",
    "Thornbury",
    "Bramblegate",
    "Copperbeech",
)
STREET_TYPES: tuple[str, ...] = ("Lane", "Road", "Street", "Avenue", "Close", "Way")

INSTITUTIONS: tuple[Institution, ...] = (
    Institution(
        "Fjordvik University Hospital",
        "Havnegata 12, 5020 Fjordvik",
        "Radiology",
        "FJV",
        "FJORDVIK-HIS",
        "Fjordvik",
        "5020",
    ),
    Institution(
        "St. Aldric Medical Centre",
        "44 Wexcombe Road, Brindlemoor BR4 7QT",
        "Diagnostic Imaging",
        "SAM",
        "ST-ALDRIC-PAS",
        "Brindlemoor",
        "BR4 7QT",
    ),
    Institution(
        "Klinikum Ostwaldheim",
        "Lindenstrasse 88, 34567 Ostwaldheim",
        "Radiologie",
        "KOW",
        "KLINIKUM-OW",
        "Ostwaldheim",
        "34567",
    ),
    Institution(
        "Mercy Halloway Regional Hospital",
        "1200 Quarry Lane, Halloway, OH 45999",
        "Imaging Services",
        "MHR",
        "MHRH-MRN",
        "Halloway",
        "45999",
    ),
)
EMPI_ISSUER = "REGIONAL-EMPI"

EQUIPMENT: dict[str, tuple[Equipment, ...]] = {
    "CT": (
        Equipment("SIEMENS", "SOMATOM Force", ("syngo CT VA50A",), ("Br64d", "Br40d")),
        Equipment("SIEMENS", "SOMATOM Definition AS+", ("syngo CT VA48A",), ("B70f", "B30f")),
        Equipment("GE MEDICAL SYSTEMS", "Revolution CT", ("rev_ct_v2.1",), ("LUNG", "STANDARD")),
        Equipment("Philips", "IQon - Spectral CT", ("5.0.2", "5.0.2.41025"), ("YC", "B")),
        Equipment("CANON_MEC", "Aquilion ONE", ("V8.9SP0001",), ("FC52", "FC08")),
    ),
    "MR": (
        Equipment("SIEMENS", "Skyra", ("syngo MR E11",), field="3"),
        Equipment("SIEMENS", "Aera", ("syngo MR E11",), field="1.5"),
        Equipment("GE MEDICAL SYSTEMS", "Discovery MR750", ("DV26.0_R03_1831.b",), field="3"),
        Equipment("Philips", "Ingenia", ("5.4.1", "5.4.1.0"), field="1.5"),
    ),
    "PT": (
        Equipment("SIEMENS", "Biograph Vision 600", ("VG80B",), ("Br38f", "Br38f")),
        Equipment("GE MEDICAL SYSTEMS", "Discovery MI", ("pet_coreload.49",), ("BONE", "STANDARD")),
        Equipment("Philips", "Vereos PET/CT", ("2.0.2",), ("C", "B")),
    ),
    "CR": (
        Equipment("FUJIFILM Corporation", "FCR CAPSULA XLII", ("A07-09",)),
        Equipment("Agfa", "CR 85-X", ("VIPS_4.2",)),
    ),
    "DX": (
        Equipment("SIEMENS", "Ysio Max", ("VF10D",)),
        Equipment("Philips", "DigitalDiagnost C90", ("1.2.1",)),
        Equipment("Carestream Health", "DRX-Evolution Plus", ("5.7.412",)),
    ),
    "MG": (
        Equipment("HOLOGIC, Inc.", "Selenia Dimensions", ("1.11.1.8",)),
        Equipment("GE MEDICAL SYSTEMS", "Senographe Pristina", ("ADS_54.11",)),
        Equipment("SIEMENS", "Mammomat Revelation", ("VB10A",)),
    ),
    "US": (
        Equipment("GE Healthcare", "LOGIQ E10", ("R3.0.1",)),
        Equipment("Philips Medical Systems", "EPIQ 7G", ("7.0.5",)),
        Equipment("SIEMENS", "ACUSON Sequoia", ("VA20A",)),
    ),
    "SR": (Equipment("ACME Healthcare IT", "RadReport Pro", ("4.8.2",)),),
    "SEG": (Equipment("ACME Healthcare IT", "AutoContour", ("3.2.1",)),),
}

# BodyPartExamined -> SNOMED CT code of DICOM CID 4 (Anatomic Region).
BODY_PARTS: dict[str, Code] = {
    "CHEST": ("816094009", "SCT", "Chest"),
    "ABDOMEN": ("818981001", "SCT", "Abdomen"),
    "HEAD": ("69536005", "SCT", "Head"),
    "BREAST": ("76752008", "SCT", "Breast"),
    "PELVIS": ("816092008", "SCT", "Pelvis"),
    "KNEE": ("72696002", "SCT", "Knee"),
    "LSPINE": ("122496007", "SCT", "Lumbar spine"),
    "HAND": ("85562004", "SCT", "Hand"),
    "SHOULDER": ("16982005", "SCT", "Shoulder"),
    "NECK": ("45048000", "SCT", "Neck"),
    "WHOLEBODY": ("38266002", "SCT", "Entire body"),
}
LATERAL_PARTS = frozenset({"KNEE", "HAND", "SHOULDER"})

_XR = (
    Procedure(
        "CHEST",
        "XR CHEST PA AND LATERAL",
        "Chest 2 views",
        ("RPID2503", "RADLEX", "XR Chest 2 Views"),
    ),
    Procedure("KNEE", "XR KNEE 3 VIEWS", "Knee", ("RPID2649", "RADLEX", "XR Knee 3 Views")),
    Procedure("HAND", "XR HAND", "Hand", ("RPID2544", "RADLEX", "XR Hand 3+ Views")),
    Procedure("PELVIS", "XR PELVIS AP", "Pelvis AP", ("RPID2557", "RADLEX", "XR Pelvis 1 View")),
    Procedure(
        "SHOULDER", "XR SHOULDER", "Shoulder", ("RPID2565", "RADLEX", "XR Shoulder 2+ Views")
    ),
)
PROCEDURES: dict[str, tuple[Procedure, ...]] = {
    "CT": (
        Procedure(
            "CHEST",
            "CT THORAX NATIV",
            "Thorax Routine",
            ("RPID16", "RADLEX", "CT Chest wo IV Contrast"),
        ),
        Procedure(
            "CHEST",
            "CT CHEST W CONTRAST",
            "Thorax KM",
            ("RPID18", "RADLEX", "CT Chest w IV Contrast"),
        ),
        Procedure("HEAD", "CT HEAD WO CONTRAST", "Head Routine", ("24725-4", "LN", "CT Head")),
        Procedure(
            "ABDOMEN",
            "CT ABDOMEN W CONTRAST",
            "Abdomen PV",
            ("RPID5", "RADLEX", "CT Abdomen w IV Contrast"),
        ),
        Procedure(
            "PELVIS",
            "CT PELVIS WO CONTRAST",
            "Pelvis Routine",
            ("RPID46", "RADLEX", "CT Pelvis wo IV Contrast"),
        ),
    ),
    "MR": (
        Procedure(
            "HEAD",
            "MRI BRAIN W/WO CONTRAST",
            "Brain Tumor",
            ("RPID480", "RADLEX", "MR Head w and wo IV Contrast"),
        ),
        Procedure("HEAD", "MR BRAIN", "Brain Routine", ("24590-2", "LN", "MR Brain")),
        Procedure("KNEE", "MR KNEE", "Knee", ("RPID522", "RADLEX", "MR Knee wo IV Contrast")),
        Procedure(
            "LSPINE",
            "MR LUMBAR SPINE",
            "L-Spine",
            ("RPID541", "RADLEX", "MR Lumbar Spine wo IV Contrast"),
        ),
        Procedure(
            "PELVIS", "MR PELVIS", "Pelvis", ("RPID531", "RADLEX", "MR Pelvis wo IV Contrast")
        ),
    ),
    "PT": (
        Procedure(
            "WHOLEBODY",
            "PET/CT FDG WHOLE BODY",
            "PET WB FDG",
            ("RPID6018", "RADLEX", "PT/CT Tumor Localization Whole Body"),
        ),
    ),
    "CR": _XR,
    "DX": _XR,
    "MG": (
        Procedure(
            "BREAST",
            "MAMMO SCREENING BILATERAL",
            "Screening",
            ("RPID5592", "RADLEX", "Mammo Breast Screening"),
        ),
        Procedure(
            "BREAST",
            "MAMMO DIAGNOSTIC",
            "Diagnostic",
            ("RPID5557", "RADLEX", "Mammo Breast Diagnostic"),
        ),
    ),
    "US": (
        Procedure(
            "ABDOMEN", "US ABDOMEN COMPLETE", "Abdomen", ("RPID1929", "RADLEX", "US Abdomen")
        ),
        Procedure("PELVIS", "US PELVIS", "Pelvis", ("RPID1951", "RADLEX", "US Pelvis")),
        Procedure("NECK", "US THYROID", "Thyroid", ("RPID2007", "RADLEX", "US Thyroid")),
    ),
}
# Study modalities cycled through so that every one appears once seven studies exist.
STUDY_MODALITIES: tuple[str, ...] = ("CT", "MR", "PT", "CR", "DX", "MG", "US")

REGION_LABEL: dict[str, str] = {
    "CHEST": "THORAX",
    "HEAD": "HEAD",
    "ABDOMEN": "ABDOMEN",
    "PELVIS": "PELVIS",
    "WHOLEBODY": "WB",
}
# (SliceThickness, sharp kernel?) for the CT reconstructions of a study.
CT_RECONS: tuple[tuple[str, bool], ...] = (
    ("1.0", True),
    ("1.0", False),
    ("3.0", False),
    ("5.0", False),
)
# (WindowCenter, WindowWidth) values; several values where scanners write several windows.
CT_WINDOWS: dict[tuple[str, bool], tuple[list[str], list[str]]] = {
    ("CHEST", True): (["-600", "40"], ["1200", "400"]),
    ("CHEST", False): (["40"], ["400"]),
    ("HEAD", True): (["600"], ["2800"]),
    ("HEAD", False): (["40"], ["80"]),
    ("ABDOMEN", True): (["300"], ["1500"]),
    ("ABDOMEN", False): (["60"], ["360"]),
    ("PELVIS", True): (["300"], ["1500"]),
    ("PELVIS", False): (["40"], ["400"]),
    ("WHOLEBODY", True): (["40"], ["400"]),
    ("WHOLEBODY", False): (["40"], ["400"]),
}
CT_FOV: dict[str, tuple[int, int]] = {"HEAD": (220, 250)}  # default (320, 450)

# ImageOrientationPatient and the slice normal for each imaging plane.
PLANES: dict[str, tuple[tuple[str, ...], tuple[int, int, int]]] = {
    "TRA": (("1", "0", "0", "0", "1", "0"), (0, 0, 1)),
    "SAG": (("0", "1", "0", "0", "0", "-1"), (-1, 0, 0)),
    "COR": (("1", "0", "0", "0", "0", "-1"), (0, 1, 0)),
}

_SE, _GR, _IR, _EP = "SE", "GR", "IR", "EP"
MR_SEQUENCES: dict[str, tuple[MRSeq, ...]] = {
    "HEAD": (
        MRSeq(
            "t1_mprage_sag_p2_iso",
            "SAG",
            (_GR, _IR),
            ("SK", "SP", "MP"),
            "*tfl3d1_16",
            "2300",
            "2.98",
            "900",
            "9",
            "3D",
            256,
            "1",
        ),
        MRSeq(
            "t2_tse_tra_512",
            "TRA",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_15",
            "5000",
            "98",
            "",
            "150",
            "2D",
            512,
            "5",
        ),
        MRSeq(
            "t2_tirm_tra_dark-fluid",
            "TRA",
            (_SE, _IR),
            ("SK", "SP", "MP", "OSP"),
            "*tir2d1_16",
            "9000",
            "81",
            "2500",
            "150",
            "2D",
            320,
            "5",
        ),
        MRSeq(
            "ep2d_diff_tra_b1000",
            "TRA",
            (_EP,),
            ("SK", "SP"),
            "*ep_b1000t",
            "4800",
            "89",
            "",
            "90",
            "2D",
            192,
            "5",
        ),
    ),
    "KNEE": (
        MRSeq(
            "pd_tse_fs_sag",
            "SAG",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_5",
            "3200",
            "33",
            "",
            "150",
            "2D",
            384,
            "3",
        ),
        MRSeq(
            "pd_tse_fs_cor",
            "COR",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_5",
            "3000",
            "33",
            "",
            "150",
            "2D",
            384,
            "3",
        ),
        MRSeq(
            "t1_tse_cor",
            "COR",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_3",
            "650",
            "11",
            "",
            "150",
            "2D",
            384,
            "3",
        ),
        MRSeq(
            "pd_tse_fs_tra",
            "TRA",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_5",
            "3500",
            "30",
            "",
            "150",
            "2D",
            320,
            "3.5",
        ),
    ),
    "LSPINE": (
        MRSeq(
            "t2_tse_sag",
            "SAG",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_17",
            "3500",
            "102",
            "",
            "160",
            "2D",
            384,
            "4",
        ),
        MRSeq(
            "t1_tse_sag",
            "SAG",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_3",
            "550",
            "9.5",
            "",
            "150",
            "2D",
            384,
            "4",
        ),
        MRSeq(
            "t2_tse_tra",
            "TRA",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_15",
            "4200",
            "96",
            "",
            "150",
            "2D",
            320,
            "4",
        ),
        MRSeq(
            "t2_tirm_sag_stir",
            "SAG",
            (_SE, _IR),
            ("SK", "SP", "MP"),
            "*tir2d1_13",
            "3800",
            "54",
            "220",
            "150",
            "2D",
            320,
            "4",
        ),
    ),
    "PELVIS": (
        MRSeq(
            "t2_tse_tra",
            "TRA",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_19",
            "5400",
            "104",
            "",
            "160",
            "2D",
            320,
            "3",
        ),
        MRSeq(
            "t2_tse_sag",
            "SAG",
            (_SE,),
            ("SK", "SP", "OSP"),
            "*tse2d1_19",
            "4800",
            "104",
            "",
            "160",
            "2D",
            320,
            "3",
        ),
        MRSeq(
            "ep2d_diff_tra_b50_800",
            "TRA",
            (_EP,),
            ("SK", "SP"),
            "*ep_b800t",
            "4100",
            "63",
            "",
            "90",
            "2D",
            160,
            "4",
        ),
        MRSeq(
            "t1_vibe_fs_tra",
            "TRA",
            (_GR,),
            ("SK", "SP", "OSP"),
            "*fl3d1",
            "4.2",
            "1.9",
            "",
            "9",
            "3D",
            320,
            "2",
        ),
    ),
}
MR_COIL: dict[str, str] = {
    "HEAD": "HeadNeck_20",
    "KNEE": "Knee_18",
    "LSPINE": "Spine_32",
    "PELVIS": "Body_18",
}

# PatientOrientation as an image is displayed (frontal views: patient's left to the right).
XR_VIEWS: dict[str, tuple[View, ...]] = {
    "CHEST": (View("CHEST PA", "PA", ("L", "F")), View("CHEST LAT", "LL", ("P", "F"))),
    "KNEE": (
        View("KNEE AP", "AP", ("L", "F")),
        View("KNEE LAT", "LL", ("P", "F")),
        View("KNEE PATELLA AXIAL", "AP", ("L", "P")),
    ),
    "HAND": (
        View("HAND PA", "PA", ("L", "H")),
        View("HAND OBLIQUE", "PA", ("L", "H")),
        View("HAND LAT", "LL", ("P", "H")),
    ),
    "PELVIS": (View("PELVIS AP", "AP", ("L", "F")),),
    "SHOULDER": (View("SHOULDER AP", "AP", ("L", "F")), View("SHOULDER Y VIEW", "LL", ("P", "F"))),
}
MG_VIEWS: tuple[View, ...] = (
    View("R CC", "CC", ("P", "L"), "R"),
    View("L CC", "CC", ("A", "R"), "L"),
    View("R MLO", "MLO", ("P", "F"), "R"),
    View("L MLO", "MLO", ("A", "F"), "L"),
)
MG_VIEW_CODES: dict[str, Code] = {
    "CC": ("399162004", "SCT", "cranio-caudal"),
    "MLO": ("399368009", "SCT", "medio-lateral oblique"),
}
US_VIEWS: dict[str, tuple[str, ...]] = {
    "ABDOMEN": ("LIVER", "GALLBLADDER", "RIGHT KIDNEY", "LEFT KIDNEY"),
    "PELVIS": ("BLADDER", "PELVIS OVERVIEW"),
    "NECK": ("THYROID RIGHT LOBE", "THYROID LEFT LOBE", "THYROID ISTHMUS"),
}

RADIONUCLIDE: Code = ("77004003", "SCT", "^18^Fluorine")
RADIOPHARMACEUTICAL: Code = ("35321007", "SCT", "Fluorodeoxyglucose F^18^")

# Segment (category, type) per body part for the single SEG instance.
SEG_ANATOMY: Code = ("91723000", "SCT", "Anatomical Structure")
SEG_LESION: Code = ("49755003", "SCT", "Morphologically Altered Structure")
SEG_TYPES: dict[str, Code] = {
    "CHEST": ("39607008", "SCT", "Lung"),
    "HEAD": ("12738006", "SCT", "Brain"),
    "ABDOMEN": ("10200004", "SCT", "Liver"),
    "PELVIS": ("89837001", "SCT", "Urinary bladder"),
}
SEG_NEOPLASM: Code = ("108369006", "SCT", "Neoplasm")

SR_TITLE: Code = ("18748-4", "LN", "Diagnostic Imaging Report")
SR_SECTIONS: tuple[tuple[Code, str], ...] = (
    (("121060", "DCM", "History"), "Follow-up imaging requested for {family}; known nodule."),
    (("121071", "DCM", "Finding"), "No new focal lesion. Stable appearance compared with prior."),
    (("121073", "DCM", "Impression"), "Stable examination. No acute abnormality."),
)

SOP_CLASS: dict[str, str] = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "PT": "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image Storage
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image - For Presentation
    "US": "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
    "SR": "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR Storage
    "SEG": "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation Storage
}
DEFAULT_INSTANCES: dict[str, tuple[int, int]] = {
    "CT": (8, 40),
    "MR": (5, 25),
    "PT": (5, 20),
    "CR": (1, 4),
    "DX": (1, 4),
    "MG": (1, 4),
    "US": (1, 6),
}
# (Rows, Columns, pixel spacing) of the projection and ultrasound images.
PROJECTION_PIXELS: dict[str, tuple[int, int, str]] = {
    "CR": (2140, 1760, "0.2"),
    "DX": (2832, 2832, "0.148"),
    "MG": (4096, 3328, "0.065"),
    "US": (768, 1024, "0.3"),
}


def _pixel(
    stored: int, photometric: str = "MONOCHROME2", signed: bool = False, samples: int = 1
) -> dict[str, object]:
    """Return the Image Pixel attributes (Rows and Columns aside; no PixelData)."""
    pixel: dict[str, object] = {
        "SamplesPerPixel": samples,
        "PhotometricInterpretation": photometric,
        "BitsAllocated": 1 if stored == 1 else (8 if stored <= 8 else 16),
        "BitsStored": stored,
        "HighBit": stored - 1,
        "PixelRepresentation": int(signed),
    }
    return pixel | ({"PlanarConfiguration": 0} if samples > 1 else {})


_XR_FIXED: dict[str, object] = {"ImageType": ["ORIGINAL", "PRIMARY"]}
# Attributes whose value depends only on the modality of the series.
FIXED: dict[str, dict[str, object]] = {
    "CT": {
        "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"],
        "DataCollectionDiameter": "500",
        "GantryDetectorTilt": "0",
        "RotationDirection": "CW",
        "PatientPosition": "HFS",
        "RescaleIntercept": "-1024",
        "RescaleSlope": "1",
        "RescaleType": "HU",
        **_pixel(12),
    },
    "MR": {
        "AngioFlag": "N",
        "ImagedNucleus": "1H",
        "EchoNumbers": "1",
        "TransmitCoilName": "Body",
        "InPlanePhaseEncodingDirection": "ROW",
        **_pixel(12),
    },
    "PT": {
        "ImageType": ["ORIGINAL", "PRIMARY"],
        "SeriesType": ["WHOLE BODY", "IMAGE"],
        "Units": "BQML",
        "CountsSource": "EMISSION",
        "DecayCorrection": "START",
        "RandomsCorrectionMethod": "DLYD",
        "ActualFrameDuration": 120000,
        "FrameReferenceTime": "0",
        "PatientPosition": "HFS",
        "RescaleIntercept": "0",
        "WindowCenter": "15000",
        "WindowWidth": "30000",
        **_pixel(16, signed=True),
    },
    "CR": {**_XR_FIXED, "WindowCenter": "2048", "WindowWidth": "4096", **_pixel(12, "MONOCHROME1")},
    "DX": {
        **_XR_FIXED,
        "PresentationIntentType": "FOR PRESENTATION",
        "DetectorType": "SCINTILLATOR",
        "WindowCenter": "8192",
        "WindowWidth": "16384",
        **_pixel(14),
    },
    "MG": {
        **_XR_FIXED,
        "PresentationIntentType": "FOR PRESENTATION",
        "DetectorType": "DIRECT",
        "AnodeTargetMaterial": "TUNGSTEN",
        "FilterMaterial": "RHODIUM",
        "BreastImplantPresent": "NO",
        "VOILUTFunction": "SIGMOID",
        "WindowCenter": "8191",
        "WindowWidth": "16383",
        **_pixel(14),
    },
    "US": {**_pixel(8, "RGB", samples=3)},
    "SR": {
        "SeriesDescription": "Radiology Report",
        "ValueType": "CONTAINER",
        "ContinuityOfContent": "SEPARATE",
        "CompletionFlag": "COMPLETE",
        "VerificationFlag": "VERIFIED",
    },
    "SEG": {
        "ImageType": ["DERIVED", "PRIMARY"],
        "SegmentationType": "BINARY",
        "ContentLabel": "SEGMENTATION",
        "ContentDescription": "Semi-automatic contour",
        "LossyImageCompression": "00",
        **_pixel(1),
    },
}
US_IMAGE_TYPE: dict[str, str] = {"ABDOMEN": "ABDOMINAL", "PELVIS": "PELVIC", "NECK": "THYROID"}
US_REGION: dict[str, int] = {
    "RegionSpatialFormat": 1,
    "RegionDataType": 1,
    "RegionFlags": 2,
    "RegionLocationMinX0": 96,
    "RegionLocationMinY0": 64,
    "RegionLocationMaxX1": 928,
    "RegionLocationMaxY1": 704,
    "PhysicalUnitsXDirection": 3,
    "PhysicalUnitsYDirection": 3,
    "ReferencePixelX0": 416,
    "ReferencePixelY0": 0,
}
