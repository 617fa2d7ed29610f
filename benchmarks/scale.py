"""Scale benchmark: how ingest, queries, store size and memory grow from 10k to 1M instances.

    python benchmarks/scale.py [--sizes 10000 100000 1000000] [--repeats 20] [--workdir DIR]
        [--remote] [--json]

For each size, the synthetic corpus of ``benchmarks/ingest.py`` (``fairdicom synth --seed 7``,
about that many files; written once into the work folder and reused) is ingested by ``fairdicom
ingest`` in a child process (every core) into a new embedded store, as ``benchmarks/ingest.py``
does; then ``fairdicom serve`` runs on that store and one client sends each example query of
``app/fairdicom/web/examples`` ``--repeats`` times, in turn, over HTTP on 127.0.0.1.

Printed per size: the ingest rate (files/s, the summary's time: start-up included, the labels,
catalogue refresh and compaction after it not, each printed apart) and its ratio to the smallest
size's; the peak RSS of the ingest command's process and of its largest child (a parsing or
curation process); the store's bytes on disk per instance (after the compaction the command runs
at the end); each example's p50 and p95 in milliseconds and the rows it answered.

Queries are uncached: every request's text ends with a different comment, so the query
service's result cache (keyed by the text and the store's generation) never answers, while
the engine parses the same query and plans it the same way; they take the whole path a client's
query takes (HTTP, admission, a worker process, serialisation of the results as SPARQL JSON). The
first round is a warm-up (the workers open the store) and is not counted.

``--remote`` also ingests each corpus into a real ``oxigraph serve`` (PyPI package ``oxigraph``)
started by the benchmark on 127.0.0.1, through ``--store http://127.0.0.1:PORT``, and prints its
rate as a ratio to the embedded store's, and the peak RSS of that ingest's processes: the store's
engine then runs in the server, so these are fairdicom's own memory.

Nothing measured is lost when a later step fails: each size's ingest figures are printed as soon
as the ingest ends (with ``--json``, also written to ``--json-file``, default
``WORKDIR/scale.json``, after every step), before the server starts; the server is awaited by
its own readiness line (``stop with Ctrl-C``, printed once it listens and has said its notes)
within a bound that grows with the store (``READY_SECONDS`` + ``READY_SECONDS_PER_GIB`` per GiB),
and a server that never gets ready, or a query that fails, is recorded in the figures
(``queries_error``) instead of ending the run. ``--serve STORE`` measures only the serving part
(start-up and the example queries) on an existing store, e.g. a copy of a 1M store.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
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
READY_LINE = "stop with Ctrl-C"
"""What ``fairdicom serve`` prints once it listens and has said its start-up notes."""
READY_SECONDS = 60.0
READY_SECONDS_PER_GIB = 60.0
"""The wait for the server's readiness: a base plus a share per GiB of the store (its start-up
reads no data, so it takes seconds at any size; the bound is for a machine under load)."""


class BenchmarkError(Exception):
    """A step of one size failed; the figures measured before it are kept."""


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


class _ServerOutput(threading.Thread):
    """Copy the server's output into a log file; signal its readiness line, or its end."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        super().__init__(daemon=True)
        self.process, self.log = process, log
        self.ready = threading.Event()

    def run(self) -> None:
        assert self.process.stdout is not None
        with self.log.open("wb") as out:
            for line in self.process.stdout:
                out.write(line)
                out.flush()
                if READY_LINE in line.decode("utf-8", "replace"):
                    self.ready.set()
        self.ready.set()  # ended without the line: the caller sees the process gone


def wait_served(process: subprocess.Popen[bytes], output: _ServerOutput, store: Path) -> float:
    """Wait for the server's readiness line within a bound that grows with the store, then for
    its /status; return the seconds since it was started."""
    bound = READY_SECONDS + READY_SECONDS_PER_GIB * folder_bytes(store) / 2**30
    started = time.perf_counter()
    if not output.ready.wait(bound) or process.poll() is not None:
        how = f"exited {process.poll()}" if process.poll() is not None else f"silent {bound:.0f} s"
        tail = output.log.read_text(errors="replace")[-2000:]
        raise BenchmarkError(f"fairdicom serve {how} instead of getting ready:\n{tail}")
    return time.perf_counter() - started


