"""Idempotency records of client event ids in Redis (SPEC §3.3: a retry is the same event).

A record is claimed (`pending`) before publishing and marked `done` once the broker acknowledged, so a
retry that races the first attempt is told to come back rather than answered before the event is safe.
If publishing fails the claim is released, and the retry publishes. Event ids are derived from the client
id, so even with the records lost (Redis emptied) a re-published retry carries the same event id and the
tracer drops it as a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import redis.asyncio as aioredis

PENDING = "pending"
DONE = "done"


# A batch's claims in one command (a script, not a pipeline of two commands per item: the batch endpoint's
# 1,000 items were 2,000 replies to parse). KEYS: the records; ARGV: the pending TTL, then each new value.
# Per key: 1 if claimed now, else the record as it is (0 if it expired meanwhile: come back).
_CLAIM = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[i + 1], 'NX', 'EX', ARGV[1]) then
    out[i] = 1
  else
    out[i] = redis.call('GET', key) or 0
  end
end
return out
"""
# KEYS: the published records, then the failed ones; ARGV: the TTL, how many were published, their values.
_SETTLE = """
local published = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  if i <= published then redis.call('SET', key, ARGV[2 + i], 'EX', ARGV[1]) else redis.call('DEL', key) end
end
return published
"""


class ClaimOutcome(StrEnum):
    NEW = "new"  # claimed now: publish it
    DONE = "done"  # published before with the same content: answer as before
    IN_PROGRESS = "in_progress"  # another attempt is publishing it right now
    CONFLICT = "conflict"  # the same client id was used for a different request


@dataclass(frozen=True)
class Claim:
    event_id: str
    fingerprint: str


class IdempotencyStore:
    """`ttl_s` bounds a done record; `pending_ttl_s` a claim, so that the claim of an instance that crashed
    mid-publish expires (its retry is told to come back until then) instead of blocking the id for good."""

    def __init__(self, client: aioredis.Redis, prefix: str, ttl_s: int, pending_ttl_s: int = 60) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._pending_ttl_s = min(pending_ttl_s, ttl_s)
        self._claim_script = client.register_script(_CLAIM)
        self._settle_script = client.register_script(_SETTLE)

    def _key(self, event_id: str) -> str:
        return f"{self._prefix}idem:{event_id}"

    async def claim(self, claims: Sequence[Claim]) -> list[ClaimOutcome]:
        """Claim every event id in one round trip; existing records are compared by fingerprint."""
        if not claims:
            return []
        keys = [self._key(claim.event_id) for claim in claims]
        values = [f"{PENDING}|{claim.fingerprint}" for claim in claims]
        replies = await self._claim_script(keys=keys, args=[self._pending_ttl_s, *values])
        outcomes = []
        for claim, current in zip(claims, replies, strict=True):
            if current == 1:
                outcomes.append(ClaimOutcome.NEW)
                continue
            if current == 0:
                outcomes.append(ClaimOutcome.IN_PROGRESS)
                continue
            state, _, fingerprint = (current or b"").decode().partition("|")
            if fingerprint != claim.fingerprint:
                outcomes.append(ClaimOutcome.CONFLICT)
            elif state == DONE:
                outcomes.append(ClaimOutcome.DONE)
            else:
                outcomes.append(ClaimOutcome.IN_PROGRESS)
        return outcomes

    async def settle(self, published: Sequence[Claim], failed: Sequence[Claim]) -> None:
        """Mark acknowledged events done and release the claims of those the broker did not take."""
        if not published and not failed:
            return
        keys = [self._key(claim.event_id) for claim in (*published, *failed)]
        await self._settle_script(
            keys=keys, args=[self._ttl_s, len(published), *(f"{DONE}|{claim.fingerprint}" for claim in published)]
        )

    async def bind(self, name: str, owner: str) -> str | None:
        """Binds `name` (a health authority's case id) to `owner` (a person key) for the records' lifetime, if
        nothing holds it; returns the owner it was already bound to when that is someone else, else None."""
        key = f"{self._prefix}bound:{name}"
        pipe = self._client.pipeline(transaction=False)
        pipe.set(key, owner, nx=True, ex=self._ttl_s)
        pipe.get(key)
        _, current = await pipe.execute()
        holder = (current or b"").decode() or owner
        return None if holder == owner else holder
