"""The fast path of `fairdicom mapping apply` (one pass over the raw graph, only the series a
change touches validated again) leaves the store exactly as the full rebuild does, for every
kind of edit a curator makes; where it cannot (a series enters quarantine) the full rebuild
runs instead."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import rdflib
from fairdicom.config import Settings, load_settings
from fairdicom.curation.remap import RemapSummary, remap
from fairdicom.curation.shape_check import surely_conform
from fairdicom.curation.vocabulary import publish_mappings
from fairdicom.ingest.pipeline import ingest
from fairdicom.rdf.validation import validate_curated
from fairdicom.resources import MAPPINGS, SHAPES

from tests.conftest import run_cli
from tests.helpers import export_text
from tests.test_remap import SITE_TTL

SITE_RULE = """PREFIX dcmtag: <https://w3id.org/fairdicom/dicom#>
PREFIX site: <https://example.org/site#>
CONSTRUCT { ?series site:sliceThickness ?thickness }
WHERE { ?series dcmtag:SliceThickness ?thickness }
"""
HAND = "bodypart:HAND\tHAND\tskos:exactMatch\tsct:85562004\tHand\tsemapv:ManualMappingCuration\t\n"


def _edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, (file, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def rule_changed(folder: Path) -> None:
    """Every study's age one year more."""
    _edit(
        folder,
        "rules/patient-age.rq",
        "BIND(xsd:integer(?whole) AS",
        "BIND(xsd:integer(?whole + 1) AS",
    )


def row_added(folder: Path) -> None:
    """HAND mapped to SNOMED CT, and the two sexes swapped (every patient changes)."""
    _edit(folder, "sex.sssom.tsv", "sct:248152002\tFemale", "sct:TMP\tFemale")
    _edit(folder, "sex.sssom.tsv", "sct:248153007\tMale", "sct:248152002\tMale")
    _edit(folder, "sex.sssom.tsv", "sct:TMP\tFemale", "sct:248153007\tFemale")
    body = folder / "body-part.sssom.tsv"
    body.write_text(body.read_text(encoding="utf-8") + HAND, encoding="utf-8")


def row_removed(folder: Path) -> None:
    """Female no longer mapped: those patients lose their sex."""
    path = folder / "sex.sssom.tsv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if "\tFemale\t" not in line]
    assert len(kept) == len(lines) - 1
    path.write_text("".join(kept), encoding="utf-8")


def rule_added(folder: Path) -> None:
    """A site rule writing a property of the site's own ontology."""
    (folder / "site.ttl").write_text(SITE_TTL, encoding="utf-8")
    (folder / "rules" / "site-thickness.rq").write_text(SITE_RULE, encoding="utf-8")


def rule_removed(folder: Path) -> None:
    """No age any more."""
    (folder / "rules" / "patient-age.rq").unlink()


def attribute_renamed(folder: Path) -> None:
    """Slice thickness written with the site's property instead of fd:sliceThickness."""
    (folder / "site.ttl").write_text(SITE_TTL, encoding="utf-8")
    _edit(
        folder, "attributes.sssom.tsv", "#   fd: ", "#   site: https://example.org/site#\n#   fd: "
    )
    _edit(folder, "attributes.sssom.tsv", "\tfd:sliceThickness\t", "\tsite:sliceThickness\t")


def ct_fails(folder: Path) -> None:
    """Modality CT mapped to a concept the shapes refuse: the CT series enter quarantine."""
    _edit(folder, "modality.sssom.tsv", "modality:CT\t", "modality:XCT\t")


Edit = Callable[[Path], None]
EDITS: list[Edit] = [
    rule_changed,
    row_added,
    row_removed,
    rule_added,
    rule_removed,
    attribute_renamed,
]


def _settings(store: Path, mappings: Path) -> Settings:
    return load_settings(store=str(store), mappings=str(mappings), batch_size=40)


def _state(store: Path) -> set[str]:
    """Return the quads of the dataset's layers and of the vocabulary and mappings graphs."""
    kept = ("/graph/test/", "/graph/vocabulary>", "/graph/mappings>")
    quads = export_text(store).splitlines()
    return {q for q in quads if any(k in q.rsplit(" ", 2)[-2] for k in kept)}


