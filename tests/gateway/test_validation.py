"""Validation errors name the field as a dotted path, whatever kind of mistake msgspec reports."""

from __future__ import annotations

from typing import Any

import pytest

from llmedge.errors import ValidationFailed
from llmedge.schemas import CallbackBody, Generation
from llmedge.validation import convert


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"prompt": "x"}, "model"),
        ({"model": "m", "prompt": "x", "cache": {"surprise": 1}}, "cache.surprise"),
        ({"model": "m", "messages": [{"role": "user"}, {"role": "robot"}]}, "messages.1.role"),
        ({"model": "m", "messages": [{"role": "user", "content": 7}]}, "messages.0.content"),
        ({"model": "m", "prompt": "x", "params": {"max_tokens": 0}}, "params.max_tokens"),
        ({"model": "m", "prompt": "x", "params": {"max_tokens": 1.5}}, "params.max_tokens"),
        ({"model": "m", "prompt": "x", "params": {"stream": True}}, "params"),
        ({"model": "m", "prompt": "x", "debounce": {"key": "k", "window": 61}}, "debounce.window"),
        ({"model": "m"}, "body"),
        ({"model": "m", "kind": "image", "messages": [{"role": "user", "content": "x"}]}, "body"),
    ],
)
def test_the_error_names_the_field(document: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        Generation.parse(document)
    assert raised.value.field == field
    assert raised.value.message.startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        # Characters Python's \s or \d accepts but a JSON Schema (ECMA-262) client would not, and back.
        ({"model": "gpt\u0085mini", "prompt": "x"}, "model: must be a model name: no spaces or control"),
        ({"model": "gpt\u001dmini", "prompt": "x"}, "model: must be a model name: no spaces or control"),
        ({"model": "gpt\ufeffmini", "prompt": "x"}, "model: must be a model name: no spaces or control"),
        (
            {"model": "m", "kind": "image", "prompt": "x", "params": {"size": "\u0661\u0660x\u0661\u0660"}},
            "params.size: must be WIDTHxHEIGHT, such as 1024x1024",
        ),
        ({"model": "m", "prompt": "x", "cache": {"namespace": "a b"}}, "cache.namespace: must be 1 to 64 of"),
    ],
)
def test_a_pattern_error_says_what_the_value_must_be(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        Generation.parse(document)
    assert raised.value.message.startswith(message)
    assert "regex" not in raised.value.message


def test_model_names_may_be_any_script() -> None:
    assert Generation.parse({"model": "模型-1.5", "prompt": "x"}).model == "模型-1.5"


def test_unknown_message_fields_and_params_pass_through_unchanged() -> None:
    document = {
        "model": "m",
        "messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}], "name": "ünï"}],
        "params": {"temperature": 0, "response_format": {"type": "json_object"}, "top_p": None},
    }
    generation = Generation.parse(document)
    assert generation.chat_messages() == [{"role": "assistant", "tool_calls": [{"id": "c1"}], "name": "ünï"}]
    assert generation.passed_params() == {"temperature": 0, "response_format": {"type": "json_object"}}


def test_max_tokens_reads_either_spelling() -> None:
    assert Generation.parse({"model": "m", "prompt": "x", "params": {"max_tokens": 9}}).max_tokens() == 9
    completion = {"model": "m", "prompt": "x", "params": {"max_completion_tokens": 4}}
    assert Generation.parse(completion).max_tokens() == 4
    assert Generation.parse({"model": "m", "prompt": "x"}).max_tokens() is None


def test_callback_body_reads_qstash_field_names() -> None:
    body = convert({"status": 500, "retried": 1, "maxRetries": 3, "sourceMessageId": "msg_1"}, CallbackBody)
    assert (body.status, body.retried, body.max_retries, body.source_message_id) == (500, 1, 3, "msg_1")
    with pytest.raises(ValidationFailed) as raised:
        convert({"status": 200, "maxRetries": -1}, CallbackBody)
    assert raised.value.field == "maxRetries"
