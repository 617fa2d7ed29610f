"""Access by dataset against real servers: what the catalogue calls restricted stays restricted.

Two stores built by the real CLI with the same key: one holds a PUBLIC, a RESTRICTED and a
NON_PUBLIC dataset (three synthetic corpora), the other only the PUBLIC one (with the same
catalogue, vocabulary and mapping graphs, copied over the Graph Store). Anonymous answers of
the first must equal those of the second, trick by trick; a real OIDC issuer on loopback
signs the tokens that open one dataset more.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fairdicom.access import ANONYMOUS
from fairdicom.access.policy import Policy
from fairdicom.dicom.synth import write_corpus
from fairdicom.resources import DESCRIPTIONS

from tests.conftest import SECRET, run_cli
from tests.oidc_issuer import (
    AUDIENCE,
    REALM,
    Issuer,
    hmac_signed,
    running_issuer,
    tampered,
    unsigned,
)
from tests.servers import running_server, wait_until
from tests.test_query_page import chromium

BASE = "http://fairdicom.test/"
ADMIN = "admin-secret-token"
SERVICE_KEY = "svc-key-0123456789"
LEVELS = {"open": "PUBLIC", "restricted": "RESTRICTED", "closed": "NON_PUBLIC"}
SEEDS = {"open": 101, "restricted": 202, "closed": 303}
JSON = "application/sparql-results+json"
NT = "application/n-triples"
RAW = BASE + "graph/{}/raw"
CURATED = BASE + "graph/{}/curated"
TIMEOUT = 120


@dataclass
class Site:
    """The servers and issuer of the tests."""

    full: str
    public_only: str
    issuer: Issuer
    work: Path
    secrets: list[str]
    """Texts that appear only in the RESTRICTED and NON_PUBLIC datasets' graphs."""


