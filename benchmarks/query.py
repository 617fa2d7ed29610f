"""Query benchmark: `fairdicom serve` against `oxigraph serve` on the same quads, in one run.

    python benchmarks/query.py [--instances 15000] [--seconds 10] [--workdir DIR]

Builds a synthetic store of about ``--instances`` instances (``fairdicom synth`` + ``fairdicom
ingest``), loads the same quads into Oxigraph's own server (PyPI package ``oxigraph``, run with
``--union-default-graph`` like fairdicom's default), then measures, each for ``--seconds``, with
threads that keep their HTTP connections open on 127.0.0.1:

1. uncached throughput: 1 and 4 clients run the example queries of
   ``app/fairdicom/web/examples`` in turn, every text made unique (a comment) so that no result
   cache can answer: the engines and the per-query cost of each server are compared;
2. cached throughput: the same with the texts repeated, as a query page and dashboards send
   them (fairdicom only: its result cache, keyed by store generation, answers);
3. mixed load: ``--heavy`` clients send a heavy query (pairs of instances of one series, under
   a second alone) again and again while one client sends ``ASK { ?s a ?t }`` in a loop: the
   ASK's p50/p95, and what the heavy clients got (answers, 503 with Retry-After).

Every figure alternates between the two servers in ``--rounds`` slices (Oxigraph server, then
fairdicom, again and again), so that a change in the machine's load falls on both; ratios are
fairdicom / Oxigraph, for the whole run and for each slice (their spread shows how much the
machine's load moved them). The machine's load average is printed with each figure.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAIRDICOM = [sys.executable, "-m", "fairdicom.cli"]
EXAMPLES = sorted((ROOT / "app" / "fairdicom" / "web" / "examples").glob("*.rq"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "app"), "FAIRDICOM_SECRET": "benchmark"}
SERVER_ENV = {**ENV, "FAIRDICOM_CLIENT_CONCURRENCY": "0"}
"""Every client here is 127.0.0.1: a per-address limit would make them one client."""
HEAVY = (
    "PREFIX fd: <https://w3id.org/fairdicom/ontology#>\n"
    "SELECT (COUNT(*) AS ?pairs) WHERE { ?a fd:inSeries ?s . ?b fd:inSeries ?s }"
)
CHEAP = "ASK { ?s a ?t }"
JSON = "application/sparql-results+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fairdicom(*args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "fairdicom.cli", *args]
    return subprocess.run(command, env=ENV, check=True, **kw)  # type: ignore[call-overload, no-any-return]


def describe(work: Path) -> None:
    """Publish the benchmark's dataset as PUBLIC (a copy of the bundled descriptions with a
    table for it), as a public endpoint would: an undescribed dataset is NON_PUBLIC and its
    records closed to the benchmark's anonymous clients by the default access control."""
    bundled = (ROOT / "data" / "datasets.toml").read_text(encoding="utf-8")
    table = bundled[bundled.index("[datasets.sample]") :].replace("[datasets.sample]", "", 1)
    descriptions = work / "datasets.toml"
    descriptions.write_text(f"{bundled}\n[datasets.bench]{table}", encoding="utf-8")
    for env in (ENV, SERVER_ENV):
        env["FAIRDICOM_DESCRIPTIONS"] = str(descriptions)


