"""The ``fairdicom`` command: a thin click shell over the library.

Every command takes ``--store`` (env ``FAIRDICOM_STORE``) and ``--config``; errors are
:class:`fairdicom.errors.FairdicomError` turned into a message a person can act on, exit status 2.
"""

from __future__ import annotations

import functools
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from tqdm import tqdm

from fairdicom import __version__, media_types
from fairdicom.config import Settings, load_settings
from fairdicom.errors import FairdicomError
from fairdicom.resources import SAMPLE

if TYPE_CHECKING:
    from fairdicom.ingest.summary import IngestSummary

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A fairdicom error shown to the user: exit status 2 (usage error or unusable store)."""

    exit_code = 2


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    config = ctx.find_root().params.get("config")
    return load_settings(config, **overrides)


def store_option(func: F) -> F:
    """Add ``--store`` to a command and turn fairdicom errors into clean messages."""

    @click.option(
        "--store",
        envvar="FAIRDICOM_STORE",
        metavar="LOCATION",
        help="Store: a directory (embedded Oxigraph) or an http(s) SPARQL URL. "
        "Default: ~/.local/share/fairdicom/store.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FairdicomError as exc:
            raise CliError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fairdicom")
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    envvar="FAIRDICOM_CONFIG",
    help="Configuration file (default: ./fairdicom.toml when present).",
)
def main(config: Path | None) -> None:
    """fairdicom: DICOM headers to de-identified, validated, FAIR linked data.

    Ingest DICOM into an embedded Oxigraph store (de-identified with DICOM PS3.15 Annex E,
    mapped to shared ontologies, checked with SHACL), then export, inspect and publish it.
    """


@main.command()
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--patients",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Number of synthetic patients.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--instances-per-series",
    type=(click.IntRange(min=1), click.IntRange(min=1)),
    metavar="MIN MAX",
    help="Instances in every series (default: by modality).",
)
def synth(
    out: Path, patients: int, seed: int, instances_per_series: tuple[int, int] | None
) -> None:
    """Write a synthetic, realistic DICOM corpus (fake PHI included) to OUT."""
    from fairdicom.dicom.synth import write_corpus

    summary = write_corpus(out, patients, seed, instances_per_series=instances_per_series)
    click.echo(
        f"wrote {summary.instances} instances ({summary.patients} patients, "
        f"{summary.studies} studies, {summary.series} series) to {out}"
    )


def run_ingest(
    settings: Settings, paths: list[Path], dataset: str | None, verbose: bool = False
) -> int:
    """Ingest with a progress bar and problem lines; print the summary; return the exit code."""
    from fairdicom.ingest.pipeline import ingest

    bar = tqdm(unit="file", desc="ingest", disable=None, file=sys.stderr, dynamic_ncols=True)

    def problem(path: str, reason: str) -> None:
        bar.write(f"{path}: {reason}", file=sys.stderr)

    def total(count: int) -> None:
        bar.total = count
        bar.refresh()

    def batch_done(instances: int, triples: int) -> None:
        if verbose:
            bar.write(f"batch committed: {instances} instances, {triples} triples", file=sys.stderr)

    def skipped(path: str, reason: str) -> None:
        if verbose:
            bar.write(f"{path}: skipped: {reason}", file=sys.stderr)

    with _quoting_nothing(bar):
        summary = ingest(
            paths,
            settings,
            dataset,
            progress=bar.update,
            problem=problem,
            total=total,
            batch_done=batch_done,
            skipped=skipped,
        )
    for line in summary.lines():
        click.echo(line)
    click.echo(f"store: {settings.store}")
    _refresh_catalog(settings)
    _compact(settings, summary)
    return summary.exit_code


def _compact(settings: Settings, summary: IngestSummary) -> None:
    """Compact the store after a large run, for fast queries; a problem is only reported."""
    from fairdicom.ingest.pipeline import compact_after

    try:
        seconds = compact_after(settings, summary)
    except FairdicomError as exc:
        click.echo(f"store not compacted: {exc} (queries are slower until then)", err=True)
        return
    if seconds is not None:
        click.echo(f"store compacted for queries in {seconds:.1f} s")


@contextmanager
def _quoting_nothing(bar: tqdm[Any]) -> Iterator[None]:
    """Close the progress bar at the end of a run; turn an unexpected error into a message that
    says where, not what (a traceback could quote DICOM values)."""
    try:
        yield
    except FairdicomError:
        raise
    except Exception as exc:
        raise FairdicomError(_internal_error(exc)) from None
    finally:
        bar.close()


def _internal_error(exc: Exception) -> str:
    """Describe an unexpected error by its type and place in the code, never its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return (
        f"internal error {type(exc).__name__}{where} (its message is not shown: it may quote "
        "DICOM values); the store keeps every batch written so far"
    )


