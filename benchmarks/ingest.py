"""Ingest benchmark: end-to-end rate against a bare pydicom parse loop, in the same run.

    python benchmarks/ingest.py [--instances 5000] [--small 2500] [--workdir DIR]

Prints, for a synthetic corpus: the single-core bare-parse rate
(``pydicom.dcmread(stop_before_pixels=True)`` over every file), the end-to-end
``fairdicom ingest`` rate (all cores) and their ratio; stored triples per instance (both
layers, and for CT instances alone); peak memory of the ingest at two corpus sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fairdicom.dicom.synth import write_corpus  # noqa: E402

CT_TRIPLES = """
PREFIX fd: <https://w3id.org/fairdicom/ontology#>
PREFIX dcm: <http://dicom.nema.org/resources/ontology/DCM/>
SELECT (COUNT(*) AS ?n) WHERE {
  { SELECT DISTINCT ?series WHERE { GRAPH ?c { ?series fd:modality dcm:CT } } }
  { GRAPH ?g { ?series ?p ?o } } UNION
  { GRAPH ?g { ?i fd:inSeries ?series . ?i ?p ?o } } UNION
  { GRAPH ?g { ?i fd:series ?series . ?i ?p ?o } }
}"""
CT_INSTANCES = """
PREFIX fd: <https://w3id.org/fairdicom/ontology#>
PREFIX dcm: <http://dicom.nema.org/resources/ontology/DCM/>
SELECT (COUNT(DISTINCT ?i) AS ?n) WHERE {
  GRAPH ?c { ?series fd:modality dcm:CT . ?i fd:series ?series } }"""


def corpus(directory: Path, instances: int) -> list[Path]:
    """Write a synthetic corpus of about ``instances`` files; return the files."""
    patients = max(3, instances // 165)  # about 165-195 instances a patient with (30, 60)
    summary = write_corpus(directory, patients, seed=7, instances_per_series=(30, 60))
    return summary.files


def bare_parse_rate(files: list[Path]) -> float:
    """Return files/s of a bare single-process pydicom header parse loop."""
    start = time.perf_counter()
    for path in files:
        pydicom.dcmread(path, stop_before_pixels=True)
    return len(files) / (time.perf_counter() - start)


def run_ingest(files_dir: Path, store: Path) -> tuple[float, int, int]:
    """Run ``fairdicom ingest`` in a child process; return (seconds, peak RSS in KiB of the
    command's own process, of its largest parsing worker)."""
    shutil.rmtree(store, ignore_errors=True)
    code = (
        "import sys, resource; from fairdicom.cli import main; "
        "sys.argv=['fairdicom','ingest',sys.argv[1],'--store',sys.argv[2]]; "
        "exec('try:\\n main()\\nexcept SystemExit as e:\\n code=e.code'); "
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)"
    )
    env = {**os.environ, "FAIRDICOM_SECRET": "benchmark", "PYTHONPATH": str(ROOT / "app")}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(files_dir), str(store)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    peaks = [line for line in done.stderr.splitlines() if line.startswith("PEAK")][-1].split()
    return seconds, int(peaks[1]), int(peaks[2])


def store_counts(store: Path) -> dict[str, int]:
    """Return quads in the dataset graphs, instances, and the CT-only figures."""
    import pyoxigraph

    db = pyoxigraph.Store.read_only(str(store))

    def number(query: str) -> int:
        rows = list(db.query(query))  # type: ignore[arg-type]
        return int(rows[0][0].value)

    data = number(
        "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
        "FILTER(!STRENDS(STR(?g), 'provenance')) }"
    )
    instances = number(
        "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?i "
        "<https://w3id.org/fairdicom/ontology#inSeries> ?series } "
        "FILTER(STRENDS(STR(?g), '/raw')) }"
    )
    return {
        "quads": data,
        "instances": instances,
        "ct_triples": number(CT_TRIPLES),
        "ct_instances": number(CT_INSTANCES),
    }


def main() -> None:
    """Run the benchmark and print its figures (and JSON with --json)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--small", type=int, default=2500)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fairdicom-bench-"))
    big_files = corpus(work / "big", args.instances)
    small_files = corpus(work / "small", args.small)
    bare = bare_parse_rate(big_files)
    seconds, peak_big, worker_big = run_ingest(work / "big", work / "store-big")
    counts = store_counts(work / "store-big")
    _, peak_small, worker_small = run_ingest(work / "small", work / "store-small")
    rate = len(big_files) / seconds
    figures = {
        "files": len(big_files),
        "cores": os.cpu_count(),
        "bare_parse_files_per_s_1core": round(bare, 1),
        "ingest_files_per_s": round(rate, 1),
        "ratio_ingest_to_bare": round(rate / bare, 3),
        "triples_per_instance": round(counts["quads"] / counts["instances"], 2),
        "triples_per_ct_instance": round(counts["ct_triples"] / max(1, counts["ct_instances"]), 2),
        "small_files": len(small_files),
        "peak_rss_mib_small": round(peak_small / 1024, 1),
        "peak_rss_mib_big": round(peak_big / 1024, 1),
        "worker_peak_rss_mib_small": round(worker_small / 1024, 1),
        "worker_peak_rss_mib_big": round(worker_big / 1024, 1),
        "self_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    for key, value in figures.items():
        print(f"{key:32} {value}")
    if args.json:
        print(json.dumps(figures))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