def build_store(work: Path, instances: int) -> Path:
    """Make the corpus and the fairdicom store (once per work folder); return the store."""
    store = work / "store"
    if not store.exists():
        fairdicom(
            "synth",
            str(work / "corpus"),
            "--patients",
            str(max(3, instances // 165)),
            "--seed",
            "9",
            "--instances-per-series",
            "30",
            "60",
        )
        fairdicom(
            "ingest",
            str(work / "corpus"),
            "--dataset",
            "bench",
            "--store",
            str(store),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(work / "corpus")
    return store


def build(work: Path, instances: int) -> tuple[Path, Path]:
    """Make the corpus, the fairdicom store and the Oxigraph store; return both stores."""
    store, oxstore = build_store(work, instances), work / "oxigraph"
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


def wait_ready(port: int, path: str, timeout: float = 120) -> None:
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


@dataclass(frozen=True)
class Target:
    """A server under test: its name, port and query path."""

    name: str
    port: int
    path: str


@dataclass
class Tally:
    """Latencies (s) per query name, and the statuses of the answers."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def merge(self, other: Tally) -> None:
        for name, values in other.latencies.items():
            self.latencies.setdefault(name, []).extend(values)
        self.statuses.update(other.statuses)
        self.retry_after += other.retry_after

    def add(self, name: str, status: int, seconds: float, retry_after: str | None) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.retry_after += retry_after is not None
            if status == 200:
                self.latencies.setdefault(name, []).append(seconds)


def ask(conn: http.client.HTTPConnection, target: Target, text: str) -> tuple[int, str | None]:
    """POST one query; read the whole answer; return its status and Retry-After."""
    body = urllib.parse.urlencode({"query": text})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": JSON}
    conn.request("POST", target.path, body, headers)
    reply = conn.getresponse()
    reply.read()
    return reply.status, reply.getheader("Retry-After")


def client_loop(
    target: Target, texts: list[tuple[str, str]], stop: float, unique: bool, tally: Tally, n: int
) -> None:
    """Send the texts in turn until ``stop``; ``unique`` adds a different comment each time."""
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=300)
    index = n
    while time.monotonic() < stop:
        name, text = texts[index % len(texts)]
        index += 1
        if unique:
            text = f"{text}\n# request {n}-{index}-{time.monotonic_ns()}"
        started = time.perf_counter()
        status, after = ask(conn, target, text)
        tally.add(name, status, time.perf_counter() - started, after)
        if status in (429, 503) and after:  # do as told, within the run
            time.sleep(min(float(after), max(0.0, stop - time.monotonic())))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=300)
    conn.close()


def run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def throughput(target: Target, clients: int, seconds: float, unique: bool) -> Tally:
    """Run the example queries from ``clients`` threads for ``seconds``."""
    texts = [(q.stem, q.read_text(encoding="utf-8")) for q in EXAMPLES]
    tally = Tally()
    stop = time.monotonic() + seconds
    run(
        [
            threading.Thread(target=client_loop, args=(target, texts, stop, unique, tally, n))
            for n in range(clients)
        ]
    )
    if set(tally.statuses) != {200}:
        raise SystemExit(f"{target.name}: answers {dict(tally.statuses)}")
    return tally


def mixed(target: Target, heavy: int, seconds: float) -> tuple[Tally, Tally]:
    """Run ``heavy`` clients of the heavy query and one client of the cheap one; return both."""
    stop = time.monotonic() + seconds
    heavy_tally, cheap_tally = Tally(), Tally()
    threads = [
        threading.Thread(
            target=client_loop, args=(target, [("heavy", HEAVY)], stop, True, heavy_tally, n)
        )
        for n in range(heavy)
    ]
    threads.append(
        threading.Thread(
            target=client_loop, args=(target, [("cheap", CHEAP)], stop, True, cheap_tally, 0)
        )
    )
    run(threads)
    return heavy_tally, cheap_tally


def answered(tally: Tally) -> int:
    """Return how many queries of a tally were answered (200)."""
    return sum(map(len, tally.latencies.values()))


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=15_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--heavy", type=int, default=16, help="heavy clients of the mixed load")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the two servers")
    parser.add_argument("--workdir", type=Path, help="keep the stores here and reuse them")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fairdicom-qbench-"))
    work.mkdir(parents=True, exist_ok=True)
    describe(work)
    store, oxstore = build(work, args.instances)
    ours, theirs = free_port(), free_port()
    servers = [
        subprocess.Popen(
            [*FAIRDICOM, "serve", "--store", str(store), "--port", str(ours)],
            env=SERVER_ENV,
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
    oxigraph = Target("oxigraph", theirs, "/query")
    ours_target = Target("fairdicom", ours, "/sparql")
    try:
        wait_ready(ours, "/sparql")
        wait_ready(theirs, "/query?query=ASK%7B%7D")
        print(f"store: {store} ({args.instances} instances asked); {args.seconds:g} s a figure")
        print("\n1. uncached throughput (every text unique), example queries")
        print(f"{'clients':>7} {'oxigraph q/s':>12} {'fairdicom q/s':>13} {'ratio':>6}  load")
        for clients in (1, 4):
            theirs_rate, ours_rate = Tally(), Tally()
            ratios = []
            for _ in range(args.rounds):
                slice_seconds = args.seconds / args.rounds
                theirs_slice = throughput(oxigraph, clients, slice_seconds, True)
                ours_slice = throughput(ours_target, clients, slice_seconds, True)
                ratios.append(answered(ours_slice) / max(1, answered(theirs_slice)))
                theirs_rate.merge(theirs_slice)
                ours_rate.merge(ours_slice)
            a = answered(theirs_rate) / args.seconds
            b = answered(ours_rate) / args.seconds
            print(f"{clients:>7} {a:>12.1f} {b:>13.1f} {b / a:>6.2f}  {load()}")
            spread = " ".join(f"{r:.2f}" for r in ratios)
            print(f"        ratio of each slice: {spread} (min {min(ratios):.2f})")
            detail = " ".join(
                f"{q}={percentile(ours_rate.latencies[q], 50) * 1000:.0f}/"
                f"{percentile(theirs_rate.latencies[q], 50) * 1000:.0f}"
                for q in sorted(ours_rate.latencies)
                if q in theirs_rate.latencies
            )
            print(f"        p50 ms fairdicom/oxigraph: {detail}")
        print("\n2. cached throughput (texts repeated), fairdicom")
        for clients in (1, 4):
            cached = throughput(ours_target, clients, args.seconds, False)
            rate = sum(map(len, cached.latencies.values())) / args.seconds
            print(f"{clients:>7} {rate:>12.1f} q/s  {load()}")
        print(f"\n3. mixed load: {args.heavy} clients of the heavy query + 1 client of {CHEAP}")
        loads: dict[str, tuple[Tally, Tally]] = {}
        for _ in range(args.rounds):  # alternated as above
            for target in (oxigraph, ours_target):
                heavy, cheap = mixed(target, args.heavy, args.seconds / args.rounds)
                kept = loads.setdefault(target.name, (Tally(), Tally()))
                kept[0].merge(heavy)
                kept[1].merge(cheap)
        for target in (oxigraph, ours_target):
            heavy, cheap = loads[target.name]
            asks = cheap.latencies.get("cheap", [])
            done = len(heavy.latencies.get("heavy", []))
            p50, p95 = percentile(asks, 50) * 1000, percentile(asks, 95) * 1000
            print(
                f"{target.name:>10}: ASK p50 {p50:.0f} ms, p95 {p95:.0f} ms ({len(asks)} ASKs); "
                f"heavy: {done} answered, statuses {dict(heavy.statuses)}, "
                f"{heavy.retry_after} with Retry-After  {load()}"
            )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