@pytest.fixture(scope="module")
def ingested(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus ingested with the bundled mappings, labels and mappings graph published."""
    store = tmp_path_factory.mktemp("quick") / "store"
    ingest([corpus], _settings(store, MAPPINGS), "test")
    publish_mappings(_settings(store, MAPPINGS))  # as `fairdicom ingest` does
    return store


def _mappings(tmp_path: Path, name: str, *edits: Edit) -> Path:
    folder = tmp_path / name
    shutil.copytree(MAPPINGS, folder)
    for edit in edits:
        edit(folder)
    return folder


def _both(ingested: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Return two copies of the ingested store: one for each path."""
    quick, full = tmp_path / "quick", tmp_path / "full"
    shutil.copytree(ingested, quick)
    shutil.copytree(ingested, full)
    return quick, full


def _apply(store: Path, mappings: Path, *, full: bool = False) -> RemapSummary:
    return remap(_settings(store, mappings), refresh=False, full=full)


@pytest.mark.parametrize("edit", EDITS, ids=[e.__name__ for e in EDITS])
def test_the_fast_path_gives_the_store_of_the_full_rebuild(
    ingested: Path, tmp_path: Path, edit: Edit
) -> None:
    quick, full = _both(ingested, tmp_path)
    before = _state(quick)
    edited = _mappings(tmp_path, "edited", edit)
    (fast,) = _apply(quick, edited).datasets
    (slow,) = _apply(full, edited, full=True).datasets
    assert fast.quick and not slow.quick
    assert fast.added + fast.removed > 0, "the edit changes nothing: not a test"
    assert (fast.added, fast.removed) == (slow.added, slow.removed)
    assert _state(quick) == _state(full) != before
    assert not fast.entering and not slow.entering


def test_a_run_of_edits_stays_on_the_fast_path_and_equal(ingested: Path, tmp_path: Path) -> None:
    """Each remap's provenance lets the next one take the fast path; back to the bundled
    mappings, the store is the ingested one again."""
    quick, full = _both(ingested, tmp_path)
    steps = [
        _mappings(tmp_path, "one", row_added),
        _mappings(tmp_path, "two", row_added, rule_added, rule_changed),
        _mappings(tmp_path, "three", rule_removed, row_removed),
        MAPPINGS,
    ]
    for step in steps:
        (fast,) = _apply(quick, step).datasets
        _apply(full, step, full=True)
        assert fast.quick, step
        assert _state(quick) == _state(full)
    assert {q for q in _state(quick) if "/graph/test/" in q} == {
        q for q in _state(ingested) if "/graph/test/" in q
    }


def test_series_entering_quarantine_take_the_full_rebuild(ingested: Path, tmp_path: Path) -> None:
    quick, full = _both(ingested, tmp_path)
    broken = _mappings(tmp_path, "broken", ct_fails)
    (entered,) = _apply(quick, broken).datasets
    _apply(full, broken, full=True)
    assert entered.entering and not entered.quick
    assert _state(quick) == _state(full)
    (left,) = _apply(quick, MAPPINGS).datasets  # a quarantine graph: the full rebuild again
    _apply(full, MAPPINGS, full=True)
    assert left.released == entered.entering and not left.quick
    assert _state(quick) == _state(full)


def test_a_store_written_by_another_version_takes_the_full_rebuild(
    ingested: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Series that are not validated again were judged by the shapes of the version that
    wrote them: another version's store is validated whole."""
    quick, _ = _both(ingested, tmp_path)
    monkeypatch.setattr("fairdicom.curation.quick_rebuild.__version__", "0.0.0-other")
    (done,) = _apply(quick, _mappings(tmp_path, "edited", row_added)).datasets
    assert not done.quick and done.added > 0


SHACL = "http://www.w3.org/ns/shacl#"
NODE_LOCAL = {
    f"{SHACL}{name}"
    for name in [
        "targetClass",
        "path",
        "message",
        "maxCount",
        "minCount",
        "datatype",
        "minExclusive",
        "maxExclusive",
        "minInclusive",
        "maxInclusive",
        "class",
        "nodeKind",
        "pattern",
        "flags",
        "severity",
        "in",
        "minLength",
        "maxLength",
        "hasValue",
        "name",
        "description",
    ]
} | {rdflib.RDF.type, rdflib.RDF.first, rdflib.RDF.rest, rdflib.RDFS.label, rdflib.RDFS.comment}


def test_the_shapes_are_node_local_as_the_fast_path_assumes() -> None:
    """The fast path validates again only the nodes whose triples change and those pointing
    at a node whose class changes: a shape that looks further (a property path, sh:node,
    sh:sparql, a qualified shape) would make that wrong, so it must come with a change there."""
    shapes = rdflib.Graph().parse(SHAPES, format="turtle")
    assert {str(p) for p in shapes.predicates()} <= {str(p) for p in NODE_LOCAL}
    paths = list(shapes.objects(None, rdflib.URIRef(SHACL + "path")))
    assert paths and all(isinstance(path, rdflib.URIRef) for path in paths)


def _imported(stderr: str) -> set[str]:
    """Return the top-level packages a child run with PYTHONPROFILEIMPORTTIME imported."""
    rows = (line.rsplit("|", 1)[-1] for line in stderr.splitlines() if line.startswith("import"))
    return {row.strip().split(".")[0] for row in rows}


def test_apply_says_which_path_ran_and_loads_no_dicom_reader(
    ingested: Path, tmp_path: Path
) -> None:
    """`mapping apply` reads no DICOM file, so it loads no DICOM reader (pydicom, numpy: up
    to a quarter of a second of its start); the nodes an edit changes are checked without
    loading pyshacl when the shapes' own check decides them."""
    store, _ = _both(ingested, tmp_path)
    edited = _mappings(tmp_path, "edited", row_added)
    env = {"FAIRDICOM_STORE": str(store), "FAIRDICOM_MAPPINGS": str(edited)}
    fast = run_cli("mapping", "apply", env=env | {"PYTHONPROFILEIMPORTTIME": "1"})
    assert fast.returncode == 0, fast.stderr
    assert "fast path)" in fast.stdout and "+5 -4 curated triples" in fast.stdout
    assert not {"pydicom", "numpy", "pyshacl"} & _imported(fast.stderr)  # see shape_check
    again = run_cli("mapping", "apply", env=env | {"PYTHONPROFILEIMPORTTIME": "1"})
    assert again.returncode == 0, again.stderr
    assert "+0 -0 curated triples" in again.stdout
    assert not {"pydicom", "numpy", "pyshacl"} & _imported(again.stderr)
    full = run_cli("mapping", "apply", "--full", env={**env, "FAIRDICOM_MAPPINGS": str(MAPPINGS)})
    assert full.returncode == 0, full.stderr
    assert "every series validated)" in full.stdout and "+4 -5 curated triples" in full.stdout


XSD = "http://www.w3.org/2001/XMLSchema#"
ODD_VALUES = [
    f'"-1"^^<{XSD}integer>',
    f'"200"^^<{XSD}integer>',
    f'"-1.5"^^<{XSD}decimal>',
    f'"0"^^<{XSD}decimal>',
    '"abc"',
    '"x"@en',
    "<http://example.org/other>",
    "<urn:oid:1.2.3>",
]


def _node_lines(lines: set[str], node: str) -> list[str]:
    """Return a node's lines and the class lines of the nodes they point at."""
    own = [line for line in lines if line.startswith(node + " ")]
    pointed = {line.split(" ", 2)[2][:-3] for line in own}
    types = [ln for ln in lines if ln.split(" ", 2)[0] in pointed and f" <{RDF_TYPE}> " in ln]
    return own + types


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def test_the_quick_shape_check_never_passes_what_pyshacl_fails(ingested: Path) -> None:
    """The fast path's own check of node-local shapes (no pyshacl to load) says "conforms"
    only where pyshacl says so too, for every node kind of the corpus and for each of their
    triples removed, doubled with an odd value, or replaced by one."""
    curated = {
        q.rsplit(" ", 2)[0] + " .\n"
        for q in export_text(ingested).splitlines()
        if q.rsplit(" ", 2)[-2].endswith("/graph/test/curated>")
    }
    classes = ("Series", "Study", "Patient", "Equipment")
    nodes = [
        next(ln.split(" ", 1)[0] for ln in sorted(curated) if ln.endswith(f"#{name}> .\n"))
        for name in classes
    ]
    decided = doubts = 0
    for node in nodes:
        lines = _node_lines(curated, node)
        assert surely_conform([node], lines)  # the ingested nodes pass, without pyshacl
        variants = []
        for line in [ln for ln in lines if ln.startswith(node + " ")]:
            head = " ".join(line.split(" ", 2)[:2])
            variants.append([ln for ln in lines if ln != line])
            for odd in ODD_VALUES:
                variants.append([*lines, f"{head} {odd} .\n"])
                variants.append([ln for ln in lines if ln != line] + [f"{head} {odd} .\n"])
        for variant in variants:
            quick = surely_conform([node], variant)
            failing = node[1:-1] in validate_curated("".join(variant)).failing_nodes
            assert not (quick and failing), variant
            decided += quick
            doubts += failing
    assert decided and doubts  # both answers occur: the test can fail both ways