def _env(work: Path, store: Path, descriptions: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRDICOM_")}
    config = work / "empty.toml"
    config.write_text("")
    env.update(
        FAIRDICOM_SECRET=SECRET,
        FAIRDICOM_STORE=str(store),
        FAIRDICOM_CONFIG=str(config),
        FAIRDICOM_BASE_IRI=BASE,
        FAIRDICOM_DESCRIPTIONS=str(descriptions),
    )
    return env


def _descriptions(path: Path) -> None:
    text = DESCRIPTIONS.read_text(encoding="utf-8")
    sample = text[text.index("[datasets.sample]") :].replace("[datasets.sample]", "")
    tables = [
        f"[datasets.{slug}]" + sample.replace('access_rights = "PUBLIC"', f'access_rights = "{lv}"')
        for slug, lv in LEVELS.items()
    ]
    path.write_text(text[: text.index("[datasets.sample]")] + "\n".join(tables), encoding="utf-8")


def _ingest(env: dict[str, str], corpus: Path, slug: str) -> None:
    result = run_cli("ingest", str(corpus), "--dataset", slug, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def _settings(store: Path, descriptions: Path, issuer: Issuer, work: Path) -> dict[str, str]:
    digest = hashlib.sha256(SERVICE_KEY.encode()).hexdigest()
    return {
        "store": str(store),
        "secret": SECRET,
        "base_iri": BASE,
        "descriptions": str(descriptions),
        "audit_log": str(work / "audit.log"),
        "admin_token": ADMIN,
        "access_control": "true",
        "access_grants": "group:radiology=restricted, entitlement:urn:geant:x:closed#aai=closed,"
        " key:harvester=closed",
        "api_keys": f"harvester:{digest}",
        "oidc_issuer": issuer.url,
        "oidc_audience": AUDIENCE,
        "query_workers": "1",
        "fast_lane_workers": "1",
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("access")
    descriptions = work / "datasets.toml"
    _descriptions(descriptions)
    full, public_only = work / "full", work / "public-only"
    for slug, seed in SEEDS.items():
        corpus = work / f"corpus-{slug}"
        write_corpus(corpus, patients=2, seed=seed)
        _ingest(_env(work, full, descriptions), corpus, slug)
        if slug == "open":
            _ingest(_env(work, public_only, descriptions), corpus, slug)
    with running_issuer() as issuer:
        (work / "a").mkdir()
        (work / "b").mkdir()
        a_settings = _settings(full, descriptions, issuer, work / "a")
        b_settings = _settings(public_only, descriptions, issuer, work / "b")
        with (
            running_server(work / "a", 0, a_settings) as a,
            running_server(work / "b", 0, b_settings) as b,
        ):
            _copy_public_graphs(a, b)
            yield Site(a, b, issuer, work, _secrets(a))


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


def _copy_public_graphs(a: str, b: str) -> None:
    """Give the public-only store the same catalogue, vocabulary, mapping and provenance
    graphs (public by design: what is not a dataset's)."""
    rows = _select(a, "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }", _admin())
    for row in rows:
        graph = row["g"]["value"]
        if re.search(r"/graph/[^/]+/[^/]+$", graph):
            continue
        got = requests.get(
            a + "store", params={"graph": graph}, headers={**_admin(), "Accept": NT}, timeout=60
        )
        assert got.status_code == 200
        put = requests.put(
            b + "store",
            params={"graph": graph},
            data=got.content,
            headers={**_admin(), "Content-Type": NT},
            timeout=60,
        )
        assert put.status_code in (201, 204), put.text


def _records(a: str, slug: str) -> list[str]:
    """Return the IRIs of the records of a dataset (as the admin reads them)."""
    query = f"SELECT DISTINCT ?s WHERE {{ GRAPH <{RAW.format(slug)}> {{ ?s ?p ?o }} }}"
    found = {r["s"]["value"] for r in _select(a, query, _admin()) if r["s"]["type"] == "uri"}
    assert len(found) > 5
    return sorted(found)


def _secrets(a: str) -> list[str]:
    """Return the texts that only the RESTRICTED and NON_PUBLIC graphs hold."""
    return [
        "/graph/restricted/",
        "/graph/closed/",
        *_records(a, "restricted"),
        *_records(a, "closed"),
    ]


def _ask(
    url: str, query: str, headers: dict[str, str] | None = None, **params: object
) -> requests.Response:
    return requests.post(
        url + "sparql",
        data={"query": query, **params},
        headers={"Accept": JSON, **(headers or {})},
        timeout=TIMEOUT,
    )


def _select(
    url: str, query: str, headers: dict[str, str] | None = None
) -> list[dict[str, dict[str, str]]]:
    response = _ask(url, query, headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, dict[str, str]]] = response.json()["results"]["bindings"]
    return rows


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _normal(response: requests.Response) -> object:
    """Return an answer in a form that two stores' answers can be compared in."""
    if response.status_code != 200:
        return response.status_code
    kind = response.headers["Content-Type"].split(";")[0]
    if kind == JSON:
        data = response.json()
        if "boolean" in data:
            return data["boolean"]
        rows = [
            json.dumps(
                {k: "_:b" if v["type"] == "bnode" else v["value"] for k, v in row.items()},
                sort_keys=True,
            )
            for row in data["results"]["bindings"]
        ]
        return sorted(rows)
    lines = [re.sub(r"_:\S+", "_:b", line) for line in response.text.splitlines()]
    return sorted(line for line in lines if line.strip())


def _tricks(site: Site) -> list[tuple[str, str, dict[str, object]]]:
    """Return (name, query, protocol parameters) of queries that try to reach closed graphs."""
    r, c = RAW.format("restricted"), RAW.format("closed")
    rc, cc = CURATED.format("restricted"), CURATED.format("closed")
    secret = next(s for s in site.secrets if "/id/" in s)
    count_graphs = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    return [
        ("graph variable", count_graphs, {}),
        ("union default graph", count, {}),
        ("list graphs", "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }", {}),
        ("from", f"SELECT (COUNT(*) AS ?n) FROM <{r}> FROM <{c}> WHERE {{ ?s ?p ?o }}", {}),
        (
            "from named",
            f"SELECT ?g (COUNT(*) AS ?n) FROM NAMED <{r}> FROM NAMED <{cc}> "
            "WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
            {},
        ),
        (
            "from with a prefixed, escaped name",
            f"PREFIX g: <{BASE}graph/> SELECT (COUNT(*) AS ?n) from g:closed\\/raw "
            "WHERE { ?s ?p ?o }",
            {},
        ),
        (
            "from a relative IRI under BASE",
            f"BASE <{BASE}graph/> SELECT (COUNT(*) AS ?n) FROM <closed/raw> {{ ?s ?p ?o }}",
            {},
        ),
        ("from behind a comment", f"SELECT (COUNT(*) AS ?n) FROM#x\n<{c}> {{ ?s ?p ?o }}", {}),
        ("default-graph-uri", count, {"default-graph-uri": [r, c]}),
        ("named-graph-uri", count_graphs, {"named-graph-uri": [r, c, rc, cc]}),
        (
            "protocol graphs over FROM",
            f"SELECT (COUNT(*) AS ?n) FROM <{BASE}graph/open/raw> WHERE {{ ?s ?p ?o }}",
            {"default-graph-uri": [c]},
        ),
        ("graph IRI", f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{c}> {{ ?s ?p ?o }} }}", {}),
        (
            "values of graphs",
            f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ VALUES ?g {{ <{r}> <{c}> <{rc}> <{cc}> }} "
            "GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
            {},
        ),
        (
            "bind a graph",
            f"SELECT (COUNT(*) AS ?n) WHERE {{ BIND(<{r}> AS ?g) GRAPH ?g {{ ?s ?p ?o }} }}",
            {},
        ),
        (
            "filter on graph IRIs",
            "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
            f'FILTER(STRSTARTS(STR(?g), "{BASE}graph/closed") || ?g IN (<{r}>, <{rc}>)) }}',
            {},
        ),
        (
            "union of graphs",
            f"SELECT (COUNT(*) AS ?n) WHERE {{ {{ GRAPH <{r}> {{ ?s ?p ?o }} }} "
            f"UNION {{ GRAPH <{c}> {{ ?s ?p ?o }} }} }}",
            {},
        ),
        (
            "property path",
            "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?s a/^a ?x }",
            {},
        ),
        (
            "negated property path in a graph",
            "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s !<urn:x:none> ?o } } GROUP BY ?g",
            {},
        ),
        (
            "subquery",
            "SELECT ?g ?n WHERE { { SELECT ?g (COUNT(*) AS ?n) "
            "WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g } }",
            {},
        ),
        (
            "exists",
            "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o "
            f"FILTER EXISTS {{ GRAPH <{c}> {{ ?s ?q ?v }} }} }}",
            {},
        ),
        ("ask a graph", f"ASK {{ GRAPH <{c}> {{ ?s ?p ?o }} }}", {}),
        ("ask a record", f"ASK {{ <{secret}> ?p ?o }}", {}),
        ("construct", f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{r}> {{ ?s ?p ?o }} }}", {}),
        ("construct from", f"CONSTRUCT {{ ?s ?p ?o }} FROM <{c}> WHERE {{ ?s ?p ?o }}", {}),
        ("describe", f"DESCRIBE <{secret}>", {}),
        (
            "federation without SERVICE: FROM the endpoint's own URL",
            f"SELECT (COUNT(*) AS ?n) FROM <{site.full}sparql?query="
            f"{urllib.parse.quote('SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }')}> "
            "WHERE { ?s ?p ?o }",
            {},
        ),
        (
            "federation with SERVICE to itself",
            f"SELECT * WHERE {{ SERVICE <{site.full}sparql> {{ GRAPH <{c}> {{ ?s ?p ?o }} }} }}",
            {},
        ),
    ]


