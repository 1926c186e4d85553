"""Errors of the model-API simulator, rendered the way OpenAI renders them.

OpenAI error bodies are `{"error": {"message", "type", "param", "code"}}` (API reference, "Error codes");
clients such as the `openai` SDK and our gateway read `error.message`, so every simulated failure —
validation, authentication or an injected fault — goes through `SimulatedError.response()`.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

# Status -> (type, code, message) as OpenAI sends them for the statuses a client must handle.
_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "The request was rejected by the model API."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", "unsupported_country_region_territory", "Access to the model is denied."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


class SimulatedError(Exception):
    """A failure the simulator answers with, as an OpenAI-style JSON error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    @classmethod
    def for_status(cls, status: int, reason: str) -> SimulatedError:
        """The error OpenAI would send with `status`, its message ending with why it was simulated."""
        default_type = "server_error" if status >= 500 else "invalid_request_error"
        type_, code, message = _OPENAI_ERRORS.get(status, (default_type, None, f"Upstream error {status}."))
        # Tell a client to wait before retrying, as OpenAI does on 429 (and QStash honours Retry-After).
        headers = {"Retry-After": "1", "X-RateLimit-Reset-Requests": "1s"} if status == 429 else None
        return cls(status, f"{message} ({reason})", type=type_, code=code, headers=headers)

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)
