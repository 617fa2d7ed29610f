"""`fairdicom mapping diff` and `apply`: the curated layer rebuilt from the raw layer in the
store, with no DICOM file, equal to a fresh ingest with the edited mappings, atomic for a
reader, recorded in provenance per curated graph; and `mapping preview` of one file."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import rdflib
from fairdicom.catalog import dump as catalog_dump
from fairdicom.catalog.build import refresh_catalog
from fairdicom.config import Settings, load_settings
from fairdicom.curation.diff import mapping_diff
from fairdicom.curation.remap import remap
from fairdicom.curation.vocabulary import publish_mappings
from fairdicom.ingest.pipeline import ingest
from fairdicom.rdf.mapping import load_mappings
from fairdicom.resources import CORE_ONTOLOGY, MAPPINGS, TAG_VOCABULARY
from fairdicom.store import EmbeddedStore, query_form
from rdflib.compare import isomorphic

from tests.conftest import SECRET, run_cli
from tests.helpers import export_text, select_rows
from tests.servers import serving

FD = "https://w3id.org/fairdicom/ontology#"
SITE = "https://example.org/site#"
SITE_TTL = """@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix site: <https://example.org/site#> .
site:sliceThickness a owl:DatatypeProperty ;
    rdfs:label "slice thickness (site)"@en ;
    rdfs:range xsd:decimal .
"""


def _settings(store: Path, mappings: Path, **more: str) -> Settings:
    return load_settings(store=str(store), mappings=str(mappings), batch_size=40, **more)


def _copy(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(MAPPINGS, folder)
    return folder


def _edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, (file, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def _swap_sexes_and_map_hand(folder: Path) -> None:
    _edit(folder, "sex.sssom.tsv", "sct:248152002\tFemale", "sct:TMP\tFemale")
    _edit(folder, "sex.sssom.tsv", "sct:248153007\tMale", "sct:248152002\tMale")
    _edit(folder, "sex.sssom.tsv", "sct:TMP\tFemale", "sct:248153007\tFemale")
    body = folder / "body-part.sssom.tsv"
    row = (
        "bodypart:HAND\tHAND\tskos:exactMatch\tsct:85562004\tHand\tsemapv:ManualMappingCuration\t\n"
    )
    body.write_text(body.read_text(encoding="utf-8") + row, encoding="utf-8")


def _rename_slice_thickness(folder: Path) -> None:
    (folder / "site.ttl").write_text(SITE_TTL, encoding="utf-8")
    _edit(folder, "attributes.sssom.tsv", "#   fd: ", f"#   site: {SITE}\n#   fd: ")
    _edit(folder, "attributes.sssom.tsv", "\tfd:sliceThickness\t", "\tsite:sliceThickness\t")


def _layers(store: Path, dataset: str = "test") -> set[str]:
    """Return the quads of the dataset's raw, curated and quarantine graphs."""
    marker = f"/graph/{dataset}/"
    return {q for q in export_text(store).splitlines() if marker in q.rsplit(" ", 2)[-2]}


def _curated(quads: set[str]) -> set[str]:
    return {q for q in quads if q.rstrip(" .").endswith("/curated>")}


@pytest.fixture()
def copied(corpus: Path, tmp_path: Path) -> Path:
    """A copy of the corpus that a test may delete."""
    folder = tmp_path / "files"
    shutil.copytree(corpus, folder)
    return folder


def test_remap_without_the_files_equals_a_fresh_ingest(
    corpus: Path, copied: Path, tmp_path: Path
) -> None:
    edited = _copy(tmp_path, "edited")
    _swap_sexes_and_map_hand(edited)
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    ingest([copied], _settings(store, MAPPINGS), "test")
    before = _layers(store)
    shutil.rmtree(copied)  # the original DICOM files are gone
    summary = remap(_settings(store, edited), refresh=False)
    ingest([corpus], _settings(fresh, edited), "test")
    after = _layers(store)
    assert after != before
    assert after == _layers(fresh)
    (dataset,) = summary.datasets
    assert dataset.added > dataset.removed > 0  # each patient's sex swapped; HAND series gain one


