"""Check OpenID Connect bearer tokens (JWT) against the issuer's published keys.

The issuer's discovery document (``{issuer}/.well-known/openid-configuration``) names its JWKS;
keys are fetched once and kept (PyJWT's ``PyJWKClient``), and fetched again when a token names
a key id the cache does not hold, which is how an issuer's key rotation reaches the server.
A token passes when its signature verifies with an asymmetric algorithm of the allow-list
(``alg: none`` and the HMAC family are refused: a public key must never become an HMAC
secret), its ``iss`` is the configured issuer, its ``aud`` holds the configured audience, and
``exp`` and ``nbf`` hold (with a minute of leeway for clocks).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

import jwt

from fairdicom.access.principal import Principal
from fairdicom.errors import ConfigError, SourceError, Unauthorized

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LEEWAY = 60
"""Seconds of clock difference tolerated on ``exp`` and ``nbf``."""
FETCH_TIMEOUT = 10.0
KEYS_LIFESPAN = 3600
"""Seconds the fetched JWKS is trusted before it is fetched again."""
REFETCH_COOLDOWN = 5.0
"""Seconds between two fetches forced by unknown key ids (a flood of made-up ``kid`` values
must not become a flood of requests to the issuer)."""


def _claim_values(claims: dict[str, Any], names: Iterable[str]) -> frozenset[str]:
    """Return the string values of the named claims (a string or a list of strings each)."""
    found: set[str] = set()
    for name in names:
        value = claims.get(name)
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, list):
            found |= {v for v in value if isinstance(v, str)}
    return frozenset(found)


class OidcVerifier:
    """Turn a bearer JWT of the configured issuer into a principal, or refuse it with 401."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        group_claims: Sequence[str] = ("groups",),
        entitlement_claims: Sequence[str] = ("eduperson_entitlement",),
    ) -> None:
        wrong = [a for a in algorithms if a not in ASYMMETRIC]
        if wrong:
            raise ConfigError(
                f"oidc_algorithms: {', '.join(wrong)} cannot verify tokens of an OIDC issuer; use "
                f"asymmetric ones ({', '.join(sorted(ASYMMETRIC))})"
            )
        if not audience:
            raise ConfigError(
                "oidc_issuer is set but oidc_audience is not: set the client id the issuer "
                "puts in the tokens' aud claim"
            )
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.algorithms = list(algorithms)
        self.group_claims = tuple(group_claims)
        self.entitlement_claims = tuple(entitlement_claims)
        self._keys: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def _client(self) -> jwt.PyJWKClient:
        """Return the JWKS client, reading the issuer's discovery document the first time."""
        with self._lock:
            if self._keys is None:
                url = self.issuer + "/.well-known/openid-configuration"
                try:
                    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as answer:
                        document = json.load(answer)
                except (OSError, ValueError) as exc:
                    raise SourceError(
                        f"the OIDC issuer's discovery document {url} could not be read ({exc}); "
                        "check oidc_issuer and that the issuer is reachable"
                    ) from None
                if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                    raise SourceError(
                        f"{url} names issuer {document.get('issuer')!r}, not {self.issuer!r}: "
                        "set oidc_issuer to the issuer's exact identifier"
                    )
                self._keys = jwt.PyJWKClient(
                    str(document["jwks_uri"]),
                    lifespan=KEYS_LIFESPAN,
                    timeout=FETCH_TIMEOUT,
                    cooldown_duration=REFETCH_COOLDOWN,
                )
            return self._keys

    def principal(self, token: str) -> Principal:
        """Verify ``token``; return its principal or raise Unauthorized saying why."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized(
                "the bearer token is neither a JWT nor an API key of this site"
            ) from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise Unauthorized(
                f"the token is signed with {algorithm!r}; this server accepts "
                f"{', '.join(self.algorithms)} tokens of {self.issuer}"
            )
        try:
            key = self._client().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise SourceError(f"the issuer's keys could not be fetched: {exc}") from None
        except jwt.PyJWKClientError as exc:
            raise Unauthorized(f"the token's signing key is not the issuer's: {exc}") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"the token is not valid here: {exc}; sign in again") from None
        return Principal(
            subject=str(claims["sub"]),
            groups=_claim_values(claims, self.group_claims),
            entitlements=_claim_values(claims, self.entitlement_claims),
            issuer=self.issuer,
        )
