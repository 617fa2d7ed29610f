"""A small real OpenID Connect issuer on 127.0.0.1 for the tests: discovery and JWKS over HTTP,
keys generated here, tokens signed with them (and, for the refusals, tokens that must fail)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

AUDIENCE = "fairdicom-test"
REALM = "/realms/test"
"""The issuer's path, as Keycloak's (``/realms/NAME``); discovery and keys live under it."""


class Issuer:
    """Keys, the documents an issuer publishes, and a token factory."""

    def __init__(self) -> None:
        self.url = ""
        self.keys: dict[str, tuple[PrivateKeyTypes, str]] = {}
        self.requests: list[str] = []
        self.rotate()

    def rotate(self) -> str:
        """Replace the keys by a new RSA and a new EC key; return the RSA key's id."""
        rsa_kid, ec_kid = uuid.uuid4().hex, uuid.uuid4().hex
        self.keys = {
            rsa_kid: (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
            ec_kid: (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        }
        return rsa_kid

    def kid(self, algorithm: str = "RS256") -> str:
        """Return the id of the current key of ``algorithm``."""
        return next(k for k, (_, alg) in self.keys.items() if alg == algorithm)

    def jwks(self) -> dict[str, Any]:
        """Return the public keys as a JWK Set."""
        keys = []
        for kid, (key, alg) in self.keys.items():
            jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": keys}

    def claims(self, **extra: Any) -> dict[str, Any]:
        """Return valid claims for a fresh token (``extra`` adds or overrides)."""
        now = int(time.time())
        base = {"iss": self.url, "aud": AUDIENCE, "sub": "someone", "iat": now, "exp": now + 600}
        base["nbf"] = now - 5
        return {**base, **extra}

    def token(self, algorithm: str = "RS256", kid: str | None = None, **extra: Any) -> str:
        """Return a token signed with the current key of ``algorithm``."""
        kid = kid or self.kid(algorithm)
        key, _ = self.keys[kid]
        return jwt.encode(self.claims(**extra), key, algorithm=algorithm, headers={"kid": kid})


def unsigned(claims: dict[str, Any]) -> str:
    """Return a token with ``alg: none`` and no signature."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def hmac_signed(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """Return an HS256 token keyed by ``secret`` (the algorithm-confusion attack when the
    secret is the issuer's public key, which PyJWT refuses to sign with)."""
    header = _part({"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + _part(claims)
    mac = hmac.new(secret, header.encode(), hashlib.sha256).digest()
    return header + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _part(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def tampered(token: str, **changes: Any) -> str:
    """Return ``token`` with its payload changed and its signature kept."""
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


@contextmanager
def running_issuer() -> Iterator[Issuer]:
    """Serve an issuer on a free loopback port until the block ends."""
    issuer = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.requests.append(self.path)
            if self.path == REALM + "/.well-known/openid-configuration":
                body: dict[str, Any] = {
                    "issuer": issuer.url,
                    "jwks_uri": issuer.url + "/protocol/openid-connect/certs",
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                }
            elif self.path == REALM + "/protocol/openid-connect/certs":
                body = issuer.jwks()
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}{REALM}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
