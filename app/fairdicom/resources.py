"""Where the bundled data files are: ontologies, mappings, shapes, the sample and the dataset
descriptions.

They ship inside the package and are found with :mod:`importlib.resources`, never through a
path relative to a checkout. In the repository they live at the top (``ontologies/``,
``shapes/``, ``data/``), where curators edit them; the package holds links to them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _package_folder() -> Path:
    """Return the installed package's folder (wheels and editable installs are unpacked)."""
    root = files("fairdicom")
    if not isinstance(root, Path):
        raise RuntimeError(f"fairdicom must be installed as files on disk, not in {root!r}")
    return root


PACKAGE = _package_folder()
ONTOLOGIES = PACKAGE / "ontologies"
CORE_ONTOLOGY = ONTOLOGIES / "fairdicom.ttl"
TAG_VOCABULARY = ONTOLOGIES / "dicom-tags.ttl"
MAPPINGS = ONTOLOGIES / "mappings"
SHAPES = PACKAGE / "shapes" / "curated.ttl"
REFERENCE_SHAPES = PACKAGE / "shapes" / "reference"
SAMPLE = PACKAGE / "data" / "sample"
DESCRIPTIONS = PACKAGE / "data" / "datasets.toml"
