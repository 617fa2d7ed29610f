"""Query benchmark: the example cohort queries against `fairdicom serve` and `oxigraph serve`.

    python benchmarks/query.py [--instances 100000] [--seconds 8] [--workdir DIR]

Builds a synthetic store of about ``--instances`` instances (``fairdicom synth`` +
``fairdicom ingest``), loads the same quads into Oxigraph's own server (PyPI package
``oxigraph``, run with ``--union-default-graph`` like fairdicom's default), then, for 1, 4 and
16 concurrent clients (threads with keep-alive HTTP connections on 127.0.0.1), runs the
example queries of ``app/fairdicom/web/examples`` in turn for ``--seconds`` against each server and
prints per-query p50/p95 latency and total throughput, with fairdicom / Oxigraph ratios:
once with every request's text made unique (no result cache can help: the engines compared),
once with the texts repeated as a query page and dashboards send them (fairdicom's result
cache, keyed by store generation, answers).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAIRDICOM = [sys.executable, "-m", "fairdicom.cli"]
EXAMPLES = sorted((ROOT / "app" / "fairdicom" / "web" / "examples").glob("*.rq"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "app"), "FAIRDICOM_SECRET": "benchmark"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fairdicom(*args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "fairdicom.cli", *args]
    return subprocess.run(command, env=ENV, check=True, **kw)  # type: ignore[call-overload, no-any-return]


def build(work: Path, instances: int) -> tuple[Path, Path]:
    """Make the corpus, the fairdicom store and the Oxigraph store; return both stores."""
    store, oxstore = work / "store", work / "oxigraph"
    if not store.exists():
        patients = max(3, instances // 165)
        fairdicom(
            "synth",
            str(work / "corpus"),
            "--patients",
            str(patients),
            "--seed",
            "9",
            "--instances-per-series",
            "30",
            "60",
        )
        fairdicom(
            "ingest",
            str(work / "corpus"),
            "--store",
            str(store),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(work / "corpus")
    if not oxstore.exists():
        dump = work / "dump.nq"
        with dump.open("wb") as out:
            fairdicom("export", "--format", "nquads", "--store", str(store), stdout=out)
        subprocess.run(
            ["oxigraph", "load", "--location", str(oxstore), "--file", str(dump)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        dump.unlink()
    return store, oxstore


def wait_ready(port: int, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not start")


def run_clients(
    port: int, path: str, clients: int, seconds: float, unique: bool
) -> dict[str, list[float]]:
    """Run the example queries from ``clients`` threads; return latencies (s) per query.

    ``unique`` appends a different comment to every request, so no result cache can answer.
    """
    latencies: dict[str, list[float]] = {q.stem: [] for q in EXAMPLES}
    texts = [(q.stem, q.read_text(encoding="utf-8")) for q in EXAMPLES]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    errors: list[str] = []

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        index = offset
        while time.monotonic() < stop:
            name, text = texts[index % len(texts)]
            index += 1
            if unique:
                text = f"{text}\n# request {offset}-{index}"
            body = urllib.parse.urlencode({"query": text})
            start = time.perf_counter()
            conn.request(
                "POST",
                path,
                body,
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/sparql-results+json",
                },
            )
            reply = conn.getresponse()
            reply.read()
            elapsed = time.perf_counter() - start
            if reply.status != 200:
                errors.append(f"{name}: HTTP {reply.status}")
                continue
            with lock:
                latencies[name].append(elapsed)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"errors: {sorted(set(errors))[:5]}")
    return latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workdir", type=Path, help="keep the stores here and reuse them")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fairdicom-qbench-"))
    work.mkdir(parents=True, exist_ok=True)
    store, oxstore = build(work, args.instances)
    ours, theirs = free_port(), free_port()
    servers = [
        subprocess.Popen(
            [*FAIRDICOM, "serve", "--store", str(store), "--port", str(ours)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                "oxigraph",
                "serve",
                "--location",
                str(oxstore),
                "--bind",
                f"127.0.0.1:{theirs}",
                "--union-default-graph",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        wait_ready(ours, "/sparql")
        wait_ready(theirs, "/query?query=ASK%7B%7D")
        print(f"{'clients':>7} {'server':>16} {'queries/s':>10} {'ratio':>6}  per-query p50/p95 ms")
        for clients in (1, 4, 16):
            rates = {}
            runs = (
                ("oxigraph", theirs, "/query", True),
                ("fairdicom", ours, "/sparql", True),
                ("fairdicom cached", ours, "/sparql", False),
            )
            for name, port, path, unique in runs:
                result = run_clients(port, path, clients, args.seconds, unique)
                total = sum(len(v) for v in result.values())
                rates[name] = total / args.seconds
                worst = max(percentile(v, 95) for v in result.values() if v)
                ratio = f"{rates[name] / rates['oxigraph']:.2f}" if name != "oxigraph" else ""
                detail = " ".join(
                    f"{q}={percentile(v, 50) * 1000:.0f}/{percentile(v, 95) * 1000:.0f}"
                    for q, v in result.items()
                    if v
                )
                print(
                    f"{clients:>7} {name:>16} {rates[name]:>10.1f} {ratio:>6}  "
                    f"worst p95 {worst * 1000:.0f} ms; {detail}"
                )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
