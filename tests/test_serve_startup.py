"""`fairdicom serve` starts without reading the store's data: its start-up notes come from the
list of graph names, so it is ready as soon on a million instances as on the sample."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from fairdicom.config import load_settings
from fairdicom.ingest.pipeline import ingest
from fairdicom.resources import SAMPLE

from tests.servers import serving, wait_until


def test_serve_reads_no_data_before_it_is_ready_and_still_names_the_base(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ingest([SAMPLE], load_settings(store=str(store), secret="s", workers=1), "sample")
    settings = {"store": str(store), "secret": "s", "query_workers": "1"}
    with serving(tmp_path, 0, settings) as server:
        wait_until(lambda: "stop with Ctrl-C" in server.log.read_text(), "it has started")
        with urllib.request.urlopen(f"{server.url}status", timeout=30) as reply:
            lanes = {lane["name"]: lane for lane in json.load(reply)["lanes"]}
        log = server.log.read_text()
    # Nothing ran in the heavy lane: no query over the data (a scan of every quad for the
    # provenance graphs took 26 s on a million instances, and its timeout lost the warning).
    assert lanes["query"]["answered"] == 0, lanes["query"]
    assert lanes["fast"]["answered"] <= 1, lanes["fast"]  # the list of graph names
    assert all(lane["timeouts"] == 0 for lane in lanes.values())
    assert "the store's data was ingested under http://localhost:8000/" in log
