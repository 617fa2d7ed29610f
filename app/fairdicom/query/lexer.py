"""Lexical checks of SPARQL text, made before a query or update reaches the engine.

``SERVICE <url>`` and ``LOAD <url>`` make Oxigraph open HTTP connections; on a public endpoint
that is server-side request forgery. They are refused here unless their target is on the
allow-list. The check is lexical (no parse): comments, string literals, variables, the local
part of prefixed names and IRIs are set aside, and every other occurrence of the keyword, in
any case and even glued to other text (Oxigraph accepts ``trueSERVICE<x>``, ``1SERVICE<x>``,
``SERVICESILENT<x>``, ``SERVICE:x``), must be followed by an allow-listed target: an absolute
IRI, or a prefixed name whose every declaration makes one. Anything else is refused (a
variable, a relative IRI, an unknown prefix). A second pass lexes again with the IRIs that
could hide a keyword (they hold it, then a ``#``) read as code. False positives are possible
(a prefix named ``service``), false negatives are what the two passes are built against; the
query workers also forbid network sockets when nothing is allow-listed (fairdicom/store/sandbox.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from fairdicom.errors import Forbidden, UsageError

_BASE = (  # PN_CHARS_BASE of the SPARQL grammar, beyond ASCII letters
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
# Name characters: the grammar's, widened by Python's \w. A name read longer than the
# engine reads it only takes in characters the engine rejects anyway (a syntax error).
_N = rf"\w{_BASE}\u00B7\u0300-\u036F\u203F\u2040"
_START = rf"(?:[^\W\d_]|[{_BASE}])"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_LOCAL = rf"(?:[{_N}:]|{_PLX})(?:(?:[{_N}:.-]|{_PLX})*(?:[{_N}:-]|{_PLX}))?"
_PREFIX = rf"{_START}(?:[{_N}.-]*[{_N}-])?"
# The alternatives start with different characters (but pname before word), so their order
# only matters for speed: the most frequent first.
_TOKEN = re.compile(
    rf"""(?P<space>\s+)
    |(?P<pname>(?:{_PREFIX})?:(?:{_LOCAL})?)
    |(?P<word>{_START}[{_N}-]*)
    |(?P<var>[?$][{_N}]+)
    |(?P<comment>\#[^\r\n]*)
    |(?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
       |'(?:[^'\\\r\n]|\\.)*'|"(?:[^"\\\r\n]|\\.)*")
    |(?P<iri><(?:[^<>"{{}}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{{4}}|\\U[0-9A-Fa-f]{{8}})*>)
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_LIMIT = re.compile(r"\s*([0-9]+)")
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_PROTOCOL_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^<>\"{}|^`\\\x00-\x20]*")
_TARGET_START = re.compile(rf"[<?$:\w{_BASE}]")
NONDETERMINISTIC = frozenset({"now", "rand", "uuid", "struuid", "bnode"})
MAX_NESTING = 256
"""Deepest nesting accepted: real queries nest a few levels; the engine overflows its stack at
a few thousand and takes the process with it."""
EXPENSIVE = frozenset(
    {"order", "group", "having", "distinct", "reduced", "count", "sum", "min", "max", "avg"}
    | {"sample", "group_concat", "service"}
)
"""Keywords that make a query leave the fast lane: sorting, grouping, aggregates, federation."""
CHEAP_LIMIT = 1000
"""A SELECT or CONSTRUCT with a LIMIT up to this (and nothing of EXPENSIVE) is a lookup."""


class Token(NamedTuple):
    """One lexical token: its kind (a group name of the lexer), start and text."""

    kind: str
    start: int
    text: str


def _suspect(iri: str, keyword: str) -> bool:
    """Return whether an IRI token could hide ``keyword`` (it holds it, then a ``#``)."""
    at = iri.lower().find(keyword)
    return at >= 0 and "#" in iri[at:]


def tokens(text: str, reread: str = "") -> Iterator[Token]:
    """Yield the tokens of ``text``; IRIs that could hide ``reread`` are read as code."""
    pos, end = 0, len(text)
    while pos < end:
        match = _TOKEN.match(text, pos)
        assert match is not None and match.lastgroup is not None  # 'other' matches any char
        kind, value = match.lastgroup, match.group()
        if kind == "iri" and reread and _suspect(value, reread):
            kind, value = "other", "<"
        yield Token(kind, pos, value)
        pos += len(value)


def _code(text: str, reread: str = "") -> list[Token]:
    if not reread:  # the common case, kept fast: one pass of the regex engine
        matches = _TOKEN.finditer(text)
        return [
            Token(m.lastgroup, m.start(), m.group())
            for m in matches
            if m.lastgroup not in ("space", "comment") and m.lastgroup is not None
        ]
    return [t for t in tokens(text, reread) if t.kind not in ("space", "comment")]


def _unescape(iri: str) -> str:
    return _UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), iri)


