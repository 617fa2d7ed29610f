"""The ``fairdicom`` command: a thin click shell over the library.

Every command takes ``--store`` (env ``FAIRDICOM_STORE``) and ``--config``; errors are
:class:`fairdicom.errors.FairdicomError` turned into a message a person can act on, exit status 2.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from fairdicom import __version__, media_types
from fairdicom.config import Settings, load_settings
from fairdicom.errors import FairdicomError
from fairdicom.resources import MAPPINGS, SAMPLE

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

    try:
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
    except FairdicomError:
        raise
    except Exception as exc:  # a traceback could quote DICOM values: say where, not what
        raise FairdicomError(_internal_error(exc)) from None
    finally:
        bar.close()
    for line in summary.lines():
        click.echo(line)
    click.echo(f"store: {settings.store}")
    _refresh_catalog(settings)
    return summary.exit_code


def _internal_error(exc: Exception) -> str:
    """Describe an unexpected error by its type and place in the code, never its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return (
        f"internal error {type(exc).__name__}{where} (its message is not shown: it may quote "
        "DICOM values); the store keeps every batch written so far"
    )


def _refresh_catalog(settings: Settings) -> None:
    """Bring the DCAT catalogue up to date after an ingest; a problem there is only reported."""
    from fairdicom.catalog.build import refresh_catalog

    try:
        published = refresh_catalog(settings).published
    except FairdicomError as exc:
        click.echo(
            f"catalogue not refreshed: {exc} (fix it, then run `fairdicom catalog`)", err=True
        )
        return
    click.echo(f"catalogue refreshed: {len(published)} dataset(s) published")


@main.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--dataset",
    metavar="SLUG",
    help="Dataset the files belong to (default: the `dataset` setting, 'default').",
)
@click.option("-v", "--verbose", is_flag=True, help="Say when each batch is committed.")
@store_option
@click.pass_context
def ingest_command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    dataset: str | None,
    verbose: bool,
    store: str | None,
) -> None:
    """Ingest DICOM files, folders (recursive), zip archives into the store.

    Exit status: 0 when every file went in or was plainly not DICOM; 1 when some were
    rejected or quarantined (the rest went in); 2 for usage errors or an unusable store.
    """
    settings = _settings(ctx, store=store)
    if dataset is not None and not _slug_ok(dataset):
        raise click.BadParameter("use lower-case letters, digits and '-'", param_hint="--dataset")
    ctx.exit(run_ingest(settings, list(paths), dataset, verbose))


def _slug_ok(slug: str) -> bool:
    return bool(slug) and all(c.isdigit() or c == "-" or "a" <= c <= "z" for c in slug)


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), help="Port to serve on (default: 8000).")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve after ingest.")
@store_option
@click.pass_context
def demo(ctx: click.Context, port: int | None, serve: bool, store: str | None) -> None:
    """Ingest the bundled synthetic sample into the store, then serve it over HTTP."""
    settings = _settings(ctx, store=store, port=port)
    code = run_ingest(settings, [SAMPLE], "sample")
    if not serve:
        click.echo("next: `fairdicom serve` (SPARQL endpoint), `fairdicom stats`")
        ctx.exit(code)
    from fairdicom.web.server import serve as run_server

    run_server(settings, click.echo)


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
    help="Dataset descriptions (default: data/datasets.toml).",
)
@store_option
@click.pass_context
def catalog(ctx: click.Context, check: bool, descriptions: Path | None, store: str | None) -> None:
    """Rebuild the DCAT-AP catalogue graph and the dataset dumps (ingest does it too)."""
    from fairdicom.catalog.build import refresh_catalog
    from fairdicom.catalog.conformance import report, validate_catalog
    from fairdicom.resources import DESCRIPTIONS

    summary = refresh_catalog(_settings(ctx, store=store), descriptions or DESCRIPTIONS)
    click.echo(f"catalogue: {len(summary.published)} dataset(s), {summary.triples} triples")
    for slug in summary.undescribed:
        click.echo(f"not published (no description in the descriptions file): {slug}")
    for slug in summary.missing:
        click.echo(f"described but not in the store: {slug}")
    if check:
        results = validate_catalog(summary.graph)
        click.echo(report(results), nl=False)
        ctx.exit(0 if all(result.conforms for result in results) else 1)


@main.group()
def mapping() -> None:
    """Check the curators' mapping files (SSSOM tables, SPARQL CONSTRUCT rules)."""


@mapping.command("check")
@click.argument(
    "directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
def mapping_check(directory: Path | None) -> None:
    """Check every mapping file; errors name file, line and problem."""
    from fairdicom.rdf.mapping import load_mappings
    from fairdicom.store import query_form

    try:
        mappings = load_mappings(directory or MAPPINGS, query_form)
    except FairdicomError as exc:
        raise CliError(str(exc)) from None
    click.echo(
        f"{len(mappings.files)} files, {len(mappings.queries)} queries: OK "
        f"(version {mappings.version})"
    )


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