def _run(
    url: str, query: str, params: dict[str, object], headers: dict[str, str] | None = None
) -> requests.Response:
    accept = NT if query.lstrip().upper().startswith(("CONSTRUCT", "DESCRIBE")) else JSON
    return requests.post(
        url + "sparql",
        data={"query": query, **params},
        headers={"Accept": accept, **(headers or {})},
        timeout=TIMEOUT,
    )


def test_anonymous_tricks_see_only_what_a_public_only_store_holds(site: Site) -> None:
    tricks = _tricks(site)
    assert len(tricks) >= 20
    answered = 0
    for name, query, params in tricks:
        full = _run(site.full, query, params)
        alone = _run(site.public_only, query, params)
        # A BASE-relative FROM is refused where graphs are hidden; the public-only store hides
        # nothing, so it runs every query as it is.
        if not (name == "from a relative IRI under BASE" and full.status_code == 400):
            assert _normal(full) == _normal(alone), name
        leaked = [s for s in site.secrets if s in full.text]
        assert not leaked, f"{name}: {leaked[:3]}"
        answered += full.status_code == 200
    assert answered >= len(tricks) - 2  # refused: SERVICE (not allow-listed), BASE-relative FROM
    graphs = _normal(_run(site.full, tricks[0][1], {}))
    assert isinstance(graphs, list) and any(RAW.format("open") in row for row in graphs)


