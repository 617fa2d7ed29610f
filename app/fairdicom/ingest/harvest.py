"""Harvest a PACS over DICOMweb: the same ingest as files, fed study by study.

QIDO-RS lists the source's studies (paged); those that are new, changed (their QIDO-RS
attributes, counts included, differ from last time) or failed last time are fetched with
WADO-RS metadata, series by series, ``dicomweb_max_requests`` requests at a time, into a spool
folder; each instance then goes to the parsing pool as a :class:`DicomJsonSource`, so it meets
the same reader, de-identification, raw and curated layers, validation and store as a file.

A study that cannot be fetched (the source unreachable, 401, 5xx after the retries, malformed
JSON, metadata with fewer instances than QIDO-RS announced) is reported with the reason, costs
that study only, and makes the exit status 1; it is fetched again by the next run. The harvest
state of a study (``fairdicom.ingest.harvest_state``) is written as soon as all of it is in the
store (after the batch that completes it), so a run killed half-way keeps what it stored and a
re-run fetches only the rest; the harvest's own record and the failures come at the end.
"""

from __future__ import annotations

import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fairdicom.config import Settings
from fairdicom.dicom.deidentify import Profile, Pseudonymizer
from fairdicom.dicom.dicomweb import Credentials, DicomwebClient
from fairdicom.dicom.dicomweb_query import endpoint_of, parse_filter, since_filter
from fairdicom.dicom.sources import Source
from fairdicom.errors import SourceError, StoreError, UsageError
from fairdicom.ingest.harvest_fetch import (
    FetchedStudy,
    ListedStudy,
    fetch_study,
    listed_study,
    study_label,
)
from fairdicom.ingest.harvest_state import (
    HarvestCounts,
    StudyState,
    harvest_lines,
    load_state,
    source_iri,
    source_lines,
    state_node,
    study_lines,
)
from fairdicom.ingest.harvest_summary import HarvestSummary
from fairdicom.ingest.harvest_tracking import StudyTracker
from fairdicom.ingest.pipeline import BatchDone, Problem, ingest_sources
from fairdicom.ingest.prune import remove_studies
from fairdicom.ingest.secret import resolve_secret
from fairdicom.ingest.summary import IngestSummary
from fairdicom.namespaces import DataIris
from fairdicom.rdf.mapping import load_mappings
from fairdicom.resources import CORE_ONTOLOGY, TAG_VOCABULARY
from fairdicom.store import GraphStore, open_store, query_form

AHEAD = 4
"""Studies fetched ahead per request slot while the parsing pool reads earlier ones."""


def _ignore(*_: object) -> None:
    return None


@dataclass
class HarvestCallbacks:
    """What a harvest tells its caller as it goes (all optional)."""

    studies: Callable[[int], None] = _ignore
    """The number of studies to fetch, once known."""
    study_done: Callable[[], None] = _ignore
    problem: Problem = _ignore
    batch_done: BatchDone = _ignore
    skipped: Problem = _ignore
    study_stored: Callable[[str], None] = _ignore
    """A study is in the store with its harvest state (its pseudonymised label)."""


