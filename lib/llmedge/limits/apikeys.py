"""API keys stored hashed in Redis: `llmedge keys create|list|revoke`, and the lookup behind `Bearer` auth.

Only the SHA-256 of a secret is stored, never the secret. An unsalted fast hash is the usual choice for
API keys (unlike passwords): the secrets are 256 random bits, so there is nothing to brute-force, and a
fast hash keeps the lookup a single GET by hash.

Layout (all keys under `<prefix>:apikeys`):
- `<prefix>:apikeys:hash:<sha256 hex>` → JSON record {id, tenant, tier, created_at}: the lookup, one GET.
- `<prefix>:apikeys:index` hash, key id → JSON record with the sha256: listing and revocation by id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

from msgspec import Struct
from msgspec.structs import asdict
from upstash_redis.asyncio import Redis

SECRET_PREFIX = "llme_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyRecord(Struct, frozen=True):
    id: str
    tenant: str
    tier: str
    created_at: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ApiKeyRecord:
        data = json.loads(text)
        return cls(
            id=data["id"], tenant=data["tenant"], tier=data["tier"], created_at=int(data["created_at"])
        )


class CreatedKey(Struct, frozen=True):
    record: ApiKeyRecord
    secret: str  # shown to the user once, never stored


class ApiKeyStore:
    def __init__(self, redis: Redis, prefix: str = "llmedge") -> None:
        self._redis = redis
        self._index = f"{prefix}:apikeys:index"
        self._by_hash = f"{prefix}:apikeys:hash:"

    async def create(self, *, tenant: str, tier: str, clock: float | None = None) -> CreatedKey:
        key_id = "key_" + secrets.token_hex(6)
        secret = f"{SECRET_PREFIX}{secrets.token_urlsafe(32)}"
        digest = hash_secret(secret)
        created_at = int(time.time() if clock is None else clock)
        record = ApiKeyRecord(id=key_id, tenant=tenant, tier=tier, created_at=created_at)
        indexed = json.dumps({**asdict(record), "sha256": digest}, separators=(",", ":"))
        # MULTI/EXEC, so a key is never findable by hash without being listed (and revocable), or vice versa.
        transaction = self._redis.multi()
        transaction.set(self._by_hash + digest, record.to_json())
        transaction.hset(self._index, key_id, indexed)
        await transaction.exec()
        return CreatedKey(record=record, secret=secret)

    async def lookup(self, secret: str) -> ApiKeyRecord | None:
        """The record of a live key, or None for an unknown or revoked one (one round trip)."""
        return await self.lookup_hash(hash_secret(secret))

    async def lookup_hash(self, digest: str) -> ApiKeyRecord | None:
        raw = await self._redis.get(self._by_hash + digest)
        return None if raw is None else ApiKeyRecord.from_json(raw)

    async def list_keys(self) -> list[ApiKeyRecord]:
        entries = await self._redis.hgetall(self._index)
        records = [ApiKeyRecord.from_json(value) for value in entries.values()]
        return sorted(records, key=lambda record: (record.created_at, record.id))

    async def revoke(self, key_id: str) -> bool:
        """Delete the key; False when no such id. Warm instances may still accept it for their cache TTL."""
        raw = await self._redis.hget(self._index, key_id)
        if raw is None:
            return False
        transaction = self._redis.multi()
        transaction.delete(self._by_hash + json.loads(raw)["sha256"])
        transaction.hdel(self._index, key_id)
        await transaction.exec()
        return True
