"""Harvesting a PACS over DICOMweb, against a real Orthanc with its DICOMweb plugin.

The oracle of every harvest is an ingest of the same files: the raw and curated graphs must
be the same (same secret). Orthanc's own log says which studies' metadata were fetched, so
"only the new studies were fetched" is checked on the server's side, not on fairdicom's word.
"""

from __future__ import annotations

import collections
import io
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from fairdicom.dicom.synth import write_corpus

from tests.conftest import ROOT, SECRET, run_cli
from tests.dicomweb_proxy import proxy
from tests.helpers import export_text
from tests.orthanc import Orthanc, needs_orthanc, running_orthanc
from tests.servers import free_port

pytestmark = [needs_orthanc, pytest.mark.slow]

BASE = "http://localhost:8000/"
FAST_RETRIES = {"FAIRDICOM_DICOMWEB_RETRIES": "1"}
NOWHERE = "dicomweb+http://127.0.0.1:1/dicom-web"


# Helpers ----------------------------------------------------------------------------------


def studies_of(corpus: Path) -> dict[str, list[Path]]:
    """Return the files of each study of a corpus, by StudyInstanceUID (in a stable order)."""
    found: dict[str, list[Path]] = collections.defaultdict(list)
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        found[str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)].append(path)
    return dict(found)


