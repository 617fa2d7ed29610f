"""The SPARQL update of :meth:`fairdicom.store.base.GraphStore.replace`, the same for every
backend: drop every triple of the given subjects, insert the new lines, then drop the orphan
candidates level by level (one request, so one transaction where the engine gives one)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fairdicom.sparql_files import sparql


def replace_operations(
    deletes: Mapping[str, Iterable[str]],
    insert_data: str,
    orphans: Mapping[str, Sequence[Iterable[str]]] | None = None,
) -> list[str]:
    """Return the update operations of a replace, in order (``insert_data``: the backend's own
    ``INSERT DATA`` text, "" for none)."""
    operations = []
    for graph, subjects in deletes.items():
        values = " ".join(subjects)
        if values:
            operations.append(
                sparql(__file__, "delete_subjects")
                .replace("$GRAPH", f"<{graph}>")
                .replace("$SUBJECTS", values)
            )
    if insert_data:
        operations.append(insert_data)
    for graph, levels in (orphans or {}).items():
        for nodes in levels:
            values = " ".join(nodes)
            if values:
                operations.append(
                    sparql(__file__, "delete_orphans")
                    .replace("$GRAPH", f"<{graph}>")
                    .replace("$NODES", values)
                )
    return operations
