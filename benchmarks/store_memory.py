"""Store memory benchmark: how much memory a process that reads an embedded store holds, by size.

    python benchmarks/store_memory.py STORE [STORE ...] [--json]

Each store (a folder written by ``fairdicom ingest``) is opened read-only by a child process of
its own that reads it as fairdicom's processes do, one step after the other:

* ``opened``: ``pyoxigraph.Store.read_only`` (the baseline, measured in the same child before
  the store is opened, is the interpreter with pyoxigraph imported);
* ``scanned``: every quad counted through the graph-first index, no term decoded (a query
  worker's aggregate);
* ``by predicate``: every predicate's quads counted through the predicate-first indexes;
* ``dumped``: the whole store written as N-Quads to ``/dev/null``, every term decoded (the
  catalogue's dump).

Printed per store: its quads, and the resident set size (VmRSS) after each step and the peak
sampled every 0.2 s during the dump, in MiB above the baseline. RocksDB, as pyoxigraph 0.5
opens it, holds a 32 MiB block cache shared by the quad indexes and a 128 MiB one for the
strings, and keeps each opened table file's index (and the strings' filter) outside them: the
figures fill towards that ceiling as more of the store is read, then grow only with the index
blocks, about 1.4 bytes per quad (see docs/performance.md, "Memory").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, os, sys, threading, time
def rss():
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
import pyoxigraph as ox
figures = {'baseline_mib': rss()}
store = ox.Store.read_only(sys.argv[1])
figures['opened'] = rss()
query = 'SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }'
figures['quads'] = int(next(iter(store.query(query)))[0].value)
figures['scanned'] = rss()
predicates = [row[0] for row in store.query('SELECT DISTINCT ?p WHERE { GRAPH ?g { ?s ?p ?o } }')]
for p in predicates:
    next(iter(store.query(f'SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s {p} ?o }} }}')))
figures['by predicate'] = rss()
peak, done = [0.0], threading.Event()
def sample():
    while not done.wait(0.2):
        peak[0] = max(peak[0], rss())
sampler = threading.Thread(target=sample)
sampler.start()
with open(os.devnull, 'wb') as sink:
    store.dump(output=sink, format=ox.RdfFormat.N_QUADS)
done.set()
sampler.join()
figures['dumped'] = rss()
figures['dump peak'] = max(peak[0], figures['dumped'])
print(json.dumps(figures))
"""
STEPS = ("opened", "scanned", "by predicate", "dumped", "dump peak")


def measure(store: Path) -> dict[str, float]:
    """Return the figures of one store, read by a child process of its own."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(store)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"{store}: {done.stderr.strip()}")
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> None:
    """Measure every store given and print a table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stores", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [{"store": str(store), **measure(store)} for store in args.stores]
    print("| figure | " + " | ".join(f"{r['quads']:,} quads" for r in results) + " |")
    print("|---|" + "---|" * len(results))
    print("| baseline (interpreter, pyoxigraph), MiB | ", end="")
    print(" | ".join(f"{r['baseline_mib']:.0f}" for r in results) + " |")
    for step in STEPS:
        cells = [f"+{r[step] - r['baseline_mib']:.0f}" for r in results]
        print(f"| {step}, MiB above the baseline | " + " | ".join(cells) + " |")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