def _graph(store: Path, name: str) -> set[str]:
    """Return the lines of one of the store's own graphs ({base}graph/NAME)."""
    return {q for q in export_text(store).splitlines() if q.endswith(f"/graph/{name}> .")}


def test_the_labels_after_a_remap_are_those_of_a_fresh_ingest(
    corpus: Path, tmp_path: Path
) -> None:
    """The remap finds the terms still in use by index lookups, not by a scan of the store:
    a concept it starts to use gets its label, one it stops using loses it."""
    edited = _copy(tmp_path, "edited")
    _swap_sexes_and_map_hand(edited)
    # Female becomes a concept the store did not use (its series go to quarantine), Male
    # (sct:248153007) one it no longer uses.
    _edit(edited, "sex.sssom.tsv", "sct:248153007\tFemale", "sct:261665006\tFemale")
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    ingest([corpus], _settings(store, MAPPINGS), "test")
    publish_mappings(_settings(store, MAPPINGS))  # as `fairdicom ingest` does
    before = _graph(store, "vocabulary")
    remap(_settings(store, edited), refresh=False)
    ingest([corpus], _settings(fresh, edited), "test")
    publish_mappings(_settings(fresh, edited))
    after = _graph(store, "vocabulary")
    assert after == _graph(fresh, "vocabulary")
    gained, lost = after - before, before - after
    assert any("261665006" in line for line in gained) and any("248153007" in q for q in lost)


def test_series_enter_and_leave_quarantine_as_in_a_fresh_ingest(
    corpus: Path, tmp_path: Path
) -> None:
    broken = _copy(tmp_path, "broken")
    _edit(broken, "modality.sssom.tsv", "modality:CT\t", "modality:XCT\t")  # CT series fail
    store, fresh_broken, fresh = tmp_path / "store", tmp_path / "fb", tmp_path / "fresh"
    ingest([corpus], _settings(store, MAPPINGS), "test")
    entered = remap(_settings(store, broken), refresh=False).datasets[0]
    ingest([corpus], _settings(fresh_broken, broken), "test")
    assert entered.entering and not entered.released
    assert _layers(store) == _layers(fresh_broken)
    left = remap(_settings(store, MAPPINGS), refresh=False).datasets[0]
    ingest([corpus], _settings(fresh, MAPPINGS), "test")
    assert left.released == entered.entering and not left.entering
    assert _layers(store) == _layers(fresh)
    assert not any("/graph/test/quarantine>" in q for q in _layers(store))


def _dumped(settings: Settings, dataset: str = "test") -> set[str]:
    """Return the quads of the dataset's dump file, as a client downloading it reads them."""
    path = catalog_dump.dump_path(settings.data_folder, dataset)
    return set(gzip.decompress(path.read_bytes()).decode("utf-8").splitlines())


