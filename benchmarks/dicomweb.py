"""DICOMweb benchmark: instances per second harvested from a PACS against the same files read
from disk, on the same corpus, in the same run.

    python benchmarks/dicomweb.py [--size 5000] [--max-requests 4] [--workdir DIR] [--json]

A synthetic corpus of about ``--size`` instances (``write_corpus``, seed 7; kept in the work
folder and reused) is uploaded into a new Orthanc with its DICOMweb plugin (Debian packages
``orthanc`` and ``orthanc-dicomweb``; loopback, a free port, a temporary storage folder). Then,
each in a child process and into a new store: ``fairdicom ingest FOLDER`` (the files), and
``fairdicom ingest dicomweb+http://...`` (QIDO-RS + WADO-RS metadata, series by series), then
the same harvest again (nothing changed: nothing fetched). Printed: wall seconds and instances
per second of each (start-up and the catalogue refresh included, as a user waits for them),
their ratio, the CPU seconds of the harvesting command (with its parsing workers) and of
Orthanc per instance, and whether both stores hold the same raw and curated graphs (exported
and compared line for line; the provenance differs, the harvest's state being in it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))

# The ingest benchmark's corpus (benchmarks/ingest.py), written once per size and work folder.
from ingest import corpus  # noqa: E402

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
CHILD = """
import resource, sys
from fairdicom.cli import main
sys.argv = ['fairdicom', 'ingest', sys.argv[1], '--store', sys.argv[2], '--dataset', 'bench']
try:
    main()
except SystemExit as exit:
    code = exit.code
me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print('USAGE', me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, file=sys.stderr)
sys.exit(code)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_orthanc(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start Orthanc on a free loopback port with an empty storage; wait for ``/system``."""
    orthanc = shutil.which("Orthanc")
    if orthanc is None or not PLUGIN.exists():
        sys.exit("needs Debian's orthanc and orthanc-dicomweb (apt-get install ...)")
    port = free_port()
    config = {
        "Name": "fairdicom-bench",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": port,
        "HttpBindAddress": "127.0.0.1",
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen(
        [orthanc, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/system", timeout=5).raise_for_status()
            return process, port
        except requests.RequestException:
            if process.poll() is not None:
                sys.exit(f"Orthanc ended: see {folder / 'orthanc.log'}")
            time.sleep(0.1)
    sys.exit("Orthanc did not answer within 120 s")


def cpu_seconds(pid: int) -> float:
    """Return the CPU seconds a process has used (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(source: str, store: Path) -> dict[str, object]:
    """Run one ``fairdicom ingest`` in a child process; return its wall and CPU seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app")}
    env.setdefault("FAIRDICOM_SECRET", "benchmark-secret")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, source, str(store)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"ingest of {source} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    usage = re.search(r"USAGE (\S+)", done.stderr)
    quads = re.search(r"store now holds (\d+) quads", done.stdout)
    fetched = re.search(r"fetched (\d+) \((\d+) instances\)", done.stdout)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": float(usage[1]) if usage else None,
        "quads": int(quads[1]) if quads else None,
        "studies_fetched": int(fetched[1]) if fetched else None,
        "instances_fetched": int(fetched[2]) if fetched else None,
    }


def dataset_lines(store: Path) -> list[str]:
    """Return the sorted N-Quads lines of the benchmark dataset's raw and curated graphs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app")}
    lines: list[str] = []
    for layer in ("raw", "curated"):
        graph = f"http://localhost:8000/graph/bench/{layer}"
        command = ["-m", "fairdicom.cli", "export", "--store", str(store), "--graph", graph]
        done = subprocess.run(
            [sys.executable, *command], capture_output=True, text=True, env=env, check=True
        )
        lines += done.stdout.splitlines()
    return sorted(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--max-requests", type=int, default=4)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fairdicom-dicomweb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    folder, files = corpus(work, args.size)
    os.environ["FAIRDICOM_DICOMWEB_MAX_REQUESTS"] = str(args.max_requests)
    pacs = work / "orthanc"
    shutil.rmtree(pacs, ignore_errors=True)
    pacs.mkdir()
    process, port = start_orthanc(pacs)
    try:
        started = time.perf_counter()
        with requests.Session() as session:
            for path in files:
                session.post(f"http://127.0.0.1:{port}/instances", data=path.read_bytes())
        upload = time.perf_counter() - started
        source = f"dicomweb+http://127.0.0.1:{port}/dicom-web"
        stores = work / "stores"
        shutil.rmtree(stores, ignore_errors=True)
        from_files = run(str(folder), stores / "files")
        orthanc_before = cpu_seconds(process.pid)
        harvested = run(source, stores / "dicomweb")
        orthanc_cpu = cpu_seconds(process.pid) - orthanc_before
        rerun = run(source, stores / "dicomweb")
        same = dataset_lines(stores / "files") == dataset_lines(stores / "dicomweb")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    count = len(files)
    result = {
        "instances": count,
        "max_requests": args.max_requests,
        "cores": os.cpu_count(),
        "upload_s": round(upload, 1),
        "files": {**from_files, "per_s": round(count / float(from_files["wall_s"]), 1)},  # type: ignore[arg-type]
        "dicomweb": {
            **harvested,
            "per_s": round(count / float(harvested["wall_s"]), 1),  # type: ignore[arg-type]
            "orthanc_cpu_s": round(orthanc_cpu, 1),
        },
        "rerun_unchanged": rerun,
        "same_graphs": same,
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    files_rate = count / float(from_files["wall_s"])  # type: ignore[arg-type]
    web_rate = count / float(harvested["wall_s"])  # type: ignore[arg-type]
    print(f"corpus: {count} instances; Orthanc upload {upload:.1f} s (not counted)")
    print(f"files from disk : {from_files['wall_s']} s, {files_rate:.1f} instances/s")
    print(
        f"DICOMweb harvest: {harvested['wall_s']} s, {web_rate:.1f} instances/s "
        f"({web_rate / files_rate:.2f} of the files' rate; max {args.max_requests} requests)"
    )
    print(
        f"CPU per instance: files {1000 * float(from_files['cpu_s'] or 0) / count:.2f} ms, "  # type: ignore[arg-type]
        f"harvest {1000 * float(harvested['cpu_s'] or 0) / count:.2f} ms, "  # type: ignore[arg-type]
        f"Orthanc {1000 * orthanc_cpu / count:.2f} ms"
    )
    print(
        f"re-run, nothing changed: {rerun['wall_s']} s, {rerun['studies_fetched']} studies fetched"
    )
    print(f"same raw and curated graphs in both stores: {same}; load {os.getloadavg()}")


if __name__ == "__main__":
    main()
