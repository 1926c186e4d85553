"""Structured logs: one JSON object per line, with the request id and the call's `extra` fields."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from llmedge.errors import ConfigurationError
from llmedge.logs import bind_request_id, configure_logging


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root, httpx_logger = logging.getLogger(), logging.getLogger("httpx")
    saved_handlers, saved_level, saved_httpx_level = list(root.handlers), root.level, httpx_logger.level
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        httpx_logger.setLevel(saved_httpx_level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_log_call_becomes_one_json_line_with_its_extra_fields(captured: io.StringIO) -> None:
    logging.getLogger("llmedge.generate").info(
        "job queued", extra={"job_id": "job_1", "message_id": "msg_1", "request_id": "req_given"}
    )
    [line] = lines(captured)
    assert line["level"] == "info"
    assert line["logger"] == "llmedge.generate"
    assert line["message"] == "job queued"
    assert line["request_id"] == "req_given"
    assert line["job_id"] == "job_1" and line["message_id"] == "msg_1"
    assert line["ts"].endswith("Z") and "T" in line["ts"]


def test_the_bound_request_id_reaches_lines_without_one_and_tasks_started_inside(
    captured: io.StringIO,
) -> None:
    log = logging.getLogger("llmedge.callback")

    async def request() -> None:
        with bind_request_id("req_bound"):
            log.info("inside")
            await asyncio.get_running_loop().create_task(background())
        log.info("after")

    async def background() -> None:
        log.info("from a task")

    asyncio.run(request())
    ours = [line for line in lines(captured) if line["logger"] == "llmedge.callback"]
    assert [(line["message"], line["request_id"]) for line in ours] == [
        ("inside", "req_bound"),
        ("from a task", "req_bound"),
        ("after", None),
    ]


def test_exceptions_and_non_json_extras_stay_on_one_line(captured: io.StringIO) -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("llmedge.http").exception("unhandled error", extra={"path": object()})
    [line] = lines(captured)  # one line, however many lines the traceback has
    assert line["level"] == "error"
    assert "ValueError: boom" in line["exception"]
    assert line["path"].startswith("<object object")


def test_a_second_configuration_replaces_the_first(captured: io.StringIO) -> None:
    other = io.StringIO()
    configure_logging("INFO", stream=other)
    logging.getLogger("llmedge").debug("hidden at INFO")
    logging.getLogger("llmedge").info("shown")
    assert captured.getvalue() == ""
    assert [line["message"] for line in lines(other)] == ["shown"]


def test_the_level_comes_from_the_environment_and_a_bad_one_names_the_variable(captured: io.StringIO) -> None:
    configure_logging(stream=captured, environ={"LLMEDGE_LOG_LEVEL": "warning"})
    assert logging.getLogger().level == logging.WARNING
    with pytest.raises(ConfigurationError, match="LLMEDGE_LOG_LEVEL"):
        configure_logging(environ={"LLMEDGE_LOG_LEVEL": "loud"})


def test_httpx_request_lines_are_kept_for_debug_only(captured: io.StringIO) -> None:
    other = io.StringIO()
    configure_logging("INFO", stream=other)
    logging.getLogger("httpx").info("HTTP Request: POST https://redis.example/ 200")
    logging.getLogger("llmedge").info("shown")
    assert [line["message"] for line in lines(other)] == ["shown"]
    configure_logging("DEBUG", stream=other)
    logging.getLogger("httpx").info("HTTP Request: POST https://redis.example/ 200")
    assert lines(other)[-1]["logger"] == "httpx"
