"""What ``fairdicom sources`` says: each DICOMweb source, configured or harvested, with its
last harvest."""

from __future__ import annotations

from pathlib import Path

from fairdicom.config import Settings
from fairdicom.dicom.dicomweb_query import endpoint_of
from fairdicom.ingest.harvest_state import list_sources
from fairdicom.namespaces import DataIris
from fairdicom.store import open_store


def sources_report(settings: Settings) -> list[str]:
    """Return a line per source (configured in ``dicomweb_sources``, or harvested into the
    store): its dataset and last harvest (when, studies, instances, failures)."""
    rows = []
    location = settings.store
    if location.startswith(("http://", "https://")) or Path(location).exists():
        store = open_store(settings, read_only=True)
        try:
            rows = list_sources(store, DataIris(settings.base_iri))
        finally:
            store.close()
    lines = []
    harvested = {row.endpoint for row in rows}
    for configured in settings.dicomweb_sources:
        endpoint = endpoint_of(configured)
        if endpoint not in harvested:
            lines.append(f"{configured}  never harvested")
    for row in rows:
        when = row.last_harvest or "never"
        last = (
            f"last harvest {when}: the source could not be listed ({row.problem})"
            if row.problem
            else f"last harvest {when}: listed {row.listed}, fetched {row.fetched}, "
            f"failed {row.failed_last}"
        )
        lines.append(
            f"dicomweb+{row.endpoint}  dataset {row.dataset}  {last}; in the store: "
            f"{row.studies} studies, {row.instances} instances, {row.failing} failing"
        )
    return lines
