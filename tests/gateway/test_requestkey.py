from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmedge.requestkey import build_request_key
from llmedge.schemas import Generation


def key_of(document: dict, partition: str = "tenant-a", version: str = "1") -> str:
    request = Generation.parse(document)
    return build_request_key(request, partition=partition, key_version=version).cache_key


BASE = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_omitted_defaults_equal_explicit_defaults() -> None:
    explicit = {**BASE, "params": {"temperature": 1, "top_p": 1.0, "n": 1}}
    assert key_of(BASE) == key_of(explicit)


def test_temperature_zero_is_not_the_default() -> None:
    assert key_of(BASE) != key_of({**BASE, "params": {"temperature": 0}})


def test_prompt_shorthand_equals_one_user_message() -> None:
    assert key_of({"model": "gpt-4o-mini", "prompt": "hi"}) == key_of(BASE)


def test_single_text_part_equals_plain_string() -> None:
    parts = {**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    assert key_of(parts) == key_of(BASE)


def test_everything_that_changes_the_answer_changes_the_key() -> None:
    variants = [
        {**BASE, "model": "gpt-4o"},
        {**BASE, "messages": [{"role": "system", "content": "be brief"}, *BASE["messages"]]},
        {**BASE, "params": {"seed": 7}},
        {**BASE, "params": {"max_tokens": 10}},
        {**BASE, "params": {"tools": [{"type": "function", "function": {"name": "f"}}]}},
        {**BASE, "params": {"response_format": {"type": "json_object"}}},
        {**BASE, "cache": {"namespace": "other"}},
        {**BASE, "messages": [{"role": "user", "content": "hi "}]},
    ]
    keys = {key_of(v) for v in variants} | {key_of(BASE)}
    assert len(keys) == len(variants) + 1
    assert key_of(BASE, partition="tenant-b") != key_of(BASE)
    assert key_of(BASE, version="2") != key_of(BASE)


PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.sampled_from([0, 0.5, 1, 2]),
        "top_p": st.sampled_from([0.1, 1]),
        "seed": st.integers(0, 2**31),
        "max_tokens": st.integers(1, 4096),
        "user": st.text(min_size=1, max_size=5),
        "stop": st.lists(st.text(min_size=1, max_size=3), max_size=2),
    },
)


# The machine is shared with other suites; generation speed is not what this test is about.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=PARAMS)
def test_key_order_never_matters(params: dict) -> None:
    forward = {**BASE, "params": params}
    backward = {
        "params": dict(reversed(list(params.items()))),
        "messages": BASE["messages"],
        "model": BASE["model"],
    }
    assert key_of(forward) == key_of(backward)


def test_semantic_scope_ignores_only_the_last_user_message() -> None:
    def scope(document: dict) -> tuple[str | None, str | None]:
        key = build_request_key(Generation.parse(document), partition="t", key_version="1")
        return key.scope, key.semantic_text

    a_scope, a_text = scope(BASE)
    b_scope, b_text = scope({**BASE, "messages": [{"role": "user", "content": "hello there"}]})
    assert a_scope == b_scope and (a_text, b_text) == ("hi", "hello there")
    system_scope, _ = scope({**BASE, "messages": [{"role": "system", "content": "x"}, *BASE["messages"]]})
    assert system_scope != a_scope
    assert scope({"model": "m", "kind": "image", "prompt": "a cat"}) == (None, None)
