"""Ingest benchmark: end-to-end rate against a bare pydicom parse loop, in the same run.

    python benchmarks/ingest.py [--sizes 5000 20000 100000] [--workdir DIR] [--json]
        [--baseline DIR] [--rounds N] [--pixel-kib KIB]

For each size, a synthetic corpus (``fairdicom synth OUT --patients N --seed 7``, N chosen for
about that many files; kept in the work folder and reused) is read by a bare single-process
``pydicom.dcmread(stop_before_pixels=True)`` loop, before and after being ingested end to end
by ``fairdicom ingest`` in a child process (every core) into a new store (every file is read
once first, so that no loop reads from the disk). Printed per size:
the bare rate (before, after, mean), the ingest rate (the summary's time: start-up included,
the catalogue refresh after it not) and its ratio to the mean bare rate; apart, the start-up
and what the command does after the ingest: the labels and mappings graphs, the catalogue
refresh (figures and dumps), the compaction; the command's whole time (``command_seconds``,
Python's start-up and imports included); CPU milliseconds per file of the ingest process
and of its workers; peak RSS of both; stored quads per instance, overall and per modality
(quads of a modality's series and instances over its instances); the load average; and the
reader's cost: CPU milliseconds per file of one process reading, de-identifying and converting
every file (``FileWorker``, what a parsing process does), beside the bare parse's.

``--baseline DIR`` compares with another version of fairdicom, whose package is
``DIR/fairdicom`` (``git archive COMMIT app | tar -x -C /tmp/base`` gives ``/tmp/base/app``):
each round ingests with the baseline, then with this checkout, so that both see the same load;
the rates of every round are printed, with their median and spread.

``--pixel-kib KIB`` gives every image of the corpora pixel data of that size (512: a CT slice),
kept in corpora of their own: the synthetic headers alone hide what reading a file costs
beyond its header.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom
import pyoxigraph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))

from fairdicom.dicom.synth import add_pixel_data, write_corpus  # noqa: E402

FILES_PER_PATIENT = 46
"""Files a synthetic patient has on average (seed 7, instances per series by modality)."""
DATASET = "bench"
FD = "https://w3id.org/fairdicom/ontology#"
PER_MODALITY = f"""
PREFIX fd: <{FD}>
SELECT ?modality (COUNT(DISTINCT ?series) AS ?series) (COUNT(DISTINCT ?i) AS ?instances)
WHERE {{ GRAPH ?c {{ ?series fd:modality ?modality }} GRAPH ?r {{ ?i fd:inSeries ?series }} }}
GROUP BY ?modality"""
SERIES_QUADS = f"""
PREFIX fd: <{FD}>
SELECT ?modality (COUNT(*) AS ?quads)
WHERE {{ GRAPH ?c {{ ?series fd:modality ?modality }} GRAPH ?g {{ ?series ?p ?o }} }}
GROUP BY ?modality"""
INSTANCE_QUADS = f"""
PREFIX fd: <{FD}>
SELECT ?modality (COUNT(*) AS ?quads)
WHERE {{ GRAPH ?c {{ ?series fd:modality ?modality }} GRAPH ?r {{ ?i fd:inSeries ?series }}
         GRAPH ?g {{ ?i ?p ?o }} }}
GROUP BY ?modality"""
CHILD = """
import resource, sys, time
import fairdicom.ingest.pipeline as pipeline
from fairdicom.cli import main
ingest = pipeline.ingest
def timed(*args, **kwargs):  # the summary prints its time to 0.1 s: 3 % of a 5k run
    summary = ingest(*args, **kwargs)
    print('INGEST_SECONDS', summary.seconds, file=sys.stderr)
    return summary
pipeline.ingest = timed
sys.argv = ['fairdicom', 'ingest', sys.argv[1], '--store', sys.argv[2], '--dataset', 'bench']
try:
    main()
except SystemExit:
    pass
me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print('USAGE', me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime, me.ru_maxrss,
      kids.ru_maxrss, file=sys.stderr)
"""
READER = """
import sys, time
from pathlib import Path
from fairdicom.config import load_settings
from fairdicom.dicom.sources import iter_sources
from fairdicom.ingest.worker import FileWorker
settings = load_settings(secret='benchmark')
sources = list(iter_sources([Path(sys.argv[1])]))
work = FileWorker(settings.base_iri, 'benchmark', settings.deid)
start = time.process_time()
for source in sources:
    work(source)