def _publish_mappings(settings: Settings) -> None:
    """Bring the vocabulary (labels) and mappings graphs up to date after an ingest."""
    from fairdicom.curation.vocabulary import publish_mappings

    start = time.perf_counter()
    try:
        publish_mappings(settings)
    except FairdicomError as exc:
        click.echo(f"labels not refreshed: {exc} (then run `fairdicom mapping apply`)", err=True)
        return
    click.echo(f"labels and mappings refreshed in {time.perf_counter() - start:.1f} s")


def _refresh_catalog(settings: Settings) -> None:
    """Bring the DCAT catalogue up to date after an ingest; a problem there is only reported."""
    from fairdicom.catalog.build import refresh_catalog

    _publish_mappings(settings)  # first: the catalogue's concepts are labelled from it
    try:
        summary = refresh_catalog(settings)
    except FairdicomError as exc:
        click.echo(
            f"catalogue not refreshed: {exc} (fix it, then run `fairdicom catalog`)", err=True
        )
        return
    click.echo(
        f"catalogue refreshed: {len(summary.published)} dataset(s) published in "
        f"{summary.seconds:.1f} s (figures {summary.figures_seconds:.1f} s, dumps "
        f"{summary.dumps_seconds:.1f} s)"
    )
    _warn_generated(summary.generated, settings.descriptions_file)


def _warn_generated(slugs: list[str], descriptions: Path) -> None:
    """Say which datasets were published with a generated description, and how to fix it."""
    for slug in slugs:
        click.echo(
            f"warning: dataset {slug!r} has no description in {descriptions}: published with a "
            f"generated minimal description (access rights NON_PUBLIC, the catalogue's publisher "
            f"as publisher, contact and HDAB); describe it in a [datasets.{slug}] table",
            err=True,
        )


DICOMWEB_SCHEMES = ("dicomweb+http://", "dicomweb+https://")


class PathOrSource(click.ParamType[Any, Any]):
    """An existing file or folder, or a ``dicomweb+http(s)://`` URL (kept as text)."""

    name = "path"
    _path = click.Path(exists=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower().startswith(DICOMWEB_SCHEMES):
            return value
        return self._path.convert(value, param, ctx)


@main.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=PathOrSource(), metavar="PATH|URL...")
@click.option(
    "--dataset",
    metavar="SLUG",
    help="Dataset the files belong to (default: the `dataset` setting, 'default').",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEYWORD=VALUE",
    help="DICOMweb: QIDO-RS matching, e.g. ModalitiesInStudy=CT, StudyDate=2020-2021 "
    "(repeatable).",
)
@click.option("--since", metavar="DATE", help="DICOMweb: only studies of DATE (YYYY-MM-DD) on.")
@click.option(
    "--prune", is_flag=True, help="DICOMweb: remove the studies deleted on the source."
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    help="Parse on a Dask cluster: its scheduler, e.g. tcp://scheduler:8786 (the files on a "
    "filesystem its workers share; default: the `cluster` setting, else local processes).",
)
@click.option("-v", "--verbose", is_flag=True, help="Say when each batch is committed.")
@store_option
@click.pass_context
def ingest_command(
    ctx: click.Context,
    paths: tuple[Path | str, ...],
    dataset: str | None,
    filters: tuple[str, ...],
    since: str | None,
    prune: bool,
    cluster: str | None,
    verbose: bool,
    store: str | None,
) -> None:
    """Ingest DICOM files, folders (recursive), zip archives into the store, or harvest a
    PACS: dicomweb+http(s)://HOST[:PORT]/PATH (QIDO-RS + WADO-RS metadata; a re-run fetches
    only new or changed studies).

    Exit status: 0 when every file (study) went in or was plainly not DICOM; 1 when some were
    rejected, quarantined or failed (the rest went in); 2 for usage errors or an unusable store.
    """
    settings = _settings(ctx, store=store, cluster=cluster)
    if dataset is not None and not _slug_ok(dataset):
        raise click.BadParameter("use lower-case letters, digits and '-'", param_hint="--dataset")
    urls = [p for p in paths if isinstance(p, str)]
    if urls:
        if len(paths) > 1:
            raise click.UsageError("give one DICOMweb URL alone (no other URL or path beside it)")
        if cluster:
            raise click.UsageError(
                "--cluster is for files and folders: a DICOMweb harvest parses locally"
            )
        ctx.exit(run_harvest(settings, urls[0], dataset, filters, since, prune, verbose))
    if filters or since or prune:
        raise click.UsageError("--filter, --since and --prune are for a dicomweb+http(s):// URL")
    ctx.exit(run_ingest(settings, [Path(p) for p in paths], dataset, verbose))


