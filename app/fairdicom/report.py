"""Reports on a store for a person: what it holds, and whether its curated layer validates."""

from __future__ import annotations

from fairdicom.config import Settings
from fairdicom.rdf.terms import integer, lexical
from fairdicom.rdf.validation import validate_curated
from fairdicom.sparql_files import sparql
from fairdicom.store import open_store


def store_stats(settings: Settings) -> list[str]:
    """Return lines: each named graph with its quads, then counts per dataset."""
    store = open_store(settings, read_only=True)
    try:
        lines = [f"store {settings.store}: {store.quad_count()} quads"]
        lines += [f"  graph {g}: {store.quad_count(g)} quads" for g in store.graphs()]
        for row in store.select(sparql(__file__, "counts")):
            lines.append(
                f"dataset graph {lexical(row['g'])}: patients {integer(row['patients'])}, "
                f"studies {integer(row['studies'])}, series {integer(row['seriesCount'])}, "
                f"instances {integer(row['instances'])}"
            )
        return lines
    finally:
        store.close()


def validate_store(settings: Settings, batch: int = 200) -> tuple[list[str], bool]:
    """Validate each curated graph, series by series in batches; list quarantined series."""
    store = open_store(settings, read_only=True)
    lines: list[str] = []
    ok = True
    try:
        for graph in (g for g in store.graphs() if g.endswith("/curated")):
            query = sparql(__file__, "curated_series").replace("$GRAPH", f"<{graph}>")
            series = [str(row["series"]) for row in store.select(query)]
            failing = 0
            for start in range(0, len(series), batch):
                chunk = " ".join(series[start : start + batch])
                triples = store.construct(
                    sparql(__file__, "series_closure")
                    .replace("$GRAPH", f"<{graph}>")
                    .replace("$RAW", f"<{graph.removesuffix('curated')}raw>")
                    .replace("$SERIES", chunk)
                )
                result = validate_curated("".join(triples))
                if not result.conforms:
                    failing += len(result.failing_series)
                    lines.append(result.report_text)
            ok = ok and failing == 0
            lines.append(f"{graph}: {len(series)} series, {failing} not conforming")
        for row in store.select(sparql(__file__, "quarantined")):
            ok = False
            lines.append(
                f"quarantined {lexical(row['series'])} (graph "
                f"{lexical(row['g'])}):\n{lexical(row['report'])}"
            )
        return lines, ok
    finally:
        store.close()