def query_latencies(store: Path, repeats: int, work: Path) -> dict[str, Any]:
    """Serve the store; send each example ``repeats`` times (unique texts); return the seconds
    the server took to get ready and the p50, p95 (ms) and rows of each example."""
    port = query_bench.free_port()
    env = {**query_bench.SERVER_ENV, "FAIRDICOM_DATA_DIR": str(site_of(store, work))}
    started = time.perf_counter()
    server = subprocess.Popen(
        [*query_bench.FAIRDICOM, "serve", "--store", str(store), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = _ServerOutput(server, work / "serve.log")
    output.start()
    texts = [(path.stem, path.read_text(encoding="utf-8")) for path in EXAMPLES]
    latencies: dict[str, list[float]] = {name: [] for name, _ in texts}
    rows: dict[str, int] = {}
    try:
        wait_served(server, output, store)
        status(port)
        ready = time.perf_counter() - started
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
                    raise BenchmarkError(f"{name}: HTTP {reply.status}: {data[:500]!r}")
                rows[name] = rows_of(data)
                if round_:  # the first round warms the workers up
                    latencies[name].append(seconds)
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
        output.join(10)
    return {
        "serve_ready_seconds": round(ready, 2),
        "queries": {
            name: {
                "p50_ms": round(query_bench.percentile(values, 50) * 1000, 1),
                "p95_ms": round(query_bench.percentile(values, 95) * 1000, 1),
                "rows": rows[name],
            }
            for name, values in latencies.items()
        },
    }


def status(port: int) -> None:
    """Ask the server for its /status once (it listens: the readiness line says so)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/status")
        reply = conn.getresponse()
        reply.read()
    finally:
        conn.close()
    if reply.status != 200:
        raise BenchmarkError(f"/status answered HTTP {reply.status}")


def site_of(store: Path, work: Path) -> Path:
    """Return the data folder of a store: where its ingest wrote the dumps (``STORE-site``)
    when that is in the work folder, else a folder of the work folder (a store given with
    ``--serve`` may be read-only)."""
    site = store.parent / f"{store.name}-site"
    return site if store.parent == work else work / f"{store.name}-serve-site"


def remote_ingest(folder: Path, work: Path) -> dict[str, float]:
    """Ingest the corpus into a new ``oxigraph serve`` through ``--store http://...``; return
    the ingest's figures (as :func:`ingest_bench.run_ingest` gives them) and the quads the
    store then held."""
    location = work / "oxigraph-remote"
    shutil.rmtree(location, ignore_errors=True)
    port = query_bench.free_port()
    server = subprocess.Popen(
        ["oxigraph", "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        query_bench.wait_ready(port, "/query?query=ASK%7B%7D")
        client = work / "oxigraph-remote-client"  # names the ingest's data folder only
        run = ingest_bench.run_ingest(folder, client, url=f"http://127.0.0.1:{port}")
        query = urllib.parse.urlencode({"query": DATASET_QUADS})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("GET", f"/query?{query}", headers={"Accept": query_bench.JSON})
        answer = json.loads(conn.getresponse().read())
        conn.close()
        return {**run, "quads": int(answer["results"]["bindings"][0]["n"]["value"])}
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(location, ignore_errors=True)


class Report:
    """The figures of every size so far: printed as each step ends, kept in a JSON file."""

    def __init__(self, json_file: Path | None) -> None:
        self.results: list[dict[str, Any]] = []
        self.json_file = json_file

    def step(self, figures: dict[str, Any], what: str) -> None:
        """Print a size's figures after a step; write every figure so far to the JSON file."""
        if not any(kept is figures for kept in self.results):
            self.results.append(figures)
        figures["load_average_before_after"][1] = round(os.getloadavg()[0], 1)
        print(f"--- {what}, about {figures['size']:,} files: {json.dumps(figures)}", flush=True)
        if self.json_file is not None:
            self.json_file.write_text(json.dumps(self.results, indent=1) + "\n", encoding="utf-8")


def measure(work: Path, size: int, repeats: int, remote: bool, report: Report) -> None:
    """Measure one size: the ingest, then the queries, then the remote ingest; report each."""
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
        "labels_seconds": round(run.get("labels_seconds", 0.0), 1),
        "compact_seconds": round(run.get("compact_seconds", 0.0), 1),
        "peak_rss_mib_ingest": round(run["peak_rss_mib_main"]),
        "peak_rss_mib_child": round(run["peak_rss_mib_worker"]),
        "store_bytes_per_instance": round(folder_bytes(store) / len(files)),
        "store_quads": store_quads(store),
        "load_average_before_after": [round(load, 1), round(os.getloadavg()[0], 1)],
    }
    report.step(figures, "ingest")
    serve(store, repeats, work, figures)
    report.step(figures, "queries")
    if remote:
        served = remote_ingest(folder, work)
        figures["remote_files_per_s"] = round(len(files) / served["ingest_seconds"], 1)
        figures["remote_store_quads"] = served["quads"]
        figures["remote_peak_rss_mib_ingest"] = round(served["peak_rss_mib_main"])
        figures["remote_peak_rss_mib_child"] = round(served["peak_rss_mib_worker"])
        figures["remote_rate_ratio"] = round(
            figures["remote_files_per_s"] / figures["ingest_files_per_s"], 3
        )
        report.step(figures, "remote ingest")
    shutil.rmtree(store, ignore_errors=True)


def serve(store: Path, repeats: int, work: Path, figures: dict[str, Any]) -> None:
    """Add the server's start-up and the examples' latencies to ``figures`` (or the error that
    stopped them)."""
    try:
        figures.update(query_latencies(store, repeats, work))
    except (BenchmarkError, OSError) as exc:
        figures["queries_error"] = str(exc)


def measure_served(store: Path, repeats: int, work: Path, report: Report) -> None:
    """Measure only the serving part on an existing store (``--serve``)."""
    instances = ingest_bench.pyoxigraph.Store.read_only(str(store)).query(INSTANCES)
    figures: dict[str, Any] = {
        "size": int(next(iter(instances))[0].value),
        "store": str(store),
        "load_average_before_after": [round(os.getloadavg()[0], 1), 0.0],
    }
    serve(store, repeats, work, figures)
    report.step(figures, "queries")


INSTANCES = """PREFIX fd: <https://w3id.org/fairdicom/ontology#>
SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?instance fd:inSeries ?series } }"""
"""The instances of a store (each is in one series)."""


def table(results: list[dict[str, Any]]) -> str:
    """Return the figures as a Markdown table: a column per size ("-" where a step failed or
    was not run)."""
    first = next((r["ingest_files_per_s"] for r in results if "ingest_files_per_s" in r), None)
    head = "| figure | " + " | ".join(f"{r.get('files', r['size']):,}" for r in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        cells = []
        for r in results:
            try:
                cells.append(cell(r))
            except (KeyError, TypeError, ValueError):
                cells.append("-")
        if any(c != "-" for c in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("ingest, files/s", lambda r: f"{r['ingest_files_per_s']:.0f}")
    row("rate / smallest size's", lambda r: f"{r['ingest_files_per_s'] / first:.2f}")
    row(
        "ingest seconds (start-up)",
        lambda r: f"{r['ingest_seconds']:.0f} ({r['startup_seconds']:.1f})",
    )
    row("labels and mappings after the ingest, s", lambda r: f"{r['labels_seconds']:.1f}")
    row("catalogue refresh after the ingest, s", lambda r: f"{r['catalogue_seconds']:.1f}")
    row("compaction after the ingest, s", lambda r: f"{r['compact_seconds']:.1f}")
    row("peak RSS, ingest process, MiB", lambda r: str(r["peak_rss_mib_ingest"]))
    row("peak RSS, largest child, MiB", lambda r: str(r["peak_rss_mib_child"]))
    row("store bytes per instance", lambda r: f"{r['store_bytes_per_instance']:,}")
    row("quads of the dataset", lambda r: f"{r['store_quads']:,}")
    row(
        "oxigraph serve: files/s (ratio)",
        lambda r: f"{r['remote_files_per_s']:.0f} ({r['remote_rate_ratio']:.2f})",
    )
    row(
        "oxigraph serve: peak RSS, ingest process / largest child, MiB",
        lambda r: f"{r['remote_peak_rss_mib_ingest']} / {r['remote_peak_rss_mib_child']}",
    )
    row("`fairdicom serve` ready after, s", lambda r: f"{r['serve_ready_seconds']:.1f}")
    names = sorted({name for r in results for name in r.get("queries", {})})
    for name in names:
        row(f"`{name}` p50 / p95 ms (rows)", _query_cell(name))
    row(
        "slowest example's p95, ms",
        lambda r: f"{max(q['p95_ms'] for q in r['queries'].values()):.0f}",
    )
    row("queries not measured", lambda r: r["queries_error"].splitlines()[0][:80])
    row(
        "load average before, after",
        lambda r: "{}, {}".format(*r["load_average_before_after"]),
    )
    return "\n".join(lines)


def _query_cell(name: str) -> Callable[[dict[str, Any]], str]:
    """Return the table cell of one example at one size."""

    def cell(figures: dict[str, Any]) -> str:
        return "{p50_ms:.0f} / {p95_ms:.0f} ({rows})".format(**figures["queries"][name])

    return cell


def main() -> None:
    """Run the benchmark at each size; print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    parser.add_argument("--repeats", type=int, default=20, help="requests per example and size")
    parser.add_argument("--workdir", type=Path, help="keeps the corpora (default: a temp dir)")
    parser.add_argument("--remote", action="store_true", help="also ingest into oxigraph serve")
    parser.add_argument(
        "--serve", type=Path, metavar="STORE", help="only serve this existing store and query it"
    )
    parser.add_argument("--json", action="store_true", help="write and print the figures as JSON")
    parser.add_argument(
        "--json-file", type=Path, help="where --json writes them (default: WORKDIR/scale.json)"
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fairdicom-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    # The benchmark's dataset is described as PUBLIC (as a public endpoint's would be), so
    # that the anonymous client's queries see it under the default access control.
    query_bench.describe(work)
    os.environ["FAIRDICOM_DESCRIPTIONS"] = query_bench.ENV["FAIRDICOM_DESCRIPTIONS"]
    json_file = (args.json_file or work / "scale.json") if args.json else None
    if json_file is not None and not args.workdir and not args.json_file:
        json_file = Path.cwd() / "scale.json"  # the temporary work folder goes at the end
    report = Report(json_file)
    try:
        if args.serve:
            measure_served(args.serve.resolve(), args.repeats, work, report)
        else:
            for size in args.sizes:
                measure(work, size, args.repeats, args.remote, report)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        results = report.results
        if results:
            print(table(results))
            rates = [r["ingest_files_per_s"] for r in results if "ingest_files_per_s" in r]
            if len(rates) > 1:
                print(f"\nrate at the largest size / the smallest: {rates[-1] / rates[0]:.2f}")
            last = results[-1].get("queries")
            if last:
                median = statistics.median(q["p95_ms"] for q in last.values())
                print(f"median p95 over the examples at the largest: {median:.0f} ms")
        if args.json:
            print(json.dumps(results))
            if json_file is not None:
                print(f"figures written to {json_file}")


if __name__ == "__main__":
    main()