def test_the_admin_sees_every_dataset(site: Site) -> None:
    rows = _select(site.full, "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }", _admin())
    graphs = {row["g"]["value"] for row in rows}
    assert {RAW.format(slug) for slug in LEVELS} | {BASE + "graph/provenance"} <= graphs


def test_catalogue_vocabulary_mappings_and_provenance_are_public(site: Site) -> None:
    graphs = {row["g"]["value"] for row in _select(site.full, GRAPHS, {})}
    assert {BASE + "graph/vocabulary", BASE + "graph/mappings"} <= graphs
    assert any(g.endswith("catalog") for g in graphs)
    assert BASE + "graph/provenance" in graphs  # runs and their counts: nothing of a record


def test_a_datasets_harvest_state_is_as_closed_as_its_records() -> None:
    policy = Policy({"open": "PUBLIC", "closed": "NON_PUBLIC"}, ())
    anonymous = policy.scope(ANONYMOUS)
    assert anonymous.may_read(BASE + "graph/open/harvest")
    assert not anonymous.may_read(BASE + "graph/closed/harvest")
    assert anonymous.may_read(BASE + "graph/provenance")


GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }"


def _datasets_seen(site: Site, headers: dict[str, str]) -> set[str]:
    """Return the datasets whose graphs a caller's queries reach."""
    rows = _select(site.full, GRAPHS, headers)
    found = (re.search(r"/graph/([^/]+)/[^/]+$", row["g"]["value"]) for row in rows)
    return {m.group(1) for m in found if m}


def _raw_count(site: Site, slug: str, headers: dict[str, str]) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{RAW.format(slug)}> {{ ?s ?p ?o }} }}"
    return int(_select(site.full, query, headers)[0]["n"]["value"])


def test_a_token_granted_one_dataset_sees_exactly_that_one_more(site: Site) -> None:
    assert _datasets_seen(site, {}) == {"open"}
    radiology = _bearer(site.issuer.token(sub="alice", groups=["radiology", "other"]))
    assert _datasets_seen(site, radiology) == {"open", "restricted"}
    entitled = _bearer(
        site.issuer.token("ES256", sub="bob", eduperson_entitlement=["urn:geant:x:closed#aai"])
    )
    assert _datasets_seen(site, entitled) == {"open", "closed"}
    assert _datasets_seen(site, _bearer(SERVICE_KEY)) == {"open", "closed"}
    assert _datasets_seen(site, _bearer(site.issuer.token(sub="carol"))) == {"open"}
    for slug, headers in (("restricted", radiology), ("closed", entitled)):
        assert _raw_count(site, slug, headers) == _raw_count(site, slug, _admin()) > 0


