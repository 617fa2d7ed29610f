"""The curator's check of a mapping folder: every problem of every file, in one run.

Besides what :func:`fairdicom.rdf.mapping.load_mappings` checks (syntax, keywords, declared
properties and concepts, datatypes against the VR, SSSOM vocabularies, rules), an attribute
that de-identification removes with the options in force is reported: its values never reach
the raw layer, so a mapping of it would never give a curated value.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fairdicom.config import DeidOptions, Settings
from fairdicom.dicom.deidentify import Action, Profile
from fairdicom.rdf.mapping import MappingSet, load_mappings
from fairdicom.resources import CORE_ONTOLOGY, TAG_VOCABULARY
from fairdicom.store import query_form


def removed_by(options: DeidOptions, keyword: str, tag: int) -> str | None:
    """Return why de-identification removes an attribute, or None when it keeps it."""
    if Profile(options).public_action(tag, lambda _: True) is Action.REMOVE:
        return "PS3.15 Annex E Basic Profile with the de-identification options in force"
    return None


def load_checked(folder: Path, settings: Settings) -> MappingSet:
    """Check every mapping file of ``folder``; raise one MappingError listing every problem."""
    return load_mappings(
        folder,
        query_form,
        CORE_ONTOLOGY,
        TAG_VOCABULARY,
        removed=partial(removed_by, settings.deid),
    )
