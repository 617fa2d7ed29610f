"""Scale benchmark: how ingest, queries, store size and memory grow from 10k to 1M instances.

    python benchmarks/scale.py [--sizes 10000 100000 1000000] [--repeats 20] [--workdir DIR]
        [--remote] [--json]

For each size, the synthetic corpus of ``benchmarks/ingest.py`` (``fairdicom synth --seed 7``,
about that many files; written once into the work folder and reused) is ingested by ``fairdicom
ingest`` in a child process (every core) into a new embedded store, as ``benchmarks/ingest.py``
does; then ``fairdicom serve`` runs on that store and one client sends each example query of
``app/fairdicom/web/examples`` ``--repeats`` times, in turn, over HTTP on 127.0.0.1.

Printed per size: the ingest rate (files/s, the summary's time: start-up included, the catalogue
refresh after it not) and its ratio to the smallest size's; the peak RSS of the ingest command's
process and of its largest child (a parsing or curation process); the store's bytes on disk per
instance (after the compaction the command runs at the end); each example's p50 and p95 in
milliseconds and the rows it answered.

Queries are uncached: every request's text ends with a different comment, so the query
service's result cache (keyed by the text and the store's generation) never answers, while
the engine parses the same query and plans it the same way; they take the whole path a client's
query takes (HTTP, admission, a worker process, serialisation of the results as SPARQL JSON). The
first round is a warm-up (the workers open the store) and is not counted.

``--remote`` also ingests each corpus into a real ``oxigraph serve`` (PyPI package ``oxigraph``)
started by the benchmark on 127.0.0.1, through ``--store http://127.0.0.1:PORT``, and prints its
rate as a ratio to the embedded store's.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _sibling(name: str) -> ModuleType:
    """Load another benchmark of this folder (its corpus, ingest and HTTP helpers)."""
    spec = importlib.util.spec_from_file_location(f"fairdicom_bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


ingest_bench = _sibling("ingest")
query_bench = _sibling("query")

EXAMPLES = sorted((ROOT / "app" / "fairdicom" / "web" / "examples").glob("*.rq"))
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]


def folder_bytes(folder: Path) -> int:
    """Return the bytes of every file under a folder."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


DATASET_QUADS = f"""
SELECT (COUNT(*) AS ?n) WHERE {{
  GRAPH ?g {{ ?s ?p ?o }} FILTER(CONTAINS(STR(?g), "/graph/{ingest_bench.DATASET}/"))
}}"""
"""The quads of the benchmark's dataset (raw, curated, quarantine graphs): the same in the
embedded store and in the remote one when both hold the same."""


def store_quads(store: Path) -> int:
    """Return the quads of the benchmark's dataset in an embedded store."""
    db = ingest_bench.pyoxigraph.Store.read_only(str(store))
    return int(next(iter(db.query(DATASET_QUADS)))[0].value)


def rows_of(reply: bytes) -> int:
    """Return the rows of a SPARQL JSON answer (1 for ASK)."""
    answer = json.loads(reply)
    return len(answer["results"]["bindings"]) if "results" in answer else 1