def harvest(
    source: str, store: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``fairdicom ingest SOURCE`` into a store (dataset ``pacs``)."""
    return run_cli("ingest", source, "--store", str(store), "--dataset", "pacs", *args, env=env)


def ingest_files(files: list[Path], folder: Path, store: Path) -> None:
    """Ingest these files (copied into one folder) into a store: the oracle."""
    folder.mkdir(parents=True)
    for index, path in enumerate(files):
        (folder / f"{index:05d}.dcm").write_bytes(path.read_bytes())
    done = run_cli("ingest", str(folder), "--store", str(store), "--dataset", "pacs")
    assert done.returncode == 0, done.stdout + done.stderr


def dataset_graphs(store: Path) -> dict[str, list[str]]:
    """Return the N-Quads lines of the raw, curated and quarantine graphs, by layer."""
    layers: dict[str, list[str]] = {"raw": [], "curated": [], "quarantine": []}
    for line in export_text(store).splitlines():
        for layer, lines in layers.items():
            if line.rstrip(" .").endswith(f"/graph/pacs/{layer}>"):
                lines.append(line)
    return layers


def assert_same_graphs(harvested: Path, files: Path) -> None:
    """Assert that a harvested store holds exactly the graphs an ingest of the files gives:
    raw, curated and quarantine, triple for triple (sequence item IRIs included: they hash
    the items' values in their normal form, so "3.0" in a file and 3 in DICOM JSON agree)."""
    mine, theirs = dataset_graphs(harvested), dataset_graphs(files)
    for layer in ("raw", "curated", "quarantine"):
        extra, missing = (
            set(mine[layer]) - set(theirs[layer]),
            set(theirs[layer]) - set(mine[layer]),
        )
        assert not extra and not missing, (layer, sorted(extra)[:5], sorted(missing)[:5])
        assert len(mine[layer]) == len(theirs[layer]), layer


def summary_counts(output: str) -> tuple[int, int, int, int]:
    """Return (listed, fetched, unchanged, failed) from a harvest's summary line."""
    found = re.search(
        r"studies listed (\d+), fetched (\d+) \(\d+ instances\), unchanged (\d+), failed (\d+)",
        output,
    )
    assert found, output
    listed, fetched, unchanged, failed = (int(g) for g in found.groups())
    return listed, fetched, unchanged, failed


def identifying_values(files: list[Path]) -> set[str]:
    """Return the original identifiers and names of the files (none may reach the store)."""
    values: set[str] = set()
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        values |= {str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)}
        values |= {str(ds.PatientID), str(ds.PatientName)}
    return values


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic corpus with its multi-valued decimals written as scanners write them
    ("-125.000000"): DICOM JSON gives them as numbers, whose text is not the file's."""
    out = tmp_path_factory.mktemp("padded-corpus")
    write_corpus(out, patients=4, seed=11)
    padded = 0
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        ds = pydicom.dcmread(path)
        for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
            if keyword in ds and ds[keyword].VM > 1:
                ds[keyword].value = [f"{float(v):.6f}" for v in ds[keyword].value]
                padded += 1
        ds.save_as(path)
    assert padded > 0
    return out


@pytest.fixture(scope="module")
def pacs(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """An Orthanc holding the whole corpus, for the tests that only read from it."""
    with running_orthanc(tmp_path_factory.mktemp("pacs")) as orthanc:
        orthanc.upload(p for group in studies_of(corpus).values() for p in group)
        yield orthanc


# Tests ------------------------------------------------------------------------------------


def test_harvest_gives_the_graphs_of_the_files(corpus: Path, pacs: Orthanc, tmp_path: Path) -> None:
    files = [path for group in studies_of(corpus).values() for path in group]
    orthanc = pacs
    done = harvest(orthanc.source, tmp_path / "harvested", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    sources = run_cli("sources", "--store", str(tmp_path / "harvested"))
    assert summary_counts(done.stdout) == (11, 11, 0, 0)
    assert f"fetched 11 ({len(files)} instances)" in done.stdout
    assert done.stderr.count("study read:") == 11  # the progress, study by study
    ingest_files(files, tmp_path / "files", tmp_path / "from-files")
    assert_same_graphs(tmp_path / "harvested", tmp_path / "from-files")

    assert sources.returncode == 0, sources.stderr
    assert f"{orthanc.source}  dataset pacs  last harvest " in sources.stdout
    assert f"11 studies, {len(files)} instances, 0 failing" in sources.stdout

    # Patient identity never reaches the store nor the output.
    everything = export_text(tmp_path / "harvested") + done.stdout + done.stderr
    leaked = [value for value in identifying_values(files) if value in everything]
    assert not leaked


def test_rerun_fetches_only_new_studies_and_prune_removes_deleted(
    corpus: Path, tmp_path: Path
) -> None:
    by_study = studies_of(corpus)
    uids = list(by_study)
    later = uids[3:5]  # two studies the PACS receives after the first harvest
    store = tmp_path / "harvested"
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        orthanc.upload(p for uid in uids if uid not in later for p in by_study[uid])
        first = harvest(orthanc.source, store)
        assert first.returncode == 0, first.stdout + first.stderr
        assert summary_counts(first.stdout) == (9, 9, 0, 0)
        before = len(orthanc.metadata_requests())

        orthanc.upload(p for uid in later for p in by_study[uid])
        second = harvest(orthanc.source, store)
        assert second.returncode == 0, second.stdout + second.stderr
        assert summary_counts(second.stdout) == (11, 2, 9, 0)
        fetched = orthanc.metadata_requests()[before:]
        assert set(fetched) == set(later)  # Orthanc saw metadata requests for these two only

        all_files = [p for uid in uids for p in by_study[uid]]
        ingest_files(all_files, tmp_path / "all", tmp_path / "from-all")
        assert_same_graphs(store, tmp_path / "from-all")

        # A patient with other studies loses one: reported, then pruned.
        gone = uids[1]
        orthanc.delete_study(gone)
        before = len(orthanc.metadata_requests())
        reported = harvest(orthanc.source, store)
        assert reported.returncode == 0, reported.stdout + reported.stderr
        assert summary_counts(reported.stdout) == (10, 0, 10, 0)
        assert "deleted on the source: 1 studies (still in the store; --prune removes them)" in (
            reported.stdout
        )
        assert_same_graphs(store, tmp_path / "from-all")  # nothing removed without --prune
        pruned = harvest(orthanc.source, store, "--prune")
        assert pruned.returncode == 0, pruned.stdout + pruned.stderr
        assert f"pruned: 1 studies deleted on the source ({len(by_study[gone])} instances)" in (
            pruned.stdout
        )
        assert len(orthanc.metadata_requests()) == before  # nothing fetched again
    remaining = [p for uid in uids if uid != gone for p in by_study[uid]]
    ingest_files(remaining, tmp_path / "remaining", tmp_path / "from-remaining")
    assert_same_graphs(store, tmp_path / "from-remaining")


def test_prune_curates_the_patient_again_from_the_studies_it_keeps(
    corpus: Path, tmp_path: Path
) -> None:
    """A patient's curated triples come from all of its studies (its sex, here stated by one
    study only): once that study is pruned, the patient has what its other studies give, as an
    ingest of their files shows."""
    by_study = studies_of(corpus)
    patient_of = {
        uid: str(pydicom.dcmread(paths[0], stop_before_pixels=True).PatientID)
        for uid, paths in by_study.items()
    }
    patient, studies = next(
        (p, uids)
        for p in sorted(set(patient_of.values()))
        if len(uids := [u for u in by_study if patient_of[u] == p]) > 1
    )
    gone = studies[0]
    files: dict[str, list[Path]] = {}
    for uid in studies:  # Patient's Sex only in the study that goes
        folder = tmp_path / "pacs-files" / uid
        folder.mkdir(parents=True)
        for path in by_study[uid]:
            ds = pydicom.dcmread(path)
            if uid == gone:
                ds.PatientSex = "F"
            elif "PatientSex" in ds:
                del ds.PatientSex
            ds.save_as(folder / path.name, enforce_file_format=True)
        files[uid] = sorted(folder.iterdir())
    store = tmp_path / "harvested"
    sex = "<https://w3id.org/fairdicom/ontology#sex>"
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        orthanc.upload(p for uid in studies for p in files[uid])
        first = harvest(orthanc.source, store)
        assert first.returncode == 0, first.stdout + first.stderr
        assert any(sex in line for line in dataset_graphs(store)["curated"])  # from `gone`
        orthanc.delete_study(gone)
        pruned = harvest(orthanc.source, store, "--prune")
        assert pruned.returncode == 0, pruned.stdout + pruned.stderr
        assert "pruned: 1 studies deleted on the source" in pruned.stdout
    kept = [p for uid in studies[1:] for p in files[uid]]
    ingest_files(kept, tmp_path / "kept", tmp_path / "from-kept")
    assert not any(sex in line for line in dataset_graphs(tmp_path / "from-kept")["curated"])
    assert_same_graphs(store, tmp_path / "from-kept")
    assert patient not in export_text(store)


def test_orthanc_killed_mid_harvest_then_rerun_completes(corpus: Path, tmp_path: Path) -> None:
    files = [path for group in studies_of(corpus).values() for path in group]
    store = tmp_path / "harvested"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "app"),
        "FAIRDICOM_DICOMWEB_RETRIES": "0",
        "FAIRDICOM_DICOMWEB_MAX_REQUESTS": "1",
    }
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        orthanc.upload(files)
        with proxy(orthanc.port, hold_after=3) as (source, state):
            command = [sys.executable, "-m", "fairdicom.cli", "ingest", source]
            child = subprocess.Popen(
                [*command, "--store", str(store), "--dataset", "pacs"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                start_new_session=True,
            )
            watchdog = threading.Timer(300, os.killpg, (child.pid, signal.SIGKILL))
            watchdog.start()
            try:
                # Events: the fourth metadata request reaches the proxy and is held there.
                assert state.held.wait(120), "the harvest never asked for a fourth series"
                orthanc.kill()
                state.release.set()
                out, err = child.communicate(timeout=240)
            finally:
                watchdog.cancel()
            assert child.returncode == 1, out + err
            listed, fetched, _, failed = summary_counts(out)
            assert listed == 11 and failed >= 1 and fetched + failed == 11
            assert "HTTP 502" in out

            orthanc.start()  # the same storage and port
            state.hold_after = None
            before = len(orthanc.metadata_requests())
            rerun = harvest(source, store)
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
            assert summary_counts(rerun.stdout)[1] == failed
            # Orthanc's log: the re-run asked for the failed studies only.
            assert len(set(orthanc.metadata_requests()[before:])) == failed
    ingest_files(files, tmp_path / "files", tmp_path / "from-files")
    assert_same_graphs(store, tmp_path / "from-files")


def test_harvest_killed_mid_run_keeps_the_studies_it_stored(corpus: Path, tmp_path: Path) -> None:
    """Each study's harvest state is written as soon as the study is in the store: a harvest
    killed half-way (SIGKILL, no chance to clean up) keeps what it stored, and the re-run
    fetches only the other studies."""
    from fairdicom.dicom.deidentify import Pseudonymizer

    by_study = studies_of(corpus)
    files = [p for group in by_study.values() for p in group]
    pseudonym = {Pseudonymizer(SECRET).uid(uid): uid for uid in by_study}
    store = tmp_path / "harvested"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "app"),
        "FAIRDICOM_DICOMWEB_MAX_REQUESTS": "1",
        "FAIRDICOM_BATCH_SIZE": "1",  # a batch per study
    }
    series = sum(
        len({pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID for p in g})
        for g in by_study.values()
    )
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        orthanc.upload(files)
        # The proxy holds the metadata requests of the last few studies: the run stalls there.
        with proxy(orthanc.port, hold_after=series - 4) as (source, state):
            command = [sys.executable, "-m", "fairdicom.cli", "ingest", source, "-v"]
            child = subprocess.Popen(
                [*command, "--store", str(store), "--dataset", "pacs"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                start_new_session=True,
            )
            announced: list[str] = []
            first = threading.Event()

            def watch() -> None:
                assert child.stderr is not None
                for line in child.stderr:
                    if line.startswith("study stored: "):
                        announced.append(line.rsplit(" ", 1)[-1].strip())
                        first.set()

            reader = threading.Thread(target=watch, daemon=True)
            reader.start()
            try:
                # Events: a request is held, and the run says a study is in the store.
                assert state.held.wait(120), "the harvest never reached the held requests"
                assert first.wait(120), "no study was stored before the held requests"
            finally:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(60)
                reader.join(60)
                assert child.stderr is not None
                child.stderr.close()
            # The held requests stay held (the proxy lets them go when it stops): Orthanc's
            # log then shows the re-run's requests only.
            state.hold_after = None
            stored = {pseudonym[label] for label in announced}
            listing = run_cli("sources", "--store", str(store))
            found = re.search(
                r"in the store: (\d+) studies, \d+ instances, 0 failing", listing.stdout
            )
            assert found, listing.stdout + listing.stderr
            kept = int(found[1])
            assert len(stored) <= kept < len(by_study)

            before = len(orthanc.metadata_requests())
            rerun = harvest(source, store)
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
            remaining = len(by_study) - kept
            assert summary_counts(rerun.stdout) == (len(by_study), remaining, kept, 0)
            again = set(orthanc.metadata_requests()[before:])
            assert len(again) == remaining and not again & stored
    ingest_files(files, tmp_path / "files", tmp_path / "from-files")
    assert_same_graphs(store, tmp_path / "from-files")


def test_failing_studies_are_reported_and_fetched_again(corpus: Path, tmp_path: Path) -> None:
    by_study = studies_of(corpus)
    uids = list(by_study)
    faults = dict(zip(uids[2:6], ("503", "malformed", "cut", "short"), strict=True))
    files = [p for group in by_study.values() for p in group]
    store = tmp_path / "harvested"
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        orthanc.upload(files)
        with proxy(orthanc.port, faults=dict(faults)) as (source, state):
            first = harvest(source, store, env=FAST_RETRIES)
            assert first.returncode == 1, first.stdout + first.stderr
            assert summary_counts(first.stdout) == (11, 7, 0, 4)
            reasons = re.findall(r"^failed \S+ study 2\.25\.\d+: (.*)$", first.stdout, re.M)
            assert len(reasons) == 4, first.stdout
            text = "\n".join(reasons)
            assert "HTTP 503 Service Unavailable after 2 tries" in text
            assert "the answer was cut off" in text
            assert "cut off or is malformed JSON" in text
            assert re.search(r"cut off \(\d+ of \d+ instances in series \d+\)", text)
            for uid in faults:  # never the original UID in a report
                assert uid not in first.stdout + first.stderr
            listing = run_cli("sources", "--store", str(store))
            assert "4 failing" in listing.stdout, listing.stdout

            state.faults.clear()
            before = len(orthanc.metadata_requests())
            second = harvest(source, store)
            assert second.returncode == 0, second.stdout + second.stderr
            assert summary_counts(second.stdout) == (11, 4, 7, 0)
            assert set(orthanc.metadata_requests()[before:]) == set(faults)
            assert "0 failing" in run_cli("sources", "--store", str(store)).stdout
    ingest_files(files, tmp_path / "files", tmp_path / "from-files")
    assert_same_graphs(store, tmp_path / "from-files")


def test_authentication_basic_and_bearer(corpus: Path, tmp_path: Path) -> None:
    files = studies_of(corpus)
    some = [p for uid in list(files)[:2] for p in files[uid]]
    users = {"alice": "wonder-land-42"}
    with running_orthanc(tmp_path / "orthanc", users=users) as orthanc:
        orthanc.upload(some)
        refused = harvest(orthanc.source, tmp_path / "a", env=FAST_RETRIES)
        assert refused.returncode == 1
        assert "HTTP 401" in refused.stdout and "dicomweb_username" in refused.stdout
        basic = {
            "FAIRDICOM_DICOMWEB_USERNAME": "alice",
            "FAIRDICOM_DICOMWEB_PASSWORD": "wonder-land-42",
        }
        allowed = harvest(orthanc.source, tmp_path / "a", env=basic)
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        assert f"fetched 2 ({len(some)} instances)" in allowed.stdout
        assert "wonder-land-42" not in allowed.stdout + allowed.stderr

    with running_orthanc(tmp_path / "open") as orthanc:
        orthanc.upload(some)
        with proxy(orthanc.port, token="t0ken-of-the-site") as (source, state):
            refused = harvest(source, tmp_path / "b")
            assert refused.returncode == 1 and "HTTP 401" in refused.stdout
            assert state.unauthorized >= 1
            bearer = {"FAIRDICOM_DICOMWEB_TOKEN": "t0ken-of-the-site"}
            allowed = harvest(source, tmp_path / "b", env=bearer)
            assert allowed.returncode == 0, allowed.stdout + allowed.stderr
            assert f"fetched 2 ({len(some)} instances)" in allowed.stdout


def test_basic_credentials_per_host_from_netrc(corpus: Path, tmp_path: Path) -> None:
    """Without configured credentials, a source's host finds its user and password in the
    netrc file (as curl, git and pip read it): credentials per host, kept out of settings."""
    some = next(iter(studies_of(corpus).values()))
    netrc = tmp_path / "netrc"
    with running_orthanc(tmp_path / "orthanc", users={"bob": "builder-7"}) as orthanc:
        orthanc.upload(some)
        netrc.write_text("machine 127.0.0.1 login bob password wrong\n")
        netrc.chmod(0o600)
        refused = harvest(orthanc.source, tmp_path / "s", env={**FAST_RETRIES, "NETRC": str(netrc)})
        assert refused.returncode == 1 and "HTTP 401" in refused.stdout
        netrc.write_text("machine 127.0.0.1 login bob password builder-7\n")
        allowed = harvest(orthanc.source, tmp_path / "s", env={"NETRC": str(netrc)})
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        assert f"fetched 1 ({len(some)} instances)" in allowed.stdout
        assert "builder-7" not in allowed.stdout + allowed.stderr


def test_concurrent_requests_are_bounded(pacs: Orthanc, tmp_path: Path) -> None:
    with proxy(pacs.port) as (source, state):
        done = harvest(source, tmp_path / "s", env={"FAIRDICOM_DICOMWEB_MAX_REQUESTS": "2"})
        assert done.returncode == 0, done.stdout + done.stderr
        assert 1 <= state.max_in_flight <= 2
        assert state.metadata == 22  # one request per series, none more


def test_filters_and_since_narrow_the_listing(corpus: Path, pacs: Orthanc, tmp_path: Path) -> None:
    by_study = studies_of(corpus)
    modalities = {
        uid: {str(pydicom.dcmread(p, stop_before_pixels=True).Modality) for p in paths}
        for uid, paths in by_study.items()
    }
    orthanc = pacs
    before = len(orthanc.metadata_requests())
    done = harvest(orthanc.source, tmp_path / "s", "--filter", "ModalitiesInStudy=CT")
    assert done.returncode == 0, done.stdout + done.stderr
    with_ct = {uid for uid, found in modalities.items() if "CT" in found}
    assert set(orthanc.metadata_requests()[before:]) == with_ct
    assert "deleted studies: not checked" in done.stdout
    future = harvest(orthanc.source, tmp_path / "t", "--since", "2999-01-01")
    assert future.returncode == 0, future.stdout + future.stderr
    assert summary_counts(future.stdout) == (0, 0, 0, 0)


def test_unreachable_source_is_reported(tmp_path: Path) -> None:
    source = f"dicomweb+http://127.0.0.1:{free_port()}/dicom-web"
    done = harvest(source, tmp_path / "s", env={"FAIRDICOM_DICOMWEB_RETRIES": "0"})
    assert done.returncode == 1
    assert "QIDO-RS study search: cannot connect to" in done.stdout
    assert "Traceback" not in done.stderr
    configured = {"FAIRDICOM_DICOMWEB_SOURCES": "dicomweb+http://pacs.example:8042/dicom-web"}
    listing = run_cli("sources", "--store", str(tmp_path / "s"), env=configured)
    assert "dicomweb+http://pacs.example:8042/dicom-web  never harvested" in listing.stdout
    assert f"{source}  dataset pacs  last harvest " in listing.stdout
    assert "the source could not be listed" in listing.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dicomweb+http://u:pw@127.0.0.1:1/dicom-web"], "must not carry credentials"),
        ([NOWHERE, "--prune", "--filter", "Modality=CT"], "--prune needs"),
        ([NOWHERE, "--filter", "Nonsense=1"], "not a DICOM keyword"),
        ([NOWHERE, "--filter", "limit=5"], "set by fairdicom"),
        ([NOWHERE, "--since", "last week"], "use a date"),
        (
            [NOWHERE, "--since", "2020", "--filter", "StudyDate=2021"],
            "either with --since",
        ),
        ([NOWHERE, "dicomweb+http://127.0.0.1:2/"], "one DICOMweb URL"),
        ([str(ROOT / "tests"), "--filter", "Modality=CT"], "are for a dicomweb"),
    ],
)
def test_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    done = run_cli("ingest", *args, "--store", str(tmp_path / "s"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr


def test_bulk_data_kept_as_from_the_file(corpus: Path, tmp_path: Path) -> None:
    """A binary attribute the profile keeps comes as a BulkDataURI from Orthanc; the harvest
    fetches it, so the instance gives the triples of its file."""
    source_file = next(iter(studies_of(corpus).values()))[0]
    ds = pydicom.dcmread(source_file)
    ds.add_new(0x00281101, "US", [4, 0, 16])  # RedPaletteColorLookupTableDescriptor
    ds.add_new(0x00281201, "OW", bytes(range(8)))  # RedPaletteColorLookupTableData: kept
    ds.add_new(0x00291010, "OB", b"private bytes")  # private, no creator: removed
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "x.dcm").write_bytes(out.getvalue())
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        orthanc.upload([tmp_path / "one" / "x.dcm"])
        done = harvest(orthanc.source, tmp_path / "harvested")
        assert done.returncode == 0, done.stdout + done.stderr
    ingest_files([tmp_path / "one" / "x.dcm"], tmp_path / "files", tmp_path / "from-files")
    assert_same_graphs(tmp_path / "harvested", tmp_path / "from-files")
    assert "RedPaletteColorLookupTableData" in export_text(tmp_path / "harvested")


def test_json_numbers_become_dicom_text() -> None:
    from fairdicom.dicom.dicom_json import Number, format_number

    cases = {
        ("DS", "-180.59020000000001"): "-180.5902",
        ("DS", "0.71484400000000003"): "0.714844",
        ("DS", "3"): "3",
        ("DS", "2.5"): "2.5",
        ("IS", "12"): "12",
        ("IS", "12.0"): "12",
        ("DS", "1e-300"): "1e-300",
    }
    for (vr, text), expected in cases.items():
        assert format_number(vr, Number(text)) == expected
    assert format_number("DS", "1.500") == "1.500"  # a JSON string is written unchanged
