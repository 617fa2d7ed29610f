"""Check the SPARQL CONSTRUCT rules of ``ontologies/mappings/rules/``.

A rule reads the raw triples of complete series (the default graph of the batch) and
everything its template writes goes into the curated graph; so it must parse, be a
CONSTRUCT query, use declared fd: and dcmtag: terms, read no named graph or remote service,
and write no raw-layer term. :func:`check_rule` reports every problem of a file (line and
column) and returns what the rule reads and writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fairdicom.namespaces import DCMPRIV, DCMTAG, FD
from fairdicom.rdf.sssom import Problems, closest, fail

QueryParser = Callable[[str], str | tuple[int, int, str]]
"""Return the form of a SPARQL query (SELECT, CONSTRUCT, ASK, DESCRIBE), or (line, column,
message) where it does not parse: the store's parser (``fairdicom.store.query_form``), the one that
will run the rules."""
RAW_TERMS = frozenset(
    FD + name for name in ("inSeries", "inStudy", "ofPatient", "invalidValueFor", "itemIndex")
) | {FD + "validationReport", FD + "SequenceItem"}
"""Terms of the raw layer (and of quarantine) that no rule may write."""
KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
_PREFIX_DECL = re.compile(r"PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.IGNORECASE)
_PREFIXED = re.compile(r"(?<![\w<?$\"'-])([A-Za-z][\w-]*)?:([A-Za-z_][\w-]*)")
_FULL_IRI = re.compile(r"<([^>\s]*)>")
_STRINGS_AND_COMMENTS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*')
_STRINGS_AND_IRIS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^>\s]*>|#[^\n]*')
_READS_ELSEWHERE = re.compile(r"(?<![?$:\w])(GRAPH|FROM|SERVICE)\b", re.IGNORECASE)


@dataclass(frozen=True)
class RuleTerms:
    """What a rule reads (DICOM keywords) and writes (IRIs in its template)."""

    reads: frozenset[str]
    writes: frozenset[str]


def _blank(match: re.Match[str]) -> str:
    return " " * len(match[0])


def _mentions(text: str, pattern: re.Pattern[str]) -> Iterator[tuple[int, int, str, str]]:
    """Yield (line, column, prefix, local name) of each prefixed name outside strings, IRIs
    and comments (columns kept: what is left out is blanked, not removed)."""
    for number, line in enumerate(text.splitlines(), 1):
        if _PREFIX_DECL.match(line.strip()):
            continue
        code = pattern.sub(_blank, line)
        for match in _PREFIXED.finditer(code):
            yield number, match.start() + 1, match[1] or "", match[2]


def _template(text: str) -> tuple[int, int]:
    """Return the start and end offsets of the CONSTRUCT template (``{...}``), or (0, 0)."""
    code = _STRINGS_AND_COMMENTS.sub(_blank, text)
    found = re.search(r"\bCONSTRUCT\s*\{", code, re.IGNORECASE)
    if not found:
        return 0, 0
    depth, start = 0, found.end() - 1
    for index in range(start, len(code)):
        depth += {"{": 1, "}": -1}.get(code[index], 0)
        if depth == 0:
            return start, index
    return 0, 0


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def check_rule(
    path: Path,
    terms: set[str] | None,
    keywords: set[str] | None,
    query_form: QueryParser,
    problems: Problems,
) -> RuleTerms:
    """Check one rule file, recording each problem; return what it reads and writes.

    The store's parser checks the syntax (Oxigraph's: microseconds, where a pure-Python parser
    takes a tenth of a second a file); prefixed names are then looked up line by line.
    """
    text = path.read_text(encoding="utf-8")
    declared = {m[1] or "": m[2] for m in _PREFIX_DECL.finditer(text)}
    mentions = list(_mentions(text, _STRINGS_AND_IRIS))
    for line, column, prefix, _ in mentions:
        if prefix not in declared:
            with problems.collecting():
                fail(
                    path,
                    line,
                    f"unknown prefix '{prefix}' (declare it with PREFIX)"
                    + closest(prefix, declared),
                    column,
                )
    with problems.collecting():
        form = query_form(text)
        if isinstance(form, tuple):
            line, column, message = form
            fail(path, line, f"SPARQL syntax error: {message}", column)
        if form != "CONSTRUCT":
            fail(path, 1, f"a rule must be a CONSTRUCT query, not a {form} query")
    reads: set[str] = set()
    iris: list[tuple[int, int, str]] = []
    for line, column, prefix, local in mentions:
        if prefix in declared:
            iris.append((line, column, declared[prefix] + local))
    code = _STRINGS_AND_COMMENTS.sub(_blank, text)
    for match in _FULL_IRI.finditer(code):
        if not _PREFIX_DECL.match(text[text.rfind("\n", 0, match.start()) + 1 :].strip()):
            iris.append((*_position(text, match.start()), match[1]))
    start, end = _template(text)
    writes: set[str] = set()
    for line, column, iri in iris:
        offset = sum(len(ln) + 1 for ln in text.splitlines()[: line - 1]) + column - 1
        in_template = start < offset < end
        local = iri.rpartition("#")[2]
        with problems.collecting():
            if terms is not None and iri.startswith(FD) and iri not in terms:
                fail(
                    path,
                    line,
                    f"<{iri}> is not declared in ontologies/fairdicom.ttl"
                    + closest(local, (t.rpartition("#")[2] for t in terms if t.startswith(FD))),
                    column,
                )
            if iri.startswith(DCMTAG):
                known = keywords is not None and local in keywords
                if not (known or (keywords is None and KEYWORD.match(local))):
                    fail(
                        path,
                        line,
                        f"<{iri}> is not declared in the DICOM data dictionary"
                        + closest(local, keywords or ()),
                        column,
                    )
            if in_template and (iri in RAW_TERMS or iri.startswith((DCMTAG, DCMPRIV))):
                fail(
                    path,
                    line,
                    f"the template writes <{iri}>, a term of the raw layer: a rule writes "
                    "curated triples only (use an fd: curated property)",
                    column,
                )
        if in_template:
            writes.add(iri)
        elif iri.startswith(DCMTAG):
            reads.add(local)
    for match in _READS_ELSEWHERE.finditer(_STRINGS_AND_IRIS.sub(_blank, text)):
        with problems.collecting():
            fail(
                path,
                *_position(text, match.start())[:1],
                f"a rule reads the raw triples of the series being written (the default "
                f"graph); {match[1].upper()} reads elsewhere and is not allowed",
                _position(text, match.start())[1],
            )
    return RuleTerms(frozenset(reads), frozenset(writes))
