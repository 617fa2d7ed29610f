"""`fairdicom init DIR`: a starter site whose mappings and descriptions are the ones every
command then uses (ingest, the catalogue refresh after it, `mapping check`, the served
catalogue and its dumps)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import urllib.request
from collections import Counter
from pathlib import Path

import pydicom
import pytest
import rdflib
from fairdicom.config import SETTINGS, Settings, load_settings
from fairdicom.resources import DESCRIPTIONS, MAPPINGS
from rdflib.namespace import DCAT, DCTERMS

from tests.conftest import run_cli
from tests.servers import running_server

FD = "https://w3id.org/fairdicom/ontology#"
SCT = "http://snomed.info/id/"
SNOMED = {"F": SCT + "248152002", "M": SCT + "248153007", "O": SCT + "74964007"}
EDITED_TITLE = "Cohorte du site 山田 (edited)"
EDITED_LABEL = "Tomodensitométrie 山田"


def _files(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _init(site: Path) -> Path:
    result = run_cli("init", str(site))
    assert result.returncode == 0, result.stderr
    return site / "fairdicom.toml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def _uncommented(text: str) -> str:
    """Return the starter file with every commented setting and table header switched on."""
    text = re.sub(r"^# (\w+ = .*)$", r"\1", text, flags=re.MULTILINE)
    return re.sub(r"^# (\[\w+\])$", r"\1", text, flags=re.MULTILINE)


def test_init_writes_a_starter_site_that_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "new" / "site"
    result = run_cli("init", str(site))
    assert result.returncode == 0, result.stderr
    config = site / "fairdicom.toml"
    assert f"fairdicom --config {config} mapping check" in result.stdout
    assert f"fairdicom --config {config} ingest PATH..." in result.stdout
    assert _files(site / "mappings") == _files(MAPPINGS)
    assert (site / "datasets.toml").read_bytes() == DESCRIPTIONS.read_bytes()

    text = config.read_text(encoding="utf-8")
    assert tomllib.loads(text) == {"mappings": "mappings", "descriptions": "datasets.toml"}
    for spec in SETTINGS.values():
        name = spec.key.split(".")[-1]
        assert re.search(rf"^(# )?{name} = ", text, re.MULTILINE), spec.key
        assert spec.meaning in text and spec.env in text, spec.key
    # Switched on, every commented line holds the declared default (relative paths beside it).
    monkeypatch.delenv("FAIRDICOM_STORE")
    monkeypatch.delenv("FAIRDICOM_SECRET")
    everything = site / "everything.toml"
    everything.write_text(_uncommented(text), encoding="utf-8")
    expected = dataclasses.replace(
        Settings(), mappings=str(site / "mappings"), descriptions=str(site / "datasets.toml")
    )
    assert load_settings(everything) == expected

    check = run_cli("--config", str(config), "mapping", "check")
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"{site / 'mappings'}: 11 files, ")
    _edit(
        site / "mappings" / "sex.sssom.tsv", "sex:F\tF\tskos:exactMatch", "sex:F\tF\tskos:fooMatch"
    )
    broken = run_cli("--config", str(config), "mapping", "check")
    assert broken.returncode == 1
    assert f"{site / 'mappings' / 'sex.sssom.tsv'}:14:" in broken.stderr  # the copy, and its line
    assert "skos:fooMatch" in broken.stderr


def test_init_never_overwrites(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "datasets.toml").write_text("# the site's own\n")
    refused = run_cli("init", str(site))
    assert refused.returncode == 2
    assert f"{site / 'datasets.toml'} already exists" in refused.stderr
    assert "nothing was written" in refused.stderr
    assert _files(site) == {Path("datasets.toml"): b"# the site's own\n"}

    (site / "datasets.toml").unlink()
    _init(site)
    before = _files(site)
    again = run_cli("init", str(site))
    assert again.returncode == 2
    for name in ("fairdicom.toml", "mappings", "datasets.toml"):
        assert str(site / name) in again.stderr
    assert _files(site) == before


def _curated_sexes(nquads: str) -> Counter[str]:
    """Count the patients of the export by the concept of their curated sex."""
    found = re.findall(
        rf"^<[^>]+/id/patient/[^>]+> <{FD}sex> <([^>]+)> <[^>]+/curated> \.$",
        nquads,
        re.MULTILINE,
    )
    return Counter(found)


def test_the_sites_mappings_and_descriptions_are_what_ingest_and_the_catalogue_use(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    config = _init(site)
    # The site maps F to "other" and names CT its own way ...
    sex_table = site / "mappings" / "sex.sssom.tsv"
    _edit(sex_table, "sct:248152002\tFemale", "sct:74964007\tFemale")
    _edit(site / "mappings" / "modality.sssom.tsv", "Computed Tomography", EDITED_LABEL)
    # ... and keeps its store and its files beside the configuration (relative paths).
    with config.open("a", encoding="utf-8") as out:
        out.write('store = "store"\ndata_dir = "files"\n')
    monkeypatch.delenv("FAIRDICOM_STORE")
    cli = ("--config", str(config))

    first = run_cli(*cli, "ingest", str(corpus), "--dataset", "sample")
    assert first.returncode == 0, first.stderr
    assert "catalogue refreshed: 1 dataset(s) published" in first.stdout
    assert (site / "files" / "dumps" / "sample.nq.gz").is_file()
    assert not (site / "store" / "dumps").exists()

    sexes = {}
    for path in corpus.rglob("*.dcm"):
        header = pydicom.dcmread(path, stop_before_pixels=True)
        sexes[header.PatientID] = header.PatientSex
    assert "F" in sexes.values()
    edited = {"F": SNOMED["O"], "M": SNOMED["M"], "O": SNOMED["O"]}
    expected = Counter(edited[sex] for sex in sexes.values())
    exported = run_cli(*cli, "export")
    assert exported.returncode == 0, exported.stderr
    assert _curated_sexes(exported.stdout) == expected

    # The descriptions file of the site is what the refresh after the next ingest publishes.
    _edit(site / "datasets.toml", "fairdicom synthetic imaging sample", EDITED_TITLE)
    second = run_cli(*cli, "ingest", str(corpus), "--dataset", "sample")
    assert second.returncode == 0, second.stderr
    work = tmp_path / "web"
    work.mkdir()
    served = {
        "store": str(site / "store"),
        "data_dir": str(site / "files"),
        "base_iri": "http://localhost:8000/",  # the base the data was ingested under
    }
    with running_server(work, 0, served) as url:
        request = urllib.request.Request(
            url + "catalog/dataset/sample", headers={"Accept": "text/turtle"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            graph = rdflib.Graph().parse(data=response.read(), format="turtle")
        with urllib.request.urlopen(url + "catalog/dataset/sample/dump.nq.gz", timeout=60) as r:
            dump = r.read()
    assert rdflib.Literal(EDITED_TITLE, lang="en") in set(graph.objects(None, DCTERMS.title))
    assert rdflib.Literal(EDITED_LABEL, lang="en") in set(graph.objects(None, DCAT.keyword))
    assert dump == (site / "files" / "dumps" / "sample.nq.gz").read_bytes()