def harvest(
    url: str,
    settings: Settings,
    dataset: str | None = None,
    *,
    filters: tuple[str, ...] = (),
    since: str | None = None,
    prune: bool = False,
    callbacks: HarvestCallbacks | None = None,
) -> HarvestSummary:
    """Harvest a DICOMweb source into a dataset; return the summary (raise UsageError for a
    bad URL or filter, StoreError for a store that cannot be used)."""
    tell = callbacks or HarvestCallbacks()
    endpoint = endpoint_of(url)
    dataset = dataset or settings.dataset
    query = [parse_filter(text) for text in filters]
    if since is not None:
        if any(key in ("StudyDate", "00080020") for key, _ in query):
            raise UsageError("give the study dates either with --since or with --filter StudyDate")
        query.append(since_filter(since))
    complete = not query
    if prune and not complete:
        raise UsageError(
            "--prune needs the whole source listed (a study missing from a narrowed listing is "
            "not deleted): run it without --filter and --since"
        )
    started = datetime.now(UTC)
    secret = resolve_secret(settings)
    iris = DataIris(settings.base_iri)
    pseudonyms = Pseudonymizer(secret)
    state = _read_state(settings, iris, endpoint, dataset)
    summary = HarvestSummary(endpoint, deletions_checked=complete)
    client = DicomwebClient(
        endpoint,
        Credentials(
            settings.dicomweb_token, settings.dicomweb_username, settings.dicomweb_password
        ),
        max_requests=settings.dicomweb_max_requests,
        retries=settings.dicomweb_retries,
        timeout=float(settings.dicomweb_timeout),
    )
    try:
        try:
            listing = [
                listed_study(found, endpoint, secret, pseudonyms, iris)
                for found in client.studies(query, settings.dicomweb_page_size)
            ]
        except SourceError as exc:
            summary.source_failure = str(exc)
            _write_state(settings, iris, endpoint, dataset, {}, [], started, summary)
            return summary
        studies = [s for s in listing if s is not None]
        summary.listed = len(studies)
        wanted = [s for s in studies if _changed(s, state.get(s.iri))]
        summary.unchanged = summary.listed - len(wanted)
        listed = {s.iri for s in studies}
        gone = [study for study in state if study not in listed] if complete else []
        summary.deleted = [study_label(endpoint, study) for study in gone]
        tell.studies(len(wanted))
        updates: dict[str, StudyState] = {}
        if wanted:
            where = _Target(iris, endpoint, dataset)
            summary.ingest = _ingest(client, wanted, settings, where, tell, updates, summary)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for study in wanted:
            update = updates.get(study.iri)
            if update is None:
                continue
            if update.failure:
                previous = state.get(study.iri)
                if previous is not None:  # what was harvested before stays, marked failing
                    update.instances, update.series = previous.instances, previous.series
                    update.fingerprint, update.updated = previous.fingerprint, previous.updated
            else:
                update.updated = update.updated or now
        summary.fetched = sum(1 for u in updates.values() if not u.failure)
        summary.failed = [
            (study_label(endpoint, u.study), u.failure) for u in updates.values() if u.failure
        ]
        removed = gone if prune else []
        _write_state(settings, iris, endpoint, dataset, updates, removed, started, summary)
        return summary
    finally:
        client.close()


def _read_state(
    settings: Settings, iris: DataIris, endpoint: str, dataset: str
) -> dict[str, StudyState]:
    """Return the source's harvest state (empty for a store not made yet)."""
    location = settings.store
    if not location.startswith(("http://", "https://")) and not Path(location).exists():
        return {}
    store = open_store(settings, read_only=True)
    try:
        return load_state(store, iris, endpoint, dataset)
    finally:
        store.close()


def _write_state(
    settings: Settings,
    iris: DataIris,
    endpoint: str,
    dataset: str,
    updates: dict[str, StudyState],
    removed: list[str],
    started: datetime,
    summary: HarvestSummary,
) -> None:
    """Record the harvest and the state of the studies it fetched; prune the removed ones."""
    store = open_store(settings)
    try:
        if removed:
            mappings = load_mappings(
                settings.mappings_folder, query_form, CORE_ONTOLOGY, TAG_VOCABULARY
            )
            summary.pruned_instances = remove_studies(store, iris, dataset, removed, mappings)
            summary.pruned = len(removed)
        counts = HarvestCounts(
            summary.listed,
            summary.fetched,
            summary.unchanged,
            len(summary.failed),
            summary.instances,
            len(summary.deleted),
            summary.pruned,
        )
        harvest = iris.harvest_graph(dataset)
        lines = harvest_lines(
            iris,
            uuid.uuid4().hex,
            endpoint,
            dataset,
            started,
            datetime.now(UTC),
            counts,
            summary.source_failure,
        )
        for update in updates.values():
            lines += study_lines(iris, endpoint, dataset, update)
        nodes = [state_node(iris, endpoint, dataset, s) for s in [*updates, *removed]]
        nodes.append(source_iri(iris, endpoint, dataset))
        store.replace({harvest: nodes}, {harvest: lines})
        store.flush()
    except OSError as exc:
        raise StoreError(f"cannot write the harvest state to {settings.store}: {exc}") from None
    finally:
        store.close()


def _changed(study: ListedStudy, known: StudyState | None) -> bool:
    """Return whether a listed study must be fetched (new, changed, or failed last time)."""
    return known is None or bool(known.failure) or known.fingerprint != study.fingerprint


