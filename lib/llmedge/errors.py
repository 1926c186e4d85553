"""The library's exception tree; `llmedge.http.responses` turns it into HTTP in exactly one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class LLMEdgeError(Exception):
    """Base of every error a caller can be told about: an HTTP status, a stable code, a message."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
        self.details = dict(details or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        error.update(self.details)
        return {"error": error}


class ConfigurationError(LLMEdgeError):
    """A missing or malformed environment variable; raised at cold start, naming the variable."""

    code = "configuration_error"


class BadRequest(LLMEdgeError):
    status = 400
    code = "bad_request"


class InvalidJSON(BadRequest):
    code = "invalid_json"


class ValidationFailed(LLMEdgeError):
    status = 422
    code = "validation_error"


class AuthenticationError(LLMEdgeError):
    status = 401
    code = "unauthorized"


class InvalidSignature(AuthenticationError):
    code = "invalid_signature"


class Forbidden(LLMEdgeError):
    status = 403
    code = "forbidden"


class NotFound(LLMEdgeError):
    status = 404
    code = "not_found"


class MethodNotAllowed(LLMEdgeError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(LLMEdgeError):
    status = 413
    code = "payload_too_large"


class RateLimited(LLMEdgeError):
    status = 429
    code = "rate_limited"


class ServiceUnavailable(LLMEdgeError):
    status = 503
    code = "service_unavailable"


class StoreUnavailable(ServiceUnavailable):
    """Upstash Redis could not be reached within the time budget."""

    code = "store_unavailable"


class OffloadUnavailable(ServiceUnavailable):
    """QStash did not accept the job; nothing was left half-written."""

    code = "offload_unavailable"
