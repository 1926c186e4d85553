"""RESP2 replies as Upstash REST JSON (PROTOCOLS §1.4, §1.5).

With `Upstash-Encoding: base64` every string is base64 except the literal `OK` status reply; integers
and nulls are left alone; arrays are walked recursively. The SDK's decoder raises on any other JSON type,
which is why the bridge speaks RESP2 (no doubles, maps or booleans can appear). Without the header,
strings are UTF-8 with invalid bytes replaced by U+FFFD, as the docs describe.
"""

from __future__ import annotations

import base64
from typing import Any

from llmedge.devstack.resp import RespError, RespValue

JsonResult = str | int | None | list["JsonResult"]


def json_result(value: RespValue, base64_strings: bool) -> JsonResult:
    """The `result` value for a successful reply (nested errors, as EVAL may return, become text)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode() if base64_strings else value.decode(errors="replace")
    if isinstance(value, str):  # a status reply
        if base64_strings and value != "OK":
            return base64.b64encode(value.encode()).decode()
        return value
    if isinstance(value, RespError):
        return json_result(value.message.encode(), base64_strings)
    if isinstance(value, list):
        return [json_result(item, base64_strings) for item in value]
    return value


def json_item(value: RespValue, base64_strings: bool) -> dict[str, Any]:
    """`{"result": ...}` or `{"error": "..."}`; error texts are never encoded."""
    if isinstance(value, RespError):
        return {"error": value.message}
    return {"result": json_result(value, base64_strings)}
