"""Verifying that a request really comes from QStash, as a pure function of (signature, raw body, url).

The check is `qstash.Receiver`'s (current key, then next key), on the raw body exactly as received and
against the exact public URL QStash was told to call — a signature minted for another URL (`sub`), another
body or another time window fails. Receiver leaks a few non-SignatureError exceptions for malformed tokens
(PROTOCOLS §4.2: a missing `body` claim raises KeyError), so every failure is folded into one error here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmedge.errors import InvalidSignature

if TYPE_CHECKING:
    from qstash import Receiver


def verify_qstash_request(receiver: Receiver, *, signature: str | None, body: bytes, url: str) -> None:
    if not signature:
        raise InvalidSignature("missing Upstash-Signature header")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSignature("body is not UTF-8, so it cannot match a QStash signature") from None
    try:
        receiver.verify(signature=signature, body=text, url=url)
    except Exception as error:
        raise InvalidSignature(f"signature rejected: {error}") from None