def run_harvest(
    settings: Settings,
    url: str,
    dataset: str | None,
    filters: tuple[str, ...],
    since: str | None,
    prune: bool,
    verbose: bool,
) -> int:
    """Harvest a DICOMweb source with a progress bar by study; print the summary."""
    from fairdicom.ingest.harvest import HarvestCallbacks, harvest

    bar = tqdm(unit="study", desc="harvest", disable=None, file=sys.stderr, dynamic_ncols=True)

    def total(count: int) -> None:
        bar.total = count
        bar.refresh()

    def problem(path: str, reason: str) -> None:
        bar.write(f"{path}: {reason}", file=sys.stderr)

    def batch_done(instances: int, triples: int) -> None:
        if verbose:
            bar.write(f"batch committed: {instances} instances, {triples} triples", file=sys.stderr)

    read = [0]

    def study_done() -> None:
        read[0] += 1
        bar.update(1)
        if verbose:
            bar.write(f"study read: {read[0]} of {bar.total}", file=sys.stderr)

    def study_stored(label: str) -> None:
        if verbose:
            bar.write(f"study stored: {label}", file=sys.stderr)

    callbacks = HarvestCallbacks(total, study_done, problem, batch_done, study_stored=study_stored)
    with _quoting_nothing(bar):
        summary = harvest(
            url, settings, dataset, filters=filters, since=since, prune=prune, callbacks=callbacks
        )
    for line in summary.lines():
        click.echo(line)
    click.echo(f"store: {settings.store}")
    if summary.ingest is not None or summary.pruned:
        _refresh_catalog(settings)
    return summary.exit_code


@main.command("sources")
@store_option
@click.pass_context
def sources_command(ctx: click.Context, store: str | None) -> None:
    """List the DICOMweb sources (the `dicomweb_sources` setting, and those harvested into the
    store) with their last harvest: when, studies, instances, failures."""
    from fairdicom.ingest.sources_report import sources_report

    lines = sources_report(_settings(ctx, store=store))
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no DICOMweb source: set dicomweb_sources, or run "
                   "`fairdicom ingest dicomweb+http://HOST/dicom-web`")


def _slug_ok(slug: str) -> bool:
    return bool(slug) and all(c.isdigit() or c == "-" or "a" <= c <= "z" for c in slug)


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), help="Port to serve on (default: 8000).")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve after ingest.")
@store_option
@click.pass_context
def demo(ctx: click.Context, port: int | None, serve: bool, store: str | None) -> None:
    """Ingest the bundled synthetic sample into the store, then serve it over HTTP.

    The server's socket is bound first, so that the IRIs the ingest mints use the address it
    listens on (with --port 0, the port it got) when base_iri is not set.
    """
    from fairdicom.web.server import listen, listening_settings
    from fairdicom.web.server import serve as run_server

    settings = _settings(ctx, store=store, port=port)
    sock = None
    if serve:
        try:
            sock = listen(settings)
        except FairdicomError as exc:
            raise CliError(str(exc)) from None
        settings = listening_settings(settings, sock)
    code = run_ingest(settings, [SAMPLE], "sample")
    if sock is None:
        click.echo("next: `fairdicom serve` (SPARQL endpoint), `fairdicom stats`")
        ctx.exit(code)
    run_server(settings, click.echo, sock)


