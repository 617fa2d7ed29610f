"""Where the project's data files are: ontologies, mappings, shapes and the bundled sample.

They live at the top of the source tree (curators edit them there); fairdicom runs from a
checkout or an editable install (``pip install -e .``).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGIES = ROOT / "ontologies"
CORE_ONTOLOGY = ONTOLOGIES / "fairdicom.ttl"
TAG_VOCABULARY = ONTOLOGIES / "dicom-tags.ttl"
MAPPINGS = ONTOLOGIES / "mappings"
SHAPES = ROOT / "shapes" / "curated.ttl"
SAMPLE = ROOT / "data" / "sample"
