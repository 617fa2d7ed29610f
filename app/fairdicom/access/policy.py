"""Who may read which dataset: each dataset's access level, and the grants of the site.

A PUBLIC dataset's graphs are readable by anyone; a RESTRICTED or NON_PUBLIC one (and a
dataset the descriptions file does not describe, which the catalogue publishes as NON_PUBLIC)
only by the admin and by principals granted it. A grant (setting ``access_grants``) reads
``KIND:VALUE=SLUG [SLUG...]``: KIND is ``sub`` (a token's subject), ``group`` (a value of the
group claims), ``entitlement`` (a value of the entitlement claims) or ``key`` (an API key's
name); SLUG ``*`` grants every dataset.

A dataset whose description says ``public_aggregates = true`` lets everyone see its counts
(the cohort explorer's facets, with small-cell protection) but not its records:
:meth:`Policy.aggregate_scope` adds it to what the explorer counts over, never to a scope that
reads records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fairdicom.access.principal import Principal
from fairdicom.access.scope import EVERYTHING, Scope
from fairdicom.errors import ConfigError

KINDS = ("sub", "group", "entitlement", "key")
PUBLIC = "PUBLIC"
ALL = "*"


@dataclass(frozen=True)
class Grant:
    """Datasets opened to the principals that hold one claim value."""

    kind: str
    value: str
    datasets: frozenset[str]

    def holds(self, principal: Principal) -> bool:
        """Return whether the principal holds this grant's claim value."""
        if self.kind == "group":
            return self.value in principal.groups
        if self.kind == "entitlement":
            return self.value in principal.entitlements
        if self.kind == "key":
            return principal.subject == f"key:{self.value}"
        return principal.subject == self.value and not principal.subject.startswith("key:")


def parse_grant(text: str) -> Grant:
    """Read one ``KIND:VALUE=SLUG [SLUG...]`` grant; raise ConfigError saying how to write it."""
    claim, equals, slugs = text.rpartition("=")
    kind, colon, value = claim.partition(":")
    datasets = frozenset(slugs.split())
    if not equals or not colon or kind not in KINDS or not value or not datasets:
        raise ConfigError(
            f"access_grants: {text!r} is not a grant; write KIND:VALUE=SLUG [SLUG...] with KIND "
            f"one of {', '.join(KINDS)}, e.g. 'group:/eucaim/lung-ct=lung-ct'"
        )
    return Grant(kind, value, datasets)


class Policy:
    """Turn a principal into the scope of what it may read."""

    def __init__(
        self,
        levels: Mapping[str, str],
        grants: Iterable[str],
        enforced: bool = True,
        aggregates: Iterable[str] = (),
    ) -> None:
        self.levels = dict(levels)
        self.grants = [parse_grant(g) for g in grants]
        self.enforced = enforced
        self.aggregates = frozenset(aggregates)
        """Datasets whose counts everyone may see (``public_aggregates``)."""

    def public(self) -> frozenset[str]:
        """Return the datasets whose description says PUBLIC."""
        return frozenset(s for s, level in self.levels.items() if level == PUBLIC)

    def granted(self, principal: Principal) -> frozenset[str]:
        """Return the datasets the grants open to this principal (``*``: all)."""
        found: set[str] = set()
        for grant in self.grants:
            if grant.holds(principal):
                found |= grant.datasets
        return frozenset(found)

    def scope(self, principal: Principal) -> Scope:
        """Return what the principal may read."""
        if not self.enforced:
            return EVERYTHING
        public = self.public()
        closed = tuple(sorted(set(self.levels) - public))
        granted = self.granted(principal) if not principal.anonymous else frozenset()
        if principal.admin or ALL in granted:
            return Scope(None, closed)
        audited = tuple(sorted(granted - public))
        return Scope(public | granted, audited)

    def aggregate_scope(self, principal: Principal) -> Scope:
        """Return what the explorer may count over for the principal: what it may read, and
        the datasets with public aggregates (never to be used to answer with records)."""
        scope = self.scope(principal)
        if scope.readable is None:
            return scope
        return Scope(scope.readable | self.aggregates, ())