@main.command("serve")
@click.option("--host", metavar="HOST", help="Address to listen on (default: 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to listen on (default: 8000).")
@store_option
@click.pass_context
def serve_command(
    ctx: click.Context, host: str | None, port: int | None, store: str | None
) -> None:
    """Serve the SPARQL endpoint (/sparql) and the graph store (/store) until Ctrl-C."""
    from fairdicom.web.server import serve as run_server

    run_server(_settings(ctx, store=store, host=host, port=port), click.echo)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(
        list(dict.fromkeys(n for f in media_types.RDF for n in (f.name, *f.names))),
        case_sensitive=False,
    ),
    default=media_types.NQUADS.name,
    show_default=True,
    help="An RDF format (the names ?format= takes); one-graph formats write the union.",
)
@click.option("--graph", metavar="IRI", help="Export one named graph only.")
@store_option
@click.pass_context
def export(ctx: click.Context, fmt: str, graph: str | None, store: str | None) -> None:
    """Write the store (or one graph) to standard output."""
    from fairdicom.ingest.pipeline import open_for_reading

    chosen = media_types.find(fmt, media_types.RDF)
    assert chosen is not None  # click checked the choice
    handle = open_for_reading(_settings(ctx, store=store))
    try:
        handle.dump(sys.stdout.buffer, chosen.name, graph)
    finally:
        handle.close()


@main.command()
@store_option
@click.pass_context
def stats(ctx: click.Context, store: str | None) -> None:
    """Print what the store holds: graphs, quads, patients, studies, series, instances."""
    from fairdicom.report import store_stats

    for line in store_stats(_settings(ctx, store=store)):
        click.echo(line)


@main.command()
@store_option
@click.pass_context
def validate(ctx: click.Context, store: str | None) -> None:
    """Validate the curated graphs with the SHACL shapes and list quarantined series."""
    from fairdicom.report import validate_store

    lines, ok = validate_store(_settings(ctx, store=store))
    for line in lines:
        click.echo(line)
    ctx.exit(0 if ok else 1)


@main.command()
@click.option("--validate", "check", is_flag=True, help="Validate it with the official shapes.")
@click.option(
    "--descriptions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Dataset descriptions for this run only (default: the `descriptions` setting, which "
    "the refresh after every ingest uses too).",
)
@store_option
@click.pass_context
def catalog(ctx: click.Context, check: bool, descriptions: Path | None, store: str | None) -> None:
    """Rebuild the DCAT-AP catalogue graph and the dataset dumps (ingest does it too)."""
    from fairdicom.catalog.build import refresh_catalog
    from fairdicom.catalog.conformance import report, validate_pages
    from fairdicom.catalog.fdp import served_pages
    from fairdicom.namespaces import DataIris

    settings = _settings(ctx, store=store)
    summary = refresh_catalog(settings, descriptions)
    click.echo(f"catalogue: {len(summary.published)} dataset(s), {summary.triples} triples")
    if descriptions is not None and descriptions.resolve() != settings.descriptions_file.resolve():
        click.echo(
            f"note: the next ingest refreshes the catalogue from {settings.descriptions_file}; "
            f'set `descriptions = "{descriptions.resolve()}"` (or FAIRDICOM_DESCRIPTIONS) to keep '
            "publishing this file",
            err=True,
        )
    _warn_generated(summary.generated, descriptions or settings.descriptions_file)
    for slug in summary.missing:
        click.echo(f"described but not in the store: {slug}")
    if check:  # what /catalog serves: the graph read back from the store, page by page
        pages = served_pages(summary.served, DataIris(settings.base_iri))
        results = validate_pages([page.graph for page in pages])
        click.echo(report(results), nl=False)
        ctx.exit(0 if all(result.conforms for result in results) else 1)


@main.group()
def mapping() -> None:
    """Curate the mappings: check, preview, diff, apply (remap the store), coverage."""