@dataclass(frozen=True)
class _Target:
    """Where a harvest goes: the IRIs, the source's endpoint and the dataset."""

    iris: DataIris
    endpoint: str
    dataset: str


def _ingest(
    client: DicomwebClient,
    wanted: list[ListedStudy],
    settings: Settings,
    where: _Target,
    tell: HarvestCallbacks,
    updates: dict[str, StudyState],
    summary: HarvestSummary,
) -> IngestSummary:
    """Fetch the wanted studies and ingest their instances; fill ``updates`` per study and
    record each study's state as soon as all of it is in the store."""
    profile = Profile(settings.deid)
    pending: deque[tuple[ListedStudy, int]] = deque()
    consumed = 0
    tracker = StudyTracker()

    def progress(_: int) -> None:
        nonlocal consumed
        tracker.read()
        consumed += 1
        while pending and consumed >= pending[0][1]:
            consumed -= pending.popleft()[1]
            tell.study_done()

    by_label: dict[str, str] = {}

    def problem(path: str, reason: str) -> None:
        study = by_label.get(path)
        if not reason.startswith("warning:"):
            tracker.rejected(path)  # the instance just read, if it is this one
        if study is not None and not reason.startswith("warning:") and study in updates:
            updates[study].failure = updates[study].failure or f"an instance was rejected: {reason}"
        tell.problem(path, reason)

    def skipped(path: str, reason: str) -> None:
        tracker.rejected(path)
        tell.skipped(path, reason)

    def batch_done(instances: int, triples: int) -> None:
        tracker.committed(instances)
        tell.batch_done(instances, triples)

    def after_batch(store: GraphStore) -> None:
        stored = [updates[s] for s in tracker.stored() if not updates[s].failure]
        if stored:
            _record_stored(store, where, stored)
            for update in stored:
                tell.study_stored(study_label(where.endpoint, update.study))

    def sources(spool: Path) -> Iterator[Source]:
        with ThreadPoolExecutor(settings.dicomweb_max_requests, "fairdicom-dicomweb") as pool:
            futures: deque[tuple[ListedStudy, Future[FetchedStudy]]] = deque()
            queue = iter(wanted)
            for study in queue:
                futures.append((study, pool.submit(fetch_study, client, study, spool, profile)))
                if len(futures) >= settings.dicomweb_max_requests * AHEAD:
                    break
            while futures:
                study, future = futures.popleft()
                following = next(queue, None)
                if following is not None:
                    futures.append(
                        (following, pool.submit(fetch_study, client, following, spool, profile))
                    )
                fetched = future.result()
                update = StudyState(
                    study.iri, len(fetched.sources), fetched.series, study.fingerprint
                )
                updates[study.iri] = update
                if fetched.failure:
                    update.failure = fetched.failure
                    pending.append((study, 1))
                    tracker.hand(study.iri, [study.label])
                    yield Source(study.label, rejected=fetched.failure)
                    continue
                summary.instances += len(fetched.sources)
                for source in fetched.sources:
                    by_label[source.label] = study.iri
                tracker.hand(study.iri, [source.label for source in fetched.sources])
                if not fetched.sources:
                    tell.study_done()
                    continue
                pending.append((study, len(fetched.sources)))
                yield from fetched.sources

    estimate = sum(s.instances or 1 for s in wanted)
    with tempfile.TemporaryDirectory(prefix="fairdicom-dicomweb-") as folder:
        return ingest_sources(
            sources(Path(folder)),
            estimate,
            settings,
            where.dataset,
            progress=progress,
            problem=problem,
            batch_done=batch_done,
            skipped=skipped,
            after_batch=after_batch,
        )


def _record_stored(store: GraphStore, where: _Target, stored: list[StudyState]) -> None:
    """Write the harvest state of studies now in the store (beside the batch that completed
    them, through the pipeline's own store)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    iris, endpoint, dataset = where.iris, where.endpoint, where.dataset
    lines = source_lines(iris, endpoint, dataset)
    for update in stored:
        update.updated = now
        lines += study_lines(iris, endpoint, dataset, update)
    nodes = [state_node(iris, endpoint, dataset, update.study) for update in stored]
    try:
        harvest = iris.harvest_graph(dataset)
        store.replace({harvest: nodes}, {harvest: lines})
    except OSError as exc:
        raise StoreError(f"cannot write the harvest state to the store: {exc}") from None
