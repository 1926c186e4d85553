"""`Upstash-Signature`: a JWT per delivery, in the form `qstash.Receiver` (PyJWT) accepts (PROTOCOLS §4).

HS256 keyed with the ASCII of the current signing key; claims `iss=Upstash`, `sub` = the exact URL
delivered to, `iat = nbf = now` (PyJWT rejects both in the future, and the Receiver's clock tolerance
has no effect), `exp = now + 300`, a *string* `jti` (PyJWT ≥ 2.10 rejects other types), and `body` =
base64url of SHA-256 of the raw body with `=` padding, as the docs' example shows. No `aud`: PyJWT
rejects an audience it was not told to expect. Real time throughout: the receiver checks it on its clock.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import warnings
from dataclasses import dataclass

import jwt
from jwt.warnings import InsecureKeyLengthWarning

TOKEN_LIFETIME_S = 300


@dataclass
class SigningKeys:
    """The account's two keys; `rotate()` promotes next to current and mints a new next, as
    `POST /v2/keys/rotate` does (docs `qstash/features/security.mdx`). Kept in memory only."""

    current: str
    next: str

    def rotate(self) -> None:
        self.current, self.next = self.next, new_signing_key()

    def view(self) -> dict[str, str]:
        return {"current": self.current, "next": self.next}


def new_signing_key() -> str:
    return f"sig_{secrets.token_urlsafe(21)}"


def body_hash(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode("ascii")


def sign(key: str, *, url: str, body: bytes, now: float | None = None) -> str:
    """The `Upstash-Signature` value for delivering `body` to `url`."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": "Upstash",
        "sub": url,
        "iat": issued,
        "nbf": issued,
        "exp": issued + TOKEN_LIFETIME_S,
        "jti": f"jwt_{secrets.token_hex(12)}",
        "body": body_hash(body),
    }
    # PyJWT ≥ 2.10 warns about HMAC keys under 32 bytes. QStash's keys (`sig_` + 28 characters) are 32;
    # shorter ones come from the user's own settings, and a warning per delivery would only be noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm="HS256", headers={"typ": "JWT"})