@mapping.command("check")
@click.argument(
    "directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.pass_context
def mapping_check(ctx: click.Context, directory: Path | None) -> None:
    """Check every mapping file of DIRECTORY (default: the `mappings` setting).

    Every problem of every file is listed as FILE:LINE:COLUMN: PROBLEM; exit status 1 when
    there is one.
    """
    from fairdicom.curation.check import load_checked
    from fairdicom.rdf.sssom import MappingProblems

    try:
        settings = _settings(ctx)
        folder = directory or settings.mappings_folder
        mappings = load_checked(folder, settings)
    except MappingProblems as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        files = len({p.path for p in exc.problems})
        click.echo(f"{len(exc.problems)} problem(s) in {files} file(s)", err=True)
        ctx.exit(1)
    except FairdicomError as exc:
        raise CliError(str(exc)) from None
    click.echo(
        f"{folder}: {len(mappings.files)} files, {len(mappings.queries)} queries: OK "
        f"(version {mappings.version})"
    )


@mapping.command("preview")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_option
@click.pass_context
def mapping_preview(ctx: click.Context, file: Path, store: str | None) -> None:
    """Print the raw and curated triples FILE would give (Turtle), each curated triple under
    the table row or rule that made it. Nothing is written."""
    from fairdicom.curation.preview import preview, render

    click.echo(render(preview(_settings(ctx, store=store), file)), nl=False)


@mapping.command("diff")
@click.option("--dataset", metavar="SLUG", help="Only this dataset (default: all).")
@click.option("--examples", type=click.IntRange(min=0), default=3, show_default=True,
              help="Example triples per query and direction.")
@store_option
@click.pass_context
def mapping_diff(
    ctx: click.Context, dataset: str | None, examples: int, store: str | None
) -> None:
    """Show what the mappings in force would change in the stored curated layer, per query
    (triples added and removed, with examples), without writing anything."""
    from fairdicom.curation.diff import mapping_diff as compute
    from fairdicom.curation.report import diff_lines

    for line in diff_lines(compute(_settings(ctx, store=store), dataset), examples):
        click.echo(line)


@mapping.command("apply")
@click.option("--dataset", metavar="SLUG", help="Only this dataset (default: all).")
@click.option(
    "--full",
    is_flag=True,
    help="Validate every series again, even where only some change (no fast path).",
)
@store_option
@click.pass_context
def mapping_apply(ctx: click.Context, dataset: str | None, full: bool, store: str | None) -> None:
    """Rebuild the curated layer of every dataset (or one) from the raw layer in the store
    with the mappings in force: no DICOM file is needed. Each dataset changes in one
    transaction; provenance records the mapping version; the catalogue is refreshed."""
    from fairdicom.curation.remap import remap
    from fairdicom.curation.report import remap_lines

    bar = tqdm(unit="series", desc="remap", disable=None, file=sys.stderr, dynamic_ncols=True)

    def total(count: int) -> None:
        bar.total = count
        bar.refresh()

    try:
        summary = remap(
            _settings(ctx, store=store), dataset, total=total, progress=bar.update, full=full
        )
    finally:
        bar.close()
    for line in remap_lines(summary):
        click.echo(line)


@mapping.command("coverage")
@click.option("--dataset", metavar="SLUG", help="Only this dataset (default: all).")
@click.option("--all", "everything", is_flag=True, help="List every attribute not mapped.")
@store_option
@click.pass_context
def mapping_coverage(
    ctx: click.Context, dataset: str | None, everything: bool, store: str | None
) -> None:
    """Show which attributes each dataset's raw layer holds and how often, which are not
    mapped, and which coded values have no concept mapping."""
    from fairdicom.curation.coverage import coverage
    from fairdicom.curation.report import coverage_lines

    for line in coverage_lines(coverage(_settings(ctx, store=store), dataset), everything):
        click.echo(line)


@main.command()
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
def init(directory: Path) -> None:
    """Write a starter site into DIR: fairdicom.toml, a copy of the mappings, datasets.toml.

    Never overwrites a file; the site's settings point at the copies, ready to edit.
    """
    from fairdicom.starter_site import write_starter_site

    try:
        site = write_starter_site(directory)
    except FairdicomError as exc:
        raise CliError(str(exc)) from None
    config = site.config
    click.echo(f"wrote a starter site in {site.folder}:")
    click.echo(f"  {site.config}  settings (commented; mappings and descriptions point here)")
    click.echo(f"  {site.mappings}/  a copy of the bundled mapping files ({site.mapping_files})")
    click.echo(f"  {site.descriptions}  the descriptions of the datasets in the catalogue")
    click.echo("next:")
    click.echo(f"  1. describe your datasets in {site.descriptions} (a [datasets.<slug>] each)")
    click.echo(f"  2. edit the mappings, then: fairdicom --config {config} mapping check")
    click.echo(f"  3. fairdicom --config {config} ingest PATH... --dataset SLUG")
    click.echo(f"  4. fairdicom --config {config} serve")
    click.echo(f"  (in {site.folder}, ./fairdicom.toml is read without --config)")


@main.command()
@click.option("--output", type=click.Path(path_type=Path), help="Where to write the vocabulary.")
def vocabulary(output: Path | None) -> None:
    """Regenerate ontologies/dicom-tags.ttl from pydicom's data dictionary."""
    from fairdicom.dicom.dictionary import dictionary_entries, dictionary_version
    from fairdicom.rdf.vocabulary import DEFAULT_OUTPUT, write_tag_vocabulary

    out = output or DEFAULT_OUTPUT
    count = write_tag_vocabulary(dictionary_entries(), out, dictionary_version())
    click.echo(f"wrote {count} properties to {out}", err=True)


if __name__ == "__main__":
    main()
