"""Ingest benchmark: end-to-end rate against a bare pydicom parse loop, in the same run.

    python benchmarks/ingest.py [--sizes 5000 20000 100000] [--workdir DIR] [--json]

For each size, a synthetic corpus (``fairdicom synth OUT --patients N --seed 7``, N chosen for
about that many files; kept in the work folder and reused) is read by a bare single-process
``pydicom.dcmread(stop_before_pixels=True)`` loop, before and after being ingested end to end
by ``fairdicom ingest`` in a child process (every core) into a new store. Printed per size:
the bare rate (before, after, mean), the ingest rate (the summary's time: start-up included,
the catalogue refresh after it not) and its ratio to the mean bare rate; the start-up and the
catalogue refresh (figures and dumps) apart; CPU milliseconds per file of the ingest process
and of its workers; peak RSS of both; stored quads per instance, overall and per modality
(quads of a modality's series and instances over its instances); the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom
import pyoxigraph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))

from fairdicom.dicom.synth import write_corpus  # noqa: E402

FILES_PER_PATIENT = 46
"""Files a synthetic patient has on average (seed 7, instances per series by modality)."""
DATASET = "bench"
FD = "https://w3id.org/fairdicom/ontology#"
PER_MODALITY = f"""
PREFIX fd: <{FD}>
SELECT ?modality (COUNT(DISTINCT ?series) AS ?series) (COUNT(DISTINCT ?i) AS ?instances)
WHERE {{ GRAPH ?c {{ ?series fd:modality ?modality . ?i fd:series ?series }} }}
GROUP BY ?modality"""
SERIES_QUADS = f"""
PREFIX fd: <{FD}>
SELECT ?modality (COUNT(*) AS ?quads)
WHERE {{ GRAPH ?c {{ ?series fd:modality ?modality }} GRAPH ?g {{ ?series ?p ?o }} }}
GROUP BY ?modality"""
INSTANCE_QUADS = f"""
PREFIX fd: <{FD}>
SELECT ?modality (COUNT(*) AS ?quads)
WHERE {{ GRAPH ?c {{ ?series fd:modality ?modality . ?i fd:series ?series }}
         GRAPH ?g {{ ?i ?p ?o }} }}
GROUP BY ?modality"""
CHILD = """
import resource, sys, time
from fairdicom.cli import main
sys.argv = ['fairdicom', 'ingest', sys.argv[1], '--store', sys.argv[2], '--dataset', 'bench']
try:
    main()
except SystemExit:
    pass
me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print('USAGE', me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime, me.ru_maxrss,
      kids.ru_maxrss, file=sys.stderr)
"""


def corpus(work: Path, size: int) -> tuple[Path, list[Path]]:
    """Return the folder and files of a synthetic corpus of about ``size`` files (written
    once)."""
    folder = work / f"corpus-{size}"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        write_corpus(folder, max(3, round(size / FILES_PER_PATIENT)), seed=7)
        done.write_text("")
    return folder, sorted(folder.rglob("*.dcm"))


def bare_parse_rate(files: list[Path]) -> float:
    """Return files/s of a bare single-process pydicom header parse loop."""
    start = time.perf_counter()
    for path in files:
        pydicom.dcmread(path, stop_before_pixels=True)
    return len(files) / (time.perf_counter() - start)


def run_ingest(folder: Path, store: Path) -> dict[str, float]:
    """Run ``fairdicom ingest`` in a child process; return its figures."""
    shutil.rmtree(store, ignore_errors=True)
    env = {
        **os.environ,
        "FAIRDICOM_SECRET": "benchmark",
        "FAIRDICOM_DATA_DIR": str(store.parent / f"{store.name}-site"),
        "PYTHONPATH": str(ROOT / "app"),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(store)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    output = done.stdout + done.stderr
    ingest = re.search(r"time ([\d.]+) s", output)
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
    for text, name in {**parts, "dumps": "dumps"}.items():
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


def measure(work: Path, size: int) -> dict[str, object]:
    """Return the figures of one corpus size."""
    folder, files = corpus(work, size)
    load = os.getloadavg()[0]
    # The bare loop runs before and after the ingest: the machine may be shared, and a load
    # that changes meanwhile shows as two different rates.
    before = bare_parse_rate(files)
    ingest = run_ingest(folder, work / "s")
    after = bare_parse_rate(files)
    bare = (before + after) / 2
    counts = store_counts(work / "s")
    rate = len(files) / ingest["ingest_seconds"]
    cpu = {k: round(v * 1000 / len(files), 3) for k, v in ingest.items() if k.startswith("cpu")}
    return {
        "files": len(files),
        "load_average_before": round(load, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "bare_files_per_s_1core_before_after": (round(before), round(after)),
        "bare_files_per_s_1core": round(bare),
        "ingest_files_per_s": round(rate),
        "ratio": round(rate / bare, 3),
        **{k: round(v, 2) for k, v in ingest.items() if not k.startswith("cpu")},
        **{f"{k.removeprefix('cpu_seconds_')}_cpu_ms_per_file": v for k, v in cpu.items()},
        **counts,
    }


def main() -> None:
    """Run the benchmark and print its figures (and JSON with --json)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--workdir", type=Path, help="keeps the corpora (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fairdicom-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes:
        figures = measure(work, size)
        results.append(figures)
        print(f"--- about {size} files")
        for key, value in figures.items():
            print(f"{key:34} {value}")
    if len(results) > 1:
        first, last = results[0]["ingest_files_per_s"], results[-1]["ingest_files_per_s"]
        assert isinstance(first, int) and isinstance(last, int)
        print(f"{'rate largest / smallest':34} {last / first:.3f}")
    if args.json:
        print(json.dumps(results))
    shutil.rmtree(work / "s", ignore_errors=True)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