@pytest.mark.parametrize(
    "name",
    [
        "expired",
        "not yet valid",
        "wrong audience",
        "wrong issuer",
        "unsigned",
        "tampered",
        "hmac with the public key",
        "unknown key",
        "garbage",
    ],
)
def test_bad_tokens_are_refused_with_401(site: Site, name: str) -> None:
    issuer = site.issuer
    now = int(time.time())
    if name == "expired":
        token = issuer.token(groups=["radiology"], exp=now - 3600, iat=now - 7200)
    elif name == "not yet valid":
        token = issuer.token(groups=["radiology"], nbf=now + 3600)
    elif name == "wrong audience":
        token = issuer.token(groups=["radiology"], aud="another-client")
    elif name == "wrong issuer":
        token = issuer.token(groups=["radiology"], iss=issuer.url + "-evil")
    elif name == "unsigned":
        token = unsigned(issuer.claims(groups=["radiology"]))
    elif name == "tampered":
        token = tampered(issuer.token(groups=["nobody"]), groups=["radiology"])
    elif name == "hmac with the public key":
        kid = issuer.kid()
        public = (
            issuer.keys[kid][0]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        token = hmac_signed(issuer.claims(groups=["radiology"]), public, kid)
    elif name == "unknown key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        claims = issuer.claims(groups=["radiology"])
        token = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "made-up"})
    else:
        token = "not-a-token-of-this-site"
    response = _ask(site.full, GRAPHS, _bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "restricted" not in response.text


def test_the_issuers_rotated_key_is_fetched_when_a_token_names_it(site: Site) -> None:
    old = site.issuer.token(groups=["radiology"])
    assert _ask(site.full, GRAPHS, _bearer(old)).status_code == 200
    fetched = site.issuer.requests.count(REALM + "/protocol/openid-connect/certs")
    site.issuer.rotate()
    new = site.issuer.token(groups=["radiology"])
    # The server refetches keys for an unknown kid at most every few seconds (a flood of
    # made-up kids must not flood the issuer): the new token passes once it may refetch.
    wait_until(lambda: _ask(site.full, GRAPHS, _bearer(new)).status_code == 200, "new key used")
    assert site.issuer.requests.count(REALM + "/protocol/openid-connect/certs") > fetched
    assert _ask(site.full, GRAPHS, _bearer(old)).status_code == 401  # its key is gone


def test_graph_store_hides_closed_graphs_as_missing(site: Site) -> None:
    radiology = _bearer(site.issuer.token(groups=["radiology"]))
    for slug, who, expected in (
        ("open", {}, 200),
        ("restricted", {}, 404),
        ("closed", {}, 404),
        ("restricted", radiology, 200),
        ("closed", radiology, 404),
        ("closed", _admin(), 200),
    ):
        for method in ("GET", "HEAD"):
            response = requests.request(
                method,
                site.full + "store",
                params={"graph": RAW.format(slug)},
                headers={"Accept": NT, **who},
                timeout=TIMEOUT,
            )
            assert response.status_code == expected, (slug, method, who)
            if method == "GET" and expected == 404:
                assert not any(s in response.text for s in site.secrets[2:])
    missing = requests.get(
        site.full + "store", params={"graph": RAW.format("nothing")}, timeout=TIMEOUT
    )
    closed = requests.get(
        site.full + "store", params={"graph": RAW.format("closed")}, timeout=TIMEOUT
    )
    assert closed.status_code == missing.status_code == 404
    assert closed.json()["error"]["title"] == missing.json()["error"]["title"]


def test_linked_data_pages_of_closed_records_answer_404(site: Site) -> None:
    record = next(s for s in _records(site.full, "closed") if s.startswith(BASE + "id/"))
    path = site.full + record.removeprefix(BASE)
    for accept in (NT, "text/html"):
        page = requests.get(path, headers={"Accept": accept}, timeout=TIMEOUT)
        assert page.status_code == 404
        assert record.removeprefix(BASE + "id/") not in page.text.replace(record, "")
    statuses = [
        requests.get(path, headers={"Accept": NT, **who}, timeout=TIMEOUT).status_code
        for who in (
            _admin(),
            _bearer(SERVICE_KEY),
            _bearer(site.issuer.token(groups=["radiology"])),
        )
    ]
    assert statuses == [200, 200, 404]  # admin, the closed dataset's key, another grant


def test_dumps_of_closed_datasets_answer_404(site: Site) -> None:
    def dump(slug: str, who: dict[str, str]) -> int:
        url = f"{site.full}catalog/dataset/{slug}/dump.nq.gz"
        return requests.get(url, headers=who, timeout=TIMEOUT).status_code

    assert dump("open", {}) == 200
    assert dump("restricted", {}) == dump("closed", {}) == dump("nothing", {}) == 404
    assert dump("restricted", _bearer(site.issuer.token(groups=["radiology"]))) == 200
    assert dump("closed", _bearer(SERVICE_KEY)) == 200
    assert dump("closed", _admin()) == 200
    # the catalogue itself stays public: every dataset is described there
    catalog = requests.get(site.full + "catalog", headers={"Accept": "text/turtle"}, timeout=60)
    assert catalog.status_code == 200
    for slug in LEVELS:
        assert f"{BASE}id/dataset/{slug}" in catalog.text or slug in catalog.text


def test_void_and_service_description_count_only_what_the_caller_may_read(site: Site) -> None:
    for path in (".well-known/void", "sparql"):
        full = requests.get(site.full + path, headers={"Accept": NT}, timeout=TIMEOUT)
        alone = requests.get(site.public_only + path, headers={"Accept": NT}, timeout=TIMEOUT)
        assert full.status_code == alone.status_code == 200
        same = _normal(alone)
        assert isinstance(same, list)
        same = sorted(line.replace(site.public_only, site.full) for line in same)
        assert _normal(full) == same, path
        assert "/graph/closed/" not in full.text and "/graph/restricted/" not in full.text
        admin = requests.get(site.full + path, headers={"Accept": NT, **_admin()}, timeout=60)
        assert "/graph/closed/" in admin.text or path == ".well-known/void"


def test_cached_answers_and_etags_follow_the_callers_rights(site: Site) -> None:
    query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g # cache"
    radiology = _bearer(site.issuer.token(groups=["radiology"]))

    def get(who: dict[str, str], etag: str | None = None) -> requests.Response:
        headers = {"Accept": JSON, **who}
        if etag:
            headers["If-None-Match"] = etag
        return requests.get(
            site.full + "sparql", params={"query": query}, headers=headers, timeout=60
        )

    for _ in range(2):  # the second round comes from the cache
        anonymous, granted = get({}), get(radiology)
        assert "/graph/restricted/" not in anonymous.text
        assert "/graph/restricted/" in granted.text
    assert anonymous.headers["ETag"] != granted.headers["ETag"]
    assert get(radiology, anonymous.headers["ETag"]).status_code == 200
    assert get({}, granted.headers["ETag"]).status_code == 200
    assert get({}, anonymous.headers["ETag"]).status_code == 304


def test_the_audit_log_records_each_authorised_record_level_query(site: Site) -> None:
    query = f"SELECT ?s WHERE {{ GRAPH <{RAW.format('restricted')}> {{ ?s a ?t }} }} # audit"
    radiology = _bearer(site.issuer.token(sub="auditee", groups=["radiology"]))
    rows = _select(site.full, query, radiology)
    assert rows
    _select(site.full, query + " anonymous", {})
    assert requests.get(site.full + "access/audit", timeout=60).status_code == 401
    log = requests.get(site.full + "access/audit", headers=_admin(), timeout=60)
    assert log.status_code == 200
    entries = [json.loads(line) for line in log.text.splitlines()]
    mine = [e for e in entries if e["query_sha256"] == hashlib.sha256(query.encode()).hexdigest()]
    assert len(mine) == 1
    entry = mine[0]
    assert entry["principal"].endswith("auditee")
    assert entry["datasets"] == ["restricted"]
    assert entry["rows"] == len(rows)
    assert entry["time"].startswith(time.strftime("%Y-", time.gmtime()))
    anonymous = hashlib.sha256((query + " anonymous").encode()).hexdigest()
    assert not any(e["query_sha256"] == anonymous for e in entries)
    on_disk = (site.work / "a" / "audit.log").read_text()
    assert query not in on_disk and entry["query_sha256"] in on_disk


@pytest.mark.slow
def test_the_query_page_sends_the_token_it_was_handed(site: Site, tmp_path: Path) -> None:
    query = urllib.parse.quote("SELECT DISTINCT ?g WHERE { GRAPH ?g { } } ORDER BY ?g")
    token = site.issuer.token(groups=["radiology"])
    page = f"{site.full}query?query={query}&run=1"
    signed_in = chromium(f"{page}#access_token={token}", tmp_path / "signed-in")
    anonymous = chromium(page, tmp_path / "anonymous")
    assert 'data-state="done"' in signed_in and 'data-state="done"' in anonymous
    assert RAW.format("restricted") in signed_in
    assert RAW.format("restricted") not in anonymous and RAW.format("open") in anonymous
    assert token not in signed_in  # the fragment is gone from the address; the field is empty


def test_the_coverage_page_lists_only_readable_datasets(site: Site) -> None:
    def shown(who: dict[str, str]) -> set[str]:
        page = requests.get(site.full + "mappings/coverage", headers=who, timeout=TIMEOUT)
        assert page.status_code == 200
        return {slug for slug in LEVELS if re.search(rf"\b{slug}\b", page.text)}

    assert shown({}) == {"open"}
    assert shown(_admin()) == set(LEVELS)
