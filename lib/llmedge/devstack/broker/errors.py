"""The broker's client errors: each becomes `{"error": "..."}` with its status, QStash's error shape
(docs `qstash/openapi.yaml`, schema `Error`). Anything else is a bug and answers a JSON 500."""

from __future__ import annotations

from typing import ClassVar


class BrokerError(Exception):
    """A request the broker refuses; `message` is shown to the client as is."""

    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(BrokerError):
    status = 400


class Unauthorized(BrokerError):
    status = 401


class NotFound(BrokerError):
    status = 404


class PayloadTooLarge(BrokerError):
    status = 413
