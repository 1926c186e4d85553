"""LLMEDGE_* parsing: strict, with errors that name the variable and the field."""

from __future__ import annotations

import json

import pytest

from llmedge.errors import ConfigurationError
from llmedge.limits.apikeys import hash_secret
from llmedge.limits.config import DEFAULT_GLOBAL_LIMIT, LimitsConfig
from llmedge.limits.policy import FailPolicy, parse_fail_policy
from llmedge.limits.tiers import DEFAULT_TIERS, Rate, parse_rate, parse_tiers


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20/1m", Rate(20, 60_000)),
        ("50000/1d", Rate(50_000, 86_400_000)),
        (" 5 / 10s ", Rate(5, 10_000)),
        ("3/250ms", Rate(3, 250)),
        ("100/2h", Rate(100, 7_200_000)),
    ],
)
def test_rates_parse(text: str, rate: Rate) -> None:
    assert parse_rate(text, field="X") == rate


@pytest.mark.parametrize("text", ["20", "20/m", "20/1w", "0/1m", "20/0s", "-1/1m", "1.5/1m", "", 20, None])
def test_bad_rates_name_the_field(text: object) -> None:
    with pytest.raises(ConfigurationError, match=r"LLMEDGE_TIERS\['pro'\]\['requests'\]"):
        parse_rate(text, field="LLMEDGE_TIERS['pro']['requests']")


def test_tiers_default_when_unset_and_override_by_name() -> None:
    assert parse_tiers(None) == DEFAULT_TIERS
    tiers = parse_tiers(json.dumps({"pro": {"requests": "5/1s"}, "team": {"in_flight": 2}}))
    assert tiers["pro"].requests == Rate(5, 1000)
    assert tiers["pro"].tokens is None  # an omitted limit is off, not inherited from the default
    assert tiers["team"].in_flight == 2 and tiers["team"].requests is None
    assert tiers["free"] == DEFAULT_TIERS["free"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{nope", r"LLMEDGE_TIERS is not valid JSON"),
        ("[1]", r"LLMEDGE_TIERS must be a JSON object"),
        ('{"pro": {"request": "1/1s"}}', r"LLMEDGE_TIERS\['pro'\] has unknown field\(s\) \['request'\]"),
        ('{"pro": {"tokens": "lots"}}', r"LLMEDGE_TIERS\['pro'\]\['tokens'\] must look like"),
        ('{"pro": {"in_flight": 0}}', r"LLMEDGE_TIERS\['pro'\]\['in_flight'\] must be an integer"),
        ('{"pro": {"in_flight": true}}', r"in_flight'\] must be an integer"),
        ('{"pro": "fast"}', r"LLMEDGE_TIERS\['pro'\] must be an object"),
        ('{"a b": {}}', r"a tier name is"),
    ],
)
def test_bad_tiers_name_the_variable_and_field(raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_tiers(raw)


def test_environ_defaults() -> None:
    config = LimitsConfig.from_environ({})
    assert config.tiers == DEFAULT_TIERS
    assert config.global_limit == DEFAULT_GLOBAL_LIMIT
    assert config.fail_policy == FailPolicy(
        requests="open", global_="open", tokens="closed", in_flight="open"
    )
    assert (config.trusted_proxy_hops, config.on_vercel, config.require_api_key) == (0, False, False)
    assert config.timeout_s == pytest.approx(1.0)


def test_environ_values() -> None:
    secret = "llme_configured_secret"
    config = LimitsConfig.from_environ(
        {
            "LLMEDGE_GLOBAL_LIMIT": "off",
            "LLMEDGE_TRUST_PROXY_HEADERS": "2",
            "LLMEDGE_LIMITS_TIMEOUT_MS": "80",
            "LLMEDGE_REQUIRE_API_KEY": "true",
            "LLMEDGE_LIMITS_FAIL_POLICY": '{"requests": "closed", "tokens": "open"}',
            "LLMEDGE_API_KEYS": json.dumps(
                {secret: {"tenant": "acme", "tier": "pro"}, f"sha256:{'ab' * 32}": {"tenant": "beta"}}
            ),
            "VERCEL": "1",
        }
    )
    assert config.global_limit is None
    assert config.trusted_proxy_hops == 2 and config.on_vercel and config.require_api_key
    assert config.timeout_s == pytest.approx(0.080)
    assert config.fail_policy.mode("requests") == "closed" and config.fail_policy.mode("tokens") == "open"
    assert config.configured_keys[hash_secret(secret)].tenant == "acme"
    assert config.configured_keys["ab" * 32].tier == "free"
    assert secret not in repr(config)  # only hashes are kept


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LLMEDGE_GLOBAL_LIMIT": "lots"}, "LLMEDGE_GLOBAL_LIMIT must look like"),
        ({"LLMEDGE_TRUST_PROXY_HEADERS": "maybe"}, "LLMEDGE_TRUST_PROXY_HEADERS must be"),
        ({"LLMEDGE_LIMITS_TIMEOUT_MS": "0"}, "LLMEDGE_LIMITS_TIMEOUT_MS must be an integer"),
        ({"LLMEDGE_REQUIRE_API_KEY": "perhaps"}, "LLMEDGE_REQUIRE_API_KEY must be true or false"),
        ({"LLMEDGE_IN_FLIGHT_TTL": "1h"}, "LLMEDGE_IN_FLIGHT_TTL must be an integer"),
        ({"LLMEDGE_API_KEYS": '{"k": {"tier": "pro"}}'}, "LLMEDGE_API_KEYS entry #1 must be"),
        ({"LLMEDGE_API_KEYS": '{"k": {"tenant": "a", "tier": "gold"}}'}, "names unknown tier 'gold'"),
        ({"LLMEDGE_API_KEYS": '{"sha256:xyz": {"tenant": "a"}}'}, "64 hex digits"),
        ({"LLMEDGE_LIMITS_FAIL_POLICY": '{"tokens": "ajar"}'}, r"LLMEDGE_LIMITS_FAIL_POLICY\['tokens'\]"),
        ({"LLMEDGE_LIMITS_FAIL_POLICY": '{"cost": "open"}'}, "unknown limit 'cost'"),
    ],
)
def test_bad_environ_names_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        LimitsConfig.from_environ(environ)


def test_secret_never_in_error() -> None:
    with pytest.raises(ConfigurationError) as raised:
        LimitsConfig.from_environ({"LLMEDGE_API_KEYS": '{"llme_topsecret": {"tenant": 5}}'})
    assert "topsecret" not in str(raised.value)


def test_fail_policy_first_closed() -> None:
    policy = parse_fail_policy('{"in_flight": "closed"}')
    assert policy.first_closed(("requests", "global")) is None
    assert policy.first_closed(("requests", "tokens", "in_flight")) == "tokens"
    assert (
        parse_fail_policy('{"tokens": "open", "in_flight": "closed"}').first_closed(("tokens", "in_flight"))
        == "in_flight"
    )