print((time.process_time() - start) * 1000 / len(sources))
"""
BARE = """
import sys, time
from pathlib import Path
import pydicom
files = sorted(Path(sys.argv[1]).rglob('*.dcm'))
start = time.process_time()
for path in files:
    pydicom.dcmread(path, stop_before_pixels=True)
print((time.process_time() - start) * 1000 / len(files))
"""


def corpus(work: Path, size: int, pixel_kib: int = 0) -> tuple[Path, list[Path]]:
    """Return the folder and files of a synthetic corpus of about ``size`` files (written
    once), with pixel data of ``pixel_kib`` KiB behind each header but SR documents' (0:
    headers only)."""
    folder = work / (f"corpus-{size}-pixels-{pixel_kib}" if pixel_kib else f"corpus-{size}")
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        write_corpus(folder, max(3, round(size / FILES_PER_PATIENT)), seed=7)
        if pixel_kib:
            add_pixel_data(sorted(folder.rglob("*.dcm")), pixel_kib)
        done.write_text("")
    return folder, sorted(folder.rglob("*.dcm"))


def warm_page_cache(files: list[Path]) -> None:
    """Read every file once, so that neither the bare loop nor the ingest reads from the disk
    (a corpus not read for a while made the first bare loop half as fast as the second)."""
    for path in files:
        path.read_bytes()


def bare_parse_rate(files: list[Path]) -> float:
    """Return files/s of a bare single-process pydicom header parse loop."""
    start = time.perf_counter()
    for path in files:
        pydicom.dcmread(path, stop_before_pixels=True)
    return len(files) / (time.perf_counter() - start)


def child_env(app: Path, store: Path) -> dict[str, str]:
    """Return the environment of a child that runs the fairdicom found in ``app``."""
    return {
        **os.environ,
        "FAIRDICOM_SECRET": "benchmark",
        "FAIRDICOM_DATA_DIR": str(store.parent / f"{store.name}-site"),
        "PYTHONPATH": str(app),
    }


def cpu_ms_per_file(script: str, folder: Path, app: Path, work: Path) -> float:
    """Return the CPU milliseconds per file of a one-process loop (READER or BARE)."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder)],
        env=child_env(app, work / "s"),
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    return round(float(done.stdout.split()[-1]), 3)


def run_ingest(
    folder: Path, store: Path, app: Path = ROOT / "app", url: str = ""
) -> dict[str, float]:
    """Run ``fairdicom ingest`` (the one found in ``app``) in a child process into the new
    store ``store`` (or the server at ``url``, ``store`` naming its data folder); return its
    figures."""
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(store.parent / f"{store.name}-site", ignore_errors=True)
    env = child_env(app, store)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), url or str(store)],
        env=env,
        cwd=store.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    output = done.stdout + done.stderr
    ingest = re.search(r"INGEST_SECONDS ([\d.]+)", output)
    usage = re.search(r"USAGE ([\d.]+) ([\d.]+) (\d+) (\d+)", output)
    if ingest is None or usage is None:
        raise SystemExit(output)
    figures = {
        "command_seconds": wall,
        "ingest_seconds": float(ingest[1]),
        "cpu_seconds_main": float(usage[1]),
        "cpu_seconds_workers": float(usage[2]),
        "peak_rss_mib_main": int(usage[3]) / 1024,
        "peak_rss_mib_worker": int(usage[4]) / 1024,
    }
    parts = {"start-up": "startup", "published in": "catalogue", "figures": "figures"}
    parts |= {"dumps": "dumps", "mappings refreshed in": "labels", "for queries in": "compact"}
    for text, name in parts.items():
        found = re.search(rf"{text} ([\d.]+) s", output)
        if found:
            figures[f"{name}_seconds"] = float(found[1])
    return figures