def query_latencies(store: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Serve the store; send each example ``repeats`` times (unique texts); return p50, p95
    (ms) and rows per example."""
    port = query_bench.free_port()
    server = subprocess.Popen(
        [*query_bench.FAIRDICOM, "serve", "--store", str(store), "--port", str(port)],
        env=query_bench.SERVER_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    texts = [(path.stem, path.read_text(encoding="utf-8")) for path in EXAMPLES]
    latencies: dict[str, list[float]] = {name: [] for name, _ in texts}
    rows: dict[str, int] = {}
    try:
        query_bench.wait_ready(port, "/sparql")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for round_ in range(repeats + 1):
            for name, text in texts:
                unique = f"{text}\n# scale {round_} {time.monotonic_ns()}"
                body = urllib.parse.urlencode({"query": unique})
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": query_bench.JSON,
                }
                started = time.perf_counter()
                conn.request("POST", "/sparql", body, headers)
                reply = conn.getresponse()
                data = reply.read()
                seconds = time.perf_counter() - started
                if reply.status != 200:
                    raise SystemExit(f"{name}: HTTP {reply.status}: {data[:500]!r}")
                rows[name] = rows_of(data)
                if round_:  # the first round warms the workers up
                    latencies[name].append(seconds)
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {
        name: {
            "p50_ms": round(query_bench.percentile(values, 50) * 1000, 1),
            "p95_ms": round(query_bench.percentile(values, 95) * 1000, 1),
            "rows": rows[name],
        }
        for name, values in latencies.items()
    }


def remote_ingest(folder: Path, work: Path) -> tuple[float, int]:
    """Ingest the corpus into a new ``oxigraph serve`` through ``--store http://...``; return
    the summary's seconds and the quads the store then held."""
    location, site = work / "oxigraph-remote", work / "oxigraph-remote-site"
    shutil.rmtree(location, ignore_errors=True)
    shutil.rmtree(site, ignore_errors=True)
    port = query_bench.free_port()
    server = subprocess.Popen(
        ["oxigraph", "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        query_bench.wait_ready(port, "/query?query=ASK%7B%7D")
        env = {**ingest_bench.child_env(ROOT / "app", location), "FAIRDICOM_DATA_DIR": str(site)}
        done = subprocess.run(
            [
                *query_bench.FAIRDICOM,
                "ingest",
                str(folder),
                "--store",
                f"http://127.0.0.1:{port}",
                "--dataset",
                ingest_bench.DATASET,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        found = re.search(r"time ([\d.]+) s", done.stdout)
        if done.returncode or found is None:
            raise SystemExit(f"remote ingest failed ({done.returncode}):\n{done.stderr[-2000:]}")
        query = urllib.parse.urlencode({"query": DATASET_QUADS})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("GET", f"/query?{query}", headers={"Accept": query_bench.JSON})
        answer = json.loads(conn.getresponse().read())
        conn.close()
        return float(found[1]), int(answer["results"]["bindings"][0]["n"]["value"])
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(location, ignore_errors=True)


def measure(work: Path, size: int, repeats: int, remote: bool) -> dict[str, Any]:
    """Return the figures of one size."""
    folder, files = ingest_bench.corpus(work, size)
    store = work / "store"
    load = os.getloadavg()[0]
    run = ingest_bench.run_ingest(folder, store)
    figures: dict[str, Any] = {
        "size": size,
        "files": len(files),
        "ingest_files_per_s": round(len(files) / run["ingest_seconds"], 1),
        "ingest_seconds": round(run["ingest_seconds"], 1),
        "startup_seconds": round(run.get("startup_seconds", 0.0), 2),
        "catalogue_seconds": round(run.get("catalogue_seconds", 0.0), 1),
        "peak_rss_mib_ingest": round(run["peak_rss_mib_main"]),
        "peak_rss_mib_child": round(run["peak_rss_mib_worker"]),
        "store_bytes_per_instance": round(folder_bytes(store) / len(files)),
        "store_quads": store_quads(store),
    }
    figures["queries"] = query_latencies(store, repeats)
    if remote:
        seconds, quads = remote_ingest(folder, work)
        figures["remote_files_per_s"] = round(len(files) / seconds, 1)
        figures["remote_store_quads"] = quads
        figures["remote_rate_ratio"] = round(
            figures["remote_files_per_s"] / figures["ingest_files_per_s"], 3
        )
    figures["load_average_before_after"] = [round(load, 1), round(os.getloadavg()[0], 1)]
    shutil.rmtree(store, ignore_errors=True)
    return figures


def table(results: list[dict[str, Any]]) -> str:
    """Return the figures as a Markdown table: a column per size."""
    first = results[0]["ingest_files_per_s"]
    head = "| figure | " + " | ".join(f"{r['files']:,} files" for r in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("ingest, files/s", [f"{r['ingest_files_per_s']:.0f}" for r in results])
    row("rate / smallest size's", [f"{r['ingest_files_per_s'] / first:.2f}" for r in results])
    row(
        "ingest seconds (start-up)",
        [f"{r['ingest_seconds']:.0f} ({r['startup_seconds']:.1f})" for r in results],
    )
    row("peak RSS, ingest process, MiB", [str(r["peak_rss_mib_ingest"]) for r in results])
    row("peak RSS, largest child, MiB", [str(r["peak_rss_mib_child"]) for r in results])
    row("store bytes per instance", [f"{r['store_bytes_per_instance']:,}" for r in results])
    row("quads of the dataset", [f"{r['store_quads']:,}" for r in results])
    if "remote_rate_ratio" in results[0]:
        row(
            "oxigraph serve: files/s (ratio)",
            [f"{r['remote_files_per_s']:.0f} ({r['remote_rate_ratio']:.2f})" for r in results],
        )
    for name in results[0]["queries"]:
        row(
            f"`{name}` p50 / p95 ms (rows)",
            [
                f"{q['p50_ms']:.0f} / {q['p95_ms']:.0f} ({q['rows']})"
                for q in (r["queries"][name] for r in results)
            ],
        )
    worst = [max(q["p95_ms"] for q in r["queries"].values()) for r in results]
    row("slowest example's p95, ms", [f"{value:.0f}" for value in worst])
    row(
        "load average before, after",
        [
            f"{r['load_average_before_after'][0]}, {r['load_average_before_after'][1]}"
            for r in results
        ],
    )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark at each size; print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    parser.add_argument("--repeats", type=int, default=20, help="requests per example and size")
    parser.add_argument("--workdir", type=Path, help="keeps the corpora (default: a temp dir)")
    parser.add_argument("--remote", action="store_true", help="also ingest into oxigraph serve")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fairdicom-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    # The benchmark's dataset is described as PUBLIC (as a public endpoint's would be), so
    # that the anonymous client's queries see it under the default access control.
    query_bench.describe(work)
    os.environ["FAIRDICOM_DESCRIPTIONS"] = query_bench.ENV["FAIRDICOM_DESCRIPTIONS"]
    results = []
    try:
        for size in args.sizes:
            figures = measure(work, size, args.repeats, args.remote)
            results.append(figures)
            print(f"--- about {size:,} files: {json.dumps(figures)}", flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if results:
        print(table(results))
        rates = [r["ingest_files_per_s"] for r in results]
        print(
            f"\nrate at the largest size / the smallest: {rates[-1] / rates[0]:.2f}; "
            f"median p95 over the examples at the largest: "
            f"{statistics.median(q['p95_ms'] for q in results[-1]['queries'].values()):.0f} ms"
        )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
