"""Cohort explorer benchmark: how long one explorer view (every facet's counts and the charts)
takes: after a store change, for a selection never asked before, and asked again.

    python benchmarks/explore.py [--instances 15000] [--rounds 20] [--workdir DIR]

Builds the query benchmark's dataset (benchmarks/query.py: ``fairdicom synth`` with 30-60
instances per series, about 165 instances per patient, published as PUBLIC), serves it with
``fairdicom serve`` on 127.0.0.1, then asks for explorer views (``GET /explore?...``, the HTML
page a browser gets) over one kept-open HTTP connection:

1. cold: before each request a Graph Store write (a triple in a graph of its own) changes the
   store's generation, so that no cache can answer: the engine reads the facts of every series
   again, and the view is counted and drawn;
2. new: a selection never asked before (the views below, each with an ``age_max`` not used
   yet): counted and drawn from the facts the server read for this store generation;
3. repeat: the same views again, as a researcher going back and forth asks them (the HTML is
   built again; only the facts and the query answers are cached).

Prints p50 / p95 / max per kind, over every view and round, with the machine's load average,
and the CPU time the server's processes (the server and its query workers) spent per view: on a
machine shared with other work the times depend on the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The query benchmark's helpers (benchmarks/query.py): the same dataset, described the same way.
from query import SERVER_ENV, build_store, describe, free_port, load, percentile

ADMIN = "bench-admin"
VIEWS = [
    [],
    [("modality", "dcm:CT")],
    [("modality", "dcm:MR"), ("sex", "sct:248152002")],
    [("age", "40-60"), ("age", "60-80")],
    [("body_part", "sct:816094009"), ("thickness", "1-2.5")],
    [("modality", "dcm:CT"), ("age_min", "50"), ("age_max", "70"), ("contrast", "given")],
]
"""Selections a researcher makes, from nothing to four facets (values the synthetic corpus
has; a value it lacks would answer 400 and stop the run)."""


def serve(store: Path, port: int) -> subprocess.Popen[bytes]:
    """Start ``fairdicom serve`` on the store; return once it listens."""
    env = {
        **SERVER_ENV,
        "FAIRDICOM_STORE": str(store),
        "FAIRDICOM_ADMIN_TOKEN": ADMIN,
        "FAIRDICOM_BASE_IRI": f"http://127.0.0.1:{port}/",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "fairdicom.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(b"fairdicom serving"):
            return process
    raise SystemExit("fairdicom serve did not start")


def get(conn: http.client.HTTPConnection, path: str) -> float:
    """GET ``path``; return the seconds until the whole answer was read."""
    start = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "text/html"})
    answer = conn.getresponse()
    body = answer.read()
    elapsed = time.perf_counter() - start
    if answer.status != 200:
        raise SystemExit(f"{path}: {answer.status} {body[:300]!r}")
    return elapsed


def bump(conn: http.client.HTTPConnection, number: int) -> None:
    """Change the store (one triple in a graph of its own): the caches no longer answer."""
    body = f'<urn:bench:s> <urn:bench:p> "{number}" .\n'.encode()
    conn.request(
        "PUT",
        "/store?graph=" + urllib.parse.quote("urn:fairdicom-benchmark:bump"),
        body=body,
        headers={"Content-Type": "application/n-triples", "Authorization": f"Bearer {ADMIN}"},
    )
    answer = conn.getresponse()
    text = answer.read()
    if answer.status not in (201, 204):
        raise SystemExit(f"the store write answered {answer.status}: {text[:300]!r}")


def group_cpu(pgid: int) -> float:
    """Return the CPU seconds (user and system) the live processes of a process group used."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def summary(name: str, seconds: list[float], cpu: float) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name:9} n={len(ms):4}  p50 {percentile(ms, 50):7.1f} ms  "
        f"p95 {percentile(ms, 95):7.1f} ms  max {max(ms):7.1f} ms  "
        f"cpu {cpu * 1000 / len(ms):6.1f} ms/view"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=15_000)
    parser.add_argument("--rounds", type=int, default=20, help="times each view is asked")
    parser.add_argument("--workdir", type=Path, help="keep the store here and reuse it")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fairdicom-explore-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    describe(work)
    started = time.perf_counter()
    store = build_store(work, args.instances)
    print(f"store of ~{args.instances} instances ready in {time.perf_counter() - started:.0f} s")
    port = free_port()
    server = serve(store, port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        paths = ["/explore?" + urllib.parse.urlencode(view) for view in VIEWS]
        for path in paths:  # warm: worker processes started, templates compiled
            get(conn, path)
        cold, new, repeat = [], [], []
        cpu = [group_cpu(server.pid)]
        for round_number in range(args.rounds):
            for index, path in enumerate(paths):
                bump(conn, round_number * len(paths) + index)
                cold.append(get(conn, path))
        cpu.append(group_cpu(server.pid))  # the writes count too: a little more per cold view
        for round_number in range(args.rounds):
            for path in paths:
                fresh = f"{path}&age_max={200 + round_number}" if "?" in path else path
                new.append(get(conn, fresh.replace("?&", "?")))
        cpu.append(group_cpu(server.pid))
        for _ in range(args.rounds):
            for path in paths:
                repeat.append(get(conn, path))
        cpu.append(group_cpu(server.pid))
        spent = [after - before for before, after in itertools.pairwise(cpu)]
        print(f"explorer views at ~{args.instances} instances ({load()})")
        print(summary("cold", cold, spent[0]))
        print(summary("new", new, spent[1]))
        print(summary("repeat", repeat, spent[2]))
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
