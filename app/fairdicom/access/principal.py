"""Who sends a request: anonymous, a signed-in person (OIDC), a service account, the admin."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the claims that grants are matched against."""

    subject: str
    """``sub`` of the token (``key:NAME`` for an API key, ``admin``, or "" when anonymous)."""
    groups: frozenset[str] = frozenset()
    entitlements: frozenset[str] = frozenset()
    admin: bool = False
    issuer: str = ""

    @property
    def anonymous(self) -> bool:
        """Return whether nobody signed in."""
        return not self.subject

    @property
    def name(self) -> str:
        """Return the principal as the audit log names it."""
        if self.anonymous:
            return "anonymous"
        return f"{self.issuer} {self.subject}".strip()


ANONYMOUS = Principal("")
ADMIN = Principal("admin", admin=True)
