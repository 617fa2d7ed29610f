"""Show N-Triples lines as Turtle lines with the project's prefixed names (for people)."""

from __future__ import annotations

import re

from fairdicom.namespaces import PREFIXES

_LOCAL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*\Z")
_TERM = re.compile(r'<([^>]*)>|("(?:[^"\\]|\\.)*")(?:\^\^<([^>]*)>|(@[A-Za-z0-9-]+))?|(_:\S+)')


def compact(value: str) -> str:
    """Return an IRI as a prefixed name when one fits, else as ``<iri>``."""
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        if value.startswith(namespace) and _LOCAL.match(value[len(namespace) :]):
            return f"{prefix}:{value[len(namespace) :]}"
    return f"<{value}>"


def turtle_line(line: str) -> str:
    """Return an N-Triples line as a Turtle line with prefixed names."""
    parts = []
    for match in _TERM.finditer(line):
        if match[1] is not None:
            parts.append(compact(match[1]))
        elif match[2] is not None:
            parts.append(match[2] + (f"^^{compact(match[3])}" if match[3] else match[4] or ""))
        else:
            parts.append(match[5])
    return " ".join(parts) + " ."