@dataclass
class Lexed:
    """A query or update split into tokens, with what the checks need to know of it."""

    text: str
    code: list[Token] = field(init=False)
    prefixes: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.code = _code(self.text)
        self.prefixes = {}
        start = Token("space", 0, "")
        for before, name, iri in zip([start, *self.code], self.code, self.code[1:], strict=False):
            if iri.kind != "iri" or name.kind != "pname" or not name.text.endswith(":"):
                continue
            declared = [name.text[:-1]] if before.text.lower() == "prefix" else []
            if name.text.lower().startswith("prefix"):  # PREFIXe: reads as PREFIX e:
                declared.append(name.text[6:-1])
            for prefix in declared:
                self.prefixes.setdefault(prefix, []).append(_unescape(iri.text[1:-1]))

    def words(self) -> set[str]:
        """Return the bare words (keywords, function names) in lower case."""
        return {t.text.lower() for t in self.code if t.kind == "word"}

    def has_dataset_clause(self) -> bool:
        """Return whether the query names its own dataset (FROM / FROM NAMED)."""
        return any(t.kind == "word" and t.text.lower() == "from" for t in self.code)

    def dataset_iris(self) -> tuple[list[str], list[str]] | None:
        """Return the graphs of the query's FROM and FROM NAMED clauses (None: cannot tell)."""
        if "base" in self.words():
            return None
        found: tuple[list[str], list[str]] = ([], [])
        code = self.code
        for at, token in enumerate(code):
            if token.kind != "word" or token.text.lower() != "from":
                continue
            named = at + 1 < len(code) and code[at + 1].text.lower() == "named"
            place = at + 2 if named else at + 1
            if place >= len(code):
                return None
            target = code[place]
            if target.kind == "iri":
                iris = [_unescape(target.text[1:-1])]
            elif target.kind == "pname":
                prefix, local = target.text.split(":", 1)
                local = re.sub(r"\\(.)", r"\1", local)
                iris = [base + local for base in self.prefixes.get(prefix, [])]
            else:
                return None
            if len(iris) != 1 or not _ABSOLUTE.match(iris[0]):
                return None
            found[1 if named else 0].append(iris[0])
        return found

    def depth(self) -> int:
        """Return how deep groups, brackets and parentheses nest (the parser's recursion)."""
        depth = deepest = 0
        for token in self.code:
            if token.kind == "other":
                if token.text in "{([":
                    depth += 1
                    deepest = max(deepest, depth)
                elif token.text in "})]":
                    depth -= 1
        return deepest

    def refuse_deep(self, limit: int = MAX_NESTING) -> None:
        """Raise UsageError when the text nests deeper than ``limit`` (the engine's parser
        recurses once a level and would overflow its stack)."""
        found = self.depth()
        if found > limit:
            raise UsageError(
                f"the text nests groups, brackets or parentheses {found} deep; "
                f"at most {limit} levels are accepted"
            )

    def cheap(self) -> bool:
        """Return whether the query looks like a small lookup: an ASK or a DESCRIBE, or a
        SELECT / CONSTRUCT with a small LIMIT that neither sorts, groups nor nests a query."""
        words = [t.text.lower() for t in self.code if t.kind == "word"]
        if any(w in EXPENSIVE for w in words) or words.count("select") > 1:
            return False
        if "ask" in words or "describe" in words:
            return True
        limits = [
            _LIMIT.match(self.text, token.start + len(token.text))
            for token in self.code
            if token.kind == "word" and token.text.lower() == "limit"
        ]
        last = limits[-1] if limits else None
        return last is not None and int(last.group(1)) <= CHEAP_LIMIT

    def cacheable(self) -> bool:
        """Return whether the same text on the same data always gives the same answer."""
        return not (self.words() & NONDETERMINISTIC) and not self._uses("service")

    def _uses(self, keyword: str) -> bool:
        return any(True for _ in self._keyword_targets(keyword))

    def _keyword_targets(self, keyword: str) -> Iterator[int]:
        """Yield the position after each occurrence of ``keyword`` that may be the keyword."""
        if not re.search(keyword, self.text, re.I):
            return  # the engine reads no escapes in keywords: absent text, absent keyword
        seen: set[int] = set()
        passes = [(self.code, False)]
        if any(t.kind == "iri" and _suspect(t.text, keyword) for t in self.code):
            passes.append((_code(self.text, reread=keyword), True))
        for code, reread in passes:
            for token in code:
                if token.kind == "word":
                    part = token.text
                elif token.kind == "pname":
                    part = token.text.split(":", 1)[0]
                else:
                    continue
                for found in re.finditer(re.escape(keyword), part, re.I):
                    after = token.start + found.end()
                    if after in seen or not _TARGET_START.match(self.text, _skip(self.text, after)):
                        continue
                    if reread:
                        # Only in a would-be IRI: a keyword there needs a target after it.
                        nxt = self._target_token(after)
                        if (
                            nxt is not None
                            and nxt.lastgroup in ("word", "other")
                            and (not nxt.group().startswith("<"))
                        ):
                            continue
                    seen.add(after)
                    yield after

    def _target_token(self, pos: int) -> re.Match[str] | None:
        """Return the token after a keyword (past SILENT), or None if that is ambiguous."""
        pos = _skip(self.text, pos)
        if self.text[pos : pos + 6].lower() == "silent":
            follower = self.text[pos + 6 : pos + 7]
            if follower == ":" or re.match(rf"[{_N}-]", follower):
                return None  # SILENT:x or SILENTx: which reading the engine picks is unclear
            pos = _skip(self.text, pos + 6)
        return _TOKEN.match(self.text, pos)

    def target(self, pos: int) -> list[str] | None:
        """Return the IRIs the keyword ending at ``pos`` may reach (None: cannot tell)."""
        match = self._target_token(pos)
        if match is None:
            return None
        if match.lastgroup == "iri":
            iris = [_unescape(match.group()[1:-1])]
        elif match.lastgroup == "pname":
            prefix, local = match.group().split(":", 1)
            local = re.sub(r"\\(.)", r"\1", local)
            iris = [base + local for base in self.prefixes.get(prefix, [])]
        else:
            return None
        if not iris or not all(_ABSOLUTE.match(iri) for iri in iris):
            return None
        # The target must end where the engine's would: before '{' (SERVICE), ';', INTO or
        # the end (LOAD). Otherwise the engine may read a longer name than this lexer did.
        follower = self.text[_skip(self.text, match.end()) :]
        if follower and follower[0] not in "{;" and follower[:4].lower() != "into":
            return None
        return iris

    def refuse_remote(self, allowed: Collection[str], keywords: Sequence[str]) -> None:
        """Raise Forbidden unless every SERVICE / LOAD of the text targets an allowed IRI."""
        for keyword in keywords:
            for pos in self._keyword_targets(keyword):
                iris = self.target(pos)
                if iris is None:
                    raise Forbidden(
                        f"{keyword.upper()} needs a literal endpoint IRI from the allow-list "
                        f"(near character {pos}); this one cannot be checked"
                    )
                refused = [iri for iri in iris if iri not in allowed]
                if refused:
                    raise Forbidden(
                        f"{keyword.upper()} <{refused[0]}> is not allowed: this endpoint only "
                        "reaches the endpoints of its service_allow_list"
                    )

    def with_using(self, using: Sequence[str], using_named: Sequence[str]) -> str:
        """Return the update with USING / USING NAMED clauses before each operation's WHERE."""
        if not using and not using_named:
            return self.text
        for iri in (*using, *using_named):
            protocol_iri(iri)
        clause = "".join(f" USING <{i}>" for i in using)
        clause += "".join(f" USING NAMED <{i}>" for i in using_named)
        depth, previous, inserts = 0, "", []
        for token in self.code:
            word = token.text.lower() if token.kind == "word" else ""
            if token.text == "{":
                depth += 1
            elif token.text == "}":
                depth -= 1
            elif depth == 0 and word in ("using", "with"):
                raise UsageError(
                    "using-graph-uri / using-named-graph-uri cannot be combined with an update "
                    "that has its own USING or WITH"
                )
            elif depth == 0 and word == "where" and previous != "delete":
                inserts.append(token.start)
            previous = word or token.text
        text = self.text
        for at in reversed(inserts):
            text = f"{text[:at]}{clause} {text[at:]}"
        return text


def _skip(text: str, pos: int) -> int:
    """Return the position of the first token after ``pos`` that is not space or comment."""
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup not in ("space", "comment"):
            break
        pos = match.end()
    return pos


def protocol_iri(iri: str) -> str:
    """Return ``iri`` if it is an absolute IRI fit for ``<...>``; raise UsageError otherwise."""
    if not _PROTOCOL_IRI.fullmatch(iri):
        raise UsageError(f"{iri!r} is not an absolute IRI")
    return iri
