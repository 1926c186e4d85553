from __future__ import annotations

import pytest

from llmedge.errors import ConfigurationError
from llmedge.settings import Settings
from tests.gateway.conftest import BASE_ENV


def test_missing_variables_are_named() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({})
    message = str(caught.value)
    for name in ("UPSTASH_REDIS_REST_URL", "QSTASH_TOKEN", "LLMEDGE_PUBLIC_URL"):
        assert f"{name} is required" in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LLMEDGE_CACHE_TTL", "soon"),
        ("LLMEDGE_PUBLIC_URL", "gateway.example.com"),
        ("LLMEDGE_FLOW_CONTROL", "{not json"),
        ("LLMEDGE_FLOW_CONTROL", '{"gpt-4o": {"parallelism": 0}}'),
        ("LLMEDGE_CACHE_PARTITION", "everyone"),
        ("LLMEDGE_SEMANTIC_MEANING_CHECK", "sometimes"),
        ("LLMEDGE_SEMANTIC_CANDIDATES", "0"),
        ("LLMEDGE_SEMANTIC_CANDIDATES", "many"),
        ("LLMEDGE_SEMANTIC_GATHERED", "1000000"),
        ("LLMEDGE_CORS_ORIGINS", "https://app.example.com/"),
        ("LLMEDGE_CORS_ORIGINS", "https://app.example.com, *"),
        ("LLMEDGE_CORS_ORIGINS", "app.example.com"),
    ],
)
def test_malformed_variables_are_named(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environ({**BASE_ENV, variable: value})


def test_trailing_slashes_are_dropped_so_signed_urls_match() -> None:
    settings = Settings.from_environ({**BASE_ENV, "LLMEDGE_PUBLIC_URL": "https://g.example.com/"})
    assert settings.callback_url == "https://g.example.com/api/callback"


def test_the_meaning_check_is_off_unless_asked_for() -> None:
    assert Settings.from_environ(BASE_ENV).semantic_meaning_check is False
    asked = Settings.from_environ({**BASE_ENV, "LLMEDGE_SEMANTIC_MEANING_CHECK": "true"})
    assert asked.semantic_meaning_check is True


def test_cors_origins_are_a_list_or_a_star() -> None:
    assert Settings.from_environ(BASE_ENV).cors_origins == ()
    listed = {**BASE_ENV, "LLMEDGE_CORS_ORIGINS": " https://a.example.com ,http://localhost:5173"}
    assert Settings.from_environ(listed).cors_origins == ("https://a.example.com", "http://localhost:5173")
    assert Settings.from_environ({**BASE_ENV, "LLMEDGE_CORS_ORIGINS": "*"}).cors_origins == ("*",)