def _dumps_written(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the graphs that the catalogue refresh dumps from the store (not copied)."""
    written: list[str] = []
    dump_graph = catalog_dump._write_graph

    def spy(store: EmbeddedStore, graph: str, out: object) -> str:
        written.append(graph.rsplit("/", 1)[-1])
        return dump_graph(store, graph, out)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog_dump, "_write_graph", spy)
    return written


def test_the_dump_after_a_remap_holds_the_new_layers_and_reuses_the_raw_graph(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remap leaves the raw graph as it was: the refresh copies its member of the dump
    (one gzip member per graph) and dumps the curated graph alone; the file holds the store."""
    edited = _copy(tmp_path, "edited")
    _swap_sexes_and_map_hand(edited)
    store = tmp_path / "store"
    ingest([corpus], _settings(store, MAPPINGS), "test")
    refresh_catalog(_settings(store, MAPPINGS))
    written = _dumps_written(monkeypatch)
    remap(_settings(store, edited))
    assert written == ["curated"]
    layers = {q for q in _layers(store) if "/quarantine>" not in q}
    assert _dumped(_settings(store, edited)) == layers


def test_a_raw_graph_changed_behind_the_catalogue_is_dumped_again_by_a_remap(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write to the raw graph that no refresh followed (an admin's SPARQL Update) changes
    its digest: the remap's refresh dumps it again instead of keeping the stale member."""
    edited = _copy(tmp_path, "edited")
    _swap_sexes_and_map_hand(edited)
    store = tmp_path / "store"
    settings = _settings(store, MAPPINGS)
    ingest([corpus], settings, "test")
    refresh_catalog(settings)
    raw = f"{settings.base_iri}graph/test/raw"
    triple = f'<{settings.base_iri}id/note> <https://example.org/says> "added by hand"'
    added = f"{triple} <{raw}> ."
    handle = EmbeddedStore(str(store))
    try:
        handle.update(f"INSERT DATA {{ GRAPH <{raw}> {{ {triple} }} }}")
    finally:
        handle.close()
    assert added not in _dumped(settings)
    written = _dumps_written(monkeypatch)
    remap(_settings(store, edited))
    assert sorted(written) == ["curated", "raw"]
    assert added in _dumped(settings)
    assert _dumped(settings) == {q for q in _layers(store) if "/quarantine>" not in q}


def test_diff_shows_beforehand_exactly_what_apply_changes(corpus: Path, tmp_path: Path) -> None:
    edited = _copy(tmp_path, "edited")
    _rename_slice_thickness(edited)
    store = tmp_path / "store"
    ingest([corpus], _settings(store, MAPPINGS), "test")
    publish_mappings(_settings(store, MAPPINGS))  # as `fairdicom ingest` does
    settings = _settings(store, edited)
    before = _layers(store)
    diff = mapping_diff(settings)
    (dataset,) = diff.datasets
    assert list(dataset.queries) == ["attributes"]
    change = dataset.queries["attributes"]
    old = set(change.removed)
    assert old and all(f"<{FD}sliceThickness>" in t for t in old)
    assert {t.replace(f"<{FD}sliceThickness>", f"<{SITE}sliceThickness>") for t in old} == set(
        change.added
    )
    assert _layers(store) == before  # diff writes nothing
    cli = run_cli(
        "mapping", "diff", env={"FAIRDICOM_STORE": str(store), "FAIRDICOM_MAPPINGS": str(edited)}
    )
    assert cli.returncode == 0, cli.stderr
    assert f"  attributes: +{len(change.added)} -{len(change.removed)}" in cli.stdout
    applied = run_cli(
        "mapping", "apply", env={"FAIRDICOM_STORE": str(store), "FAIRDICOM_MAPPINGS": str(edited)}
    )
    assert applied.returncode == 0, applied.stderr
    assert f"+{len(change.added)} -{len(change.removed)} curated triples" in applied.stdout
    after = _layers(store)
    assert before - after == {_quad(t, "test/curated") for t in change.removed}
    assert after - before == {_quad(t, "test/curated") for t in change.added}


def _quad(line: str, graph: str) -> str:
    """Return an N-Triples line as the N-Quads line of the store's export."""
    return line.rstrip("\n")[:-1] + f"<http://localhost:8000/graph/{graph}> ."


PROVENANCE = """
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX fd: <https://w3id.org/fairdicom/ontology#>
SELECT ?graph ?run ?version ?commit WHERE { GRAPH ?p {
  ?graph prov:wasGeneratedBy ?run . ?run a fd:RemapRun ; prov:used ?set .
  ?set owl:versionInfo ?version . OPTIONAL { ?set fd:gitCommit ?commit }
} } ORDER BY ?graph
"""


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git (Debian package git)")
def test_provenance_names_the_mapping_version_of_each_curated_graph(
    corpus: Path, tmp_path: Path
) -> None:
    edited = _copy(tmp_path, "edited")
    _swap_sexes_and_map_hand(edited)
    git = ["git", "-C", str(edited), "-c", "user.name=curator", "-c", "user.email=c@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "mappings"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    store = tmp_path / "store"
    ingest([corpus], _settings(store, MAPPINGS), "one")
    ingest([corpus], _settings(store, MAPPINGS), "two")
    remap(_settings(store, MAPPINGS), "two", refresh=False)  # an earlier remap of "two"
    remap(_settings(store, edited), refresh=False)
    version = load_mappings(edited, query_form, CORE_ONTOLOGY, TAG_VOCABULARY).version
    rows = select_rows(store, PROVENANCE)
    graphs = [row["graph"] for row in rows]
    expected = [
        f"<http://localhost:8000/graph/{d}/{g}>"
        for d in ("one", "two")
        for g in ("curated", "quarantine")
    ]
    assert graphs == expected  # one record per graph: the earlier remap of "two" was replaced
    for row in rows:
        assert row["version"] == f'"{version}"'
        assert row["commit"] == f'"{head.stdout.strip()}"'
    assert len({row["run"] for row in rows}) == 2  # one run per dataset


COUNTS = """
PREFIX fd: <https://w3id.org/fairdicom/ontology#>
PREFIX site: <https://example.org/site#>
SELECT (COUNT(?old) AS ?olds) (COUNT(?new) AS ?news) (COUNT(*) AS ?all) WHERE {
  GRAPH <http://localhost:8000/graph/test/curated> {
    ?s ?p ?o . OPTIONAL { ?s fd:sliceThickness ?old FILTER(?p = fd:sliceThickness) }
    OPTIONAL { ?s site:sliceThickness ?new FILTER(?p = site:sliceThickness) }
  }
}"""


def _get(
    url: str, token: str | None = None, method: str = "GET"
) -> tuple[int, dict[str, object], dict[str, str]]:
    request = urllib.request.Request(url, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)


def test_admin_remap_is_atomic_for_a_reader_and_reports_progress(
    corpus: Path, tmp_path: Path
) -> None:
    edited = _copy(tmp_path, "edited")
    _rename_slice_thickness(edited)
    store = tmp_path / "store"
    ingest([corpus], _settings(store, MAPPINGS), "test")
    settings = {
        "store": str(store),
        "mappings": str(edited),
        "admin_token": "curator-token",
        "secret": SECRET,
        "base_iri": "http://localhost:8000/",  # the IRIs of the ingest, whatever the port
    }
    with serving(tmp_path, 0, settings) as server:
        query = server.url + "sparql?" + urllib.parse.urlencode({"query": COUNTS})

        def observe() -> tuple[int, int, int]:
            status, body, _ = _get(query)
            assert status == 200, body
            row = body["results"]["bindings"][0]  # type: ignore[index]
            return tuple(int(row[k]["value"]) for k in ("olds", "news", "all"))  # type: ignore[return-value]

        old = observe()
        assert old[0] > 0 and old[1] == 0
        assert _get(server.url + "admin/remap", method="POST")[0] == 401
        assert _get(server.url + "admin/remap", "wrong", method="POST")[0] == 403
        status, job, headers = _get(server.url + "admin/remap", "curator-token", method="POST")
        assert status == 202, job
        location = urllib.parse.urljoin(server.url, headers["Location"])
        seen: list[tuple[int, int, int]] = []
        for _ in range(5000):  # bounded: a remap of this corpus takes a few seconds
            seen.append(observe())
            status, job, _ = _get(location, "curator-token")
            if job["state"] != "running":
                break
        seen.append(observe())
    assert job["state"] == "done", job
    assert job["done"] == job["total"] > 0
    new = (0, old[0], old[2])
    assert set(seen) <= {old, new}, set(seen) - {old, new}
    assert seen[-1] == new


def test_preview_of_one_file(corpus: Path, tmp_path: Path) -> None:
    one = sorted(corpus.rglob("*.dcm"))[0]
    done = run_cli("mapping", "preview", str(one))
    assert done.returncode == 0, done.stderr
    graph = rdflib.Graph().parse(data=done.stdout, format="turtle")
    store = tmp_path / "store"
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy(one, single / one.name)
    ingest([single], load_settings(store=str(store)), "test")
    stored = "".join(q.rsplit(" ", 2)[0] + " .\n" for q in _curated(_layers(store)))
    prefixes = "\n".join(ln for ln in done.stdout.splitlines() if ln.startswith("@prefix"))
    curated = done.stdout.split("# curated layer", 1)[1].split("\n", 1)[1]
    preview = rdflib.Graph().parse(data=prefixes + "\n" + curated, format="turtle")
    assert isomorphic(preview, rdflib.Graph().parse(data=stored, format="nt"))
    assert len(graph) > len(preview)  # the raw layer too
    assert "# from attributes.sssom.tsv:" in done.stdout and "(dcmtag:" in done.stdout
    assert "# from rules/hierarchy.rq" in done.stdout
