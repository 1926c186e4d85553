"""`llmedge keys`: create prints the secret once, Redis holds only its hash, list and revoke by id."""

from __future__ import annotations

import asyncio
import json

import pytest

from llmedge.cli import main
from llmedge.limits.apikeys import hash_secret
from llmedge.limits.config import LimitsConfig
from llmedge.limits.identity import CallerResolver
from tests.limits.factories import closed_port_url
from tests.upstash_fixture import TOKEN, upstash_client


@pytest.fixture
def upstash_env(bridge_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", bridge_url)
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", TOKEN)
    return bridge_url


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["keys", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def _redis_values_and_resolve(url: str, secret: str) -> tuple[list[str], str]:
    async with upstash_client(url) as redis:
        keys = await redis.keys("llmedge:apikeys:*")
        values = [await redis.get(key) or "" for key in keys if ":hash:" in key]
        values.append(json.dumps(await redis.hgetall("llmedge:apikeys:index")))
        caller = await CallerResolver(redis, LimitsConfig(timeout_s=30)).resolve(
            {"Authorization": f"Bearer {secret}"}, None
        )
    return [*keys, *values], caller.tenant


def test_create_list_revoke(upstash_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "create", "--tenant", "acme", "--tier", "pro", "--json")
    assert code == 0
    created = json.loads(out)
    secret = created["secret"]
    assert secret.startswith("llme_") and len(secret) > 40

    stored, tenant = asyncio.run(_redis_values_and_resolve(upstash_env, secret))
    assert tenant == "acme"
    assert not any(secret in text for text in stored)  # never the secret…
    assert any(hash_secret(secret) in text for text in stored)  # …only its hash

    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and created["id"] in out and "acme" in out and "pro" in out and secret not in out

    code, out, _ = run_cli(capsys, "revoke", created["id"])
    assert code == 0 and "revoked" in out
    code, out, _ = run_cli(capsys, "list", "--json")
    assert created["id"] not in [record["id"] for record in json.loads(out)]
    code, _, err = run_cli(capsys, "revoke", created["id"])
    assert code == 1 and "no API key with id" in err


def test_human_create_output_shows_the_secret_once(
    upstash_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "create", "--tenant", "beta")
    lines = out.strip().splitlines()
    assert code == 0 and "tier 'free'" in lines[0] and lines[-1].startswith("llme_")


@pytest.mark.parametrize(
    ("environ", "argv", "message"),
    [
        ({}, ["list"], "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set"),
        (
            {"UPSTASH_REDIS_REST_URL": "x", "UPSTASH_REDIS_REST_TOKEN": "t"},
            ["create", "--tenant", "a", "--tier", "gold"],
            "unknown tier 'gold'",
        ),
        ({"LLMEDGE_TIERS": "{bad"}, ["list"], "LLMEDGE_TIERS is not valid JSON"),
        ({"UPSTASH_REDIS_REST_URL": closed_port_url(), "UPSTASH_REDIS_REST_TOKEN": "t"}, ["list"], "failed"),
    ],
)
def test_errors_are_one_line(
    environ: dict[str, str],
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    code, _, err = run_cli(capsys, *argv)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