def store_counts(store: Path) -> dict[str, object]:
    """Return quads and instances of the dataset, and quads per instance per modality."""
    db = pyoxigraph.Store.read_only(str(store))

    def rows(query: str) -> dict[str, tuple[int, ...]]:
        found = {}
        for row in db.query(query):  # type: ignore[union-attr]
            name = str(row[0].value).rsplit("/", 1)[-1]
            found[name] = tuple(int(term.value) for term in list(row)[1:])
        return found

    graphs = [g for g in db.named_graphs() if f"/graph/{DATASET}/" in str(g.value)]
    quads = sum(len(list(db.quads_for_pattern(None, None, None, g))) for g in graphs)
    members = rows(PER_MODALITY)
    series_quads, instance_quads = rows(SERIES_QUADS), rows(INSTANCE_QUADS)
    instances = sum(n for _, n in members.values())
    per_modality = {
        modality: round(
            (series_quads.get(modality, (0,))[0] + instance_quads.get(modality, (0,))[0]) / n, 2
        )
        for modality, (_, n) in sorted(members.items())
    }
    return {
        "quads": quads,
        "instances": instances,
        "quads_per_instance": round(quads / max(1, instances), 2),
        "quads_per_instance_by_modality": per_modality,
    }


def measure(
    work: Path, size: int, baseline: Path | None, rounds: int, pixel_kib: int = 0
) -> dict[str, object]:
    """Return the figures of one corpus size (with a baseline, each round runs both)."""
    folder, files = corpus(work, size, pixel_kib)
    load = os.getloadavg()[0]
    versions = {"ours": ROOT / "app"}
    if baseline is not None:
        versions = {"baseline": baseline, **versions}
    # The bare loop runs before and after the ingests: the machine may be shared, and a load
    # that changes meanwhile shows as two different rates.
    warm_page_cache(files)
    before = bare_parse_rate(files)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
    reader: dict[str, list[float]] = {name: [] for name in [*versions, "bare"]}
    loads = [load]
    for _ in range(rounds):
        reader["bare"].append(cpu_ms_per_file(BARE, folder, ROOT / "app", work))
        for name, app in versions.items():
            reader[name].append(cpu_ms_per_file(READER, folder, app, work))
            runs[name].append(run_ingest(folder, work / "s", app))
            loads.append(os.getloadavg()[0])
    after = bare_parse_rate(files)
    bare = (before + after) / 2
    counts = store_counts(work / "s")  # the last run: this checkout's
    figures: dict[str, object] = {
        "files": len(files),
        "load_average_before_during_after": [round(x, 2) for x in loads],
        "bare_files_per_s_1core_before_after": (round(before), round(after)),
        "bare_files_per_s_1core": round(bare),
        "bare_cpu_ms_per_file": reader.pop("bare"),
    }
    for name, found in runs.items():
        rates = [len(files) / run["ingest_seconds"] for run in found]
        rate = statistics.median(rates)
        last = found[-1]
        cpu = {k: v * 1000 / len(files) for k, v in last.items() if k.startswith("cpu")}
        figures[name] = {
            "reader_cpu_ms_per_file": reader[name],
            "ingest_files_per_s": [round(r) for r in rates],
            "ingest_files_per_s_median": round(rate),
            "ratio": round(rate / bare, 3),
            "ratio_spread": [round(min(rates) / bare, 3), round(max(rates) / bare, 3)],
            **{k: round(v, 2) for k, v in last.items() if not k.startswith("cpu")},
            **{
                f"{k.removeprefix('cpu_seconds_')}_cpu_ms_per_file": round(v, 3)
                for k, v in cpu.items()
            },
        }
    figures.update(counts)
    return figures


def main() -> None:
    """Run the benchmark and print its figures (and JSON with --json)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--workdir", type=Path, help="keeps the corpora (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--baseline", type=Path, help="folder holding another version's fairdicom package"
    )
    parser.add_argument("--rounds", type=int, default=1, help="ingests per version and size")
    parser.add_argument(
        "--pixel-kib",
        type=int,
        default=0,
        help="pixel data behind each header, in KiB (512: a CT slice; default: headers only)",
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fairdicom-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes:
        figures = measure(work, size, args.baseline, args.rounds, args.pixel_kib)
        results.append(figures)
        print(f"--- about {size} files")
        for key, value in figures.items():
            print(f"{key:34} {value}")
    if len(results) > 1:
        first, last = (r["ours"] for r in (results[0], results[-1]))
        assert isinstance(first, dict) and isinstance(last, dict)
        ratio = last["ingest_files_per_s_median"] / first["ingest_files_per_s_median"]
        print(f"{'rate largest / smallest':34} {ratio:.3f}")
    if args.json:
        print(json.dumps(results))
    shutil.rmtree(work / "s", ignore_errors=True)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
