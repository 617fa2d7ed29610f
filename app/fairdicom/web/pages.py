"""The HTML query page: a SPARQL editor, the example cohort queries and a results table.

Register :data:`bp` on the app; the page runs queries against ``/sparql`` in the browser.
The examples are the ``examples/*.rq`` files beside this module, read at each request, each
starting with ``# title:`` and ``# answers:`` comment lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, render_template, request

from fairdicom.errors import NotAcceptable
from fairdicom.media_types import HTML, RDF, Format
from fairdicom.namespaces import PREFIXES
from fairdicom.web.fdp_records import root_response
from fairdicom.web.protocol import negotiate, settings

EXAMPLES = Path(__file__).with_name("examples")
"""The folder of example queries, one ``<slug>.rq`` file each."""
DEFAULT_QUERY = """\
SELECT ?modality (COUNT(DISTINCT ?series) AS ?seriesCount)
WHERE { ?series fd:modality ?modality }
GROUP BY ?modality
ORDER BY DESC(?seriesCount)
"""

bp = Blueprint(
    "pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/pages/static",
)


@dataclass(frozen=True)
class Example:
    """One example query: its slug (file name), title, the question it answers, its text."""

    slug: str
    title: str
    answers: str
    text: str


def parse_example(slug: str, text: str) -> Example:
    """Read the ``# title:`` and ``# answers:`` lines of an example's leading comments."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line.lstrip("# ").partition(":")
        if sep and key in ("title", "answers"):
            fields.setdefault(key, value.strip())
    return Example(slug, fields.get("title", slug), fields.get("answers", ""), text)


def load_examples(folder: Path = EXAMPLES) -> list[Example]:
    """Return the example queries of ``folder``, sorted by file name."""
    return [
        parse_example(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.rq"))
    ]


def prefix_block() -> str:
    """Return a PREFIX line for each of the project's prefixes."""
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in PREFIXES.items())


@bp.get("/")
@bp.get("/query")
def query() -> str | Response:
    """Show the query page, its editor filled from ``query``, ``example`` or the default; at
    ``/``, answer clients that ask for RDF with the FAIR Data Point's record instead."""
    if request.path == "/" and (fmt := _rdf_wanted()) is not None:
        return root_response(fmt)
    examples = load_examples()
    by_slug = {example.slug: example for example in examples}
    slug = request.args.get("example", "")
    if slug and slug not in by_slug:
        abort(404, f"no example query named {slug!r}")
    text = request.args.get("query") or (
        by_slug[slug].text if slug else prefix_block() + "\n" + DEFAULT_QUERY
    )
    return render_template(
        "pages/query.html",
        examples=examples,
        example_texts={example.slug: example.text for example in examples},
        current=slug,
        text=text,
        run=request.args.get("run") in ("1", "true", "yes"),
        prefixes=PREFIXES,
        sparql_url=request.script_root + "/sparql",
        base_iri=_base_iri(),
    )


def _base_iri() -> str:
    """Return the base IRI of the store's data, ending with a slash."""
    base = settings().base_iri
    return base if base.endswith("/") else base + "/"


def _rdf_wanted() -> Format | None:
    """Return the RDF format a client of ``/`` prefers to the page (browsers, and requests
    without Accept, get the page), or None."""
    try:
        fmt = negotiate((HTML, *RDF))
    except NotAcceptable:
        return None
    return None if fmt == HTML else fmt
