"""Access settings a server refuses at its start, each with a message that says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SECRET, run_cli
from tests.helpers import ingest_isolated
from tests.servers import serving, wait_until


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("ACCESS_GRANTS", "radiology=lung-ct", "access_grants: 'radiology=lung-ct' is not a grant"),
        ("ACCESS_GRANTS", "team:x=lung-ct", "KIND one of sub, group, entitlement, key"),
        ("ACCESS_GRANTS", "group:x=", "is not a grant"),
        (
            "API_KEYS",
            "harvester:s3cret",
            "api_keys: the entry of 'harvester' is not NAME:SHA256HEX",
        ),
        ("OIDC_ALGORITHMS", "HS256", "oidc_algorithms: HS256 cannot verify tokens"),
        ("OIDC_AUDIENCE", "", "oidc_issuer is set but oidc_audience is not"),
    ],
)
def test_wrong_access_settings_stop_the_server(setting: str, value: str, expected: str) -> None:
    env = {
        "FAIRDICOM_ACCESS_CONTROL": "true",
        "FAIRDICOM_OIDC_ISSUER": "http://127.0.0.1:9/realms/none",
        "FAIRDICOM_OIDC_AUDIENCE": "fairdicom",
        f"FAIRDICOM_{setting}": value,
    }
    result = run_cli("serve", "--port", "0", env=env)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr, result.stdout + result.stderr
    assert "s3cret" not in result.stdout + result.stderr


def test_serve_names_the_datasets_closed_to_anonymous_readers(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    ingest_isolated(corpus, store, "undescribed", SECRET)
    settings = {"store": str(store), "secret": SECRET, "query_workers": "1"}
    for control, expected in [
        ("true", "records closed to anonymous readers: undescribed (no description: NON_PUBLIC)"),
        ("false", "access_control = false: every reader may read every graph"),
    ]:
        work = tmp_path / control
        work.mkdir()
        with serving(work, 0, {**settings, "access_control": control}) as server:
            wait_until(lambda: "stop with Ctrl-C" in server.log.read_text(), "its last line")
        assert expected in server.log.read_text(), server.log.read_text()
