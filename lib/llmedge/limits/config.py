"""Everything the limits read from the environment, validated once per cold start.

| variable | default | meaning |
|---|---|---|
| `LLMEDGE_TIERS` | anonymous/free/pro defaults (`tiers.py`) | JSON tier name → {requests, tokens, in_flight} |
| `LLMEDGE_API_KEYS` | none | JSON {"<secret or sha256:<hex>>": {"tenant": "acme", "tier": "pro"}} |
| `LLMEDGE_REQUIRE_API_KEY` | false | true: a request without a key is 401 instead of an anonymous caller |
| `LLMEDGE_TRUST_PROXY_HEADERS` | 0 | how many proxies of yours append to X-Forwarded-For (true = 1) |
| `LLMEDGE_GLOBAL_LIMIT` | 1000/1m | "N/<duration>" over all callers' misses (upstream protection); "off" disables |
| `LLMEDGE_LIMITS_FAIL_POLICY` | see `policy.py` | JSON limit → "open" / "closed" |
| `LLMEDGE_LIMITS_TIMEOUT_MS` | 1000 | budget for the admission round trip before the fail policy applies |
| `LLMEDGE_API_KEY_CACHE_TTL` | 30 | seconds a warm instance trusts a key lookup (also the revocation delay) |
| `LLMEDGE_IN_FLIGHT_TTL` | 900 | seconds a job holds an in-flight slot if it is never settled (crash) |
| `VERCEL` | unset | set by Vercel itself ("1"); only then are the `x-vercel-*` / `x-real-ip` headers trusted |
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import Struct, field

from llmedge.errors import ConfigurationError
from llmedge.limits.apikeys import hash_secret
from llmedge.limits.envjson import json_object_variable
from llmedge.limits.policy import FailPolicy, parse_fail_policy
from llmedge.limits.tiers import DEFAULT_TIERS, Rate, Tier, parse_rate, parse_tiers

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_HASH_PREFIX = "sha256:"
DEFAULT_GLOBAL_LIMIT = Rate(1000, 60_000)


class ConfiguredKey(Struct, frozen=True):
    """An API key given in configuration; only its hash is kept in memory."""

    key_id: str
    tenant: str
    tier: str


class LimitsConfig(Struct, frozen=True):
    tiers: Mapping[str, Tier] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    configured_keys: Mapping[str, ConfiguredKey] = field(default_factory=dict)  # by sha256 hex
    require_api_key: bool = False
    trusted_proxy_hops: int = 0
    on_vercel: bool = False
    global_limit: Rate | None = DEFAULT_GLOBAL_LIMIT
    fail_policy: FailPolicy = field(default_factory=FailPolicy)
    timeout_s: float = 1.0
    key_cache_ttl_s: float = 30.0
    in_flight_ttl_ms: int = 900_000
    prefix: str = "llmedge"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LimitsConfig:
        """Validate every variable; a bad one raises `ConfigurationError` naming it."""
        tiers = parse_tiers(environ.get("LLMEDGE_TIERS"))
        return cls(
            tiers=tiers,
            configured_keys=_parse_api_keys(environ.get("LLMEDGE_API_KEYS"), tiers),
            require_api_key=_boolean(environ, "LLMEDGE_REQUIRE_API_KEY"),
            trusted_proxy_hops=_proxy_hops(environ.get("LLMEDGE_TRUST_PROXY_HEADERS", "")),
            on_vercel=bool(environ.get("VERCEL")),
            global_limit=_global_limit(environ.get("LLMEDGE_GLOBAL_LIMIT", "")),
            fail_policy=parse_fail_policy(environ.get("LLMEDGE_LIMITS_FAIL_POLICY")),
            timeout_s=_positive_int(environ, "LLMEDGE_LIMITS_TIMEOUT_MS", 1000) / 1000,
            key_cache_ttl_s=float(_positive_int(environ, "LLMEDGE_API_KEY_CACHE_TTL", 30, minimum=0)),
            in_flight_ttl_ms=_positive_int(environ, "LLMEDGE_IN_FLIGHT_TTL", 900) * 1000,
        )

    def tier(self, name: str) -> Tier:
        return self.tiers[name]


def _global_limit(raw: str) -> Rate | None:
    value = raw.strip()
    if not value:
        return DEFAULT_GLOBAL_LIMIT
    if value.lower() == "off":
        return None
    return parse_rate(value, field="LLMEDGE_GLOBAL_LIMIT")


def _boolean(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false; got {value!r}")


def _positive_int(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigurationError(f"{name} must be an integer of at least {minimum}; got {raw!r}")
    return int(raw)


def _proxy_hops(raw: str) -> int:
    value = raw.strip().lower()
    if value in _FALSE:
        return 0
    if value in _TRUE:
        return 1
    if value.isdigit():
        return int(value)
    raise ConfigurationError(
        f"LLMEDGE_TRUST_PROXY_HEADERS must be false, true or the number of trusted proxies; got {raw!r}"
    )


def _parse_api_keys(raw: str | None, tiers: Mapping[str, Tier]) -> dict[str, ConfiguredKey]:
    document = json_object_variable(raw, "LLMEDGE_API_KEYS", '{"<key>": {"tenant": …, "tier": …}}')
    if document is None:
        return {}
    keys: dict[str, ConfiguredKey] = {}
    for position, (key, entry) in enumerate(document.items()):
        where = f"LLMEDGE_API_KEYS entry #{position + 1}"  # never echo a secret into an error or a log
        if not isinstance(entry, dict) or not isinstance(entry.get("tenant"), str) or not entry["tenant"]:
            raise ConfigurationError(f'{where} must be {{"tenant": "<name>", "tier": "<tier>"}}')
        tier = entry.get("tier", "free")
        if tier not in tiers:
            raise ConfigurationError(f"{where} names unknown tier {tier!r}; configured: {sorted(tiers)}")
        digest = key[len(_HASH_PREFIX) :].lower() if key.startswith(_HASH_PREFIX) else hash_secret(key)
        if len(digest) != 64 or any(char not in "0123456789abcdef" for char in digest):
            raise ConfigurationError(f"{where}: a sha256: key must be followed by 64 hex digits")
        keys[digest] = ConfiguredKey(key_id=f"cfg_{digest[:12]}", tenant=entry["tenant"], tier=tier)
    return keys
