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


# KEYS: the published records, the failed ones, then a set; ARGV: the TTL, how many were published and failed,
# the published ones' values, then the members to remove from the set (the vault's people published meanwhile).
_SETTLE = """
local published, failed = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, published + failed do
  if i <= published then redis.call('SET', KEYS[i], ARGV[3 + i], 'EX', ARGV[1]) else redis.call('DEL', KEYS[i]) end
end
for i = 4 + published, #ARGV do
  redis.call('SREM', KEYS[published + failed + 1], ARGV[i])
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
        self._settle_script = client.register_script(_SETTLE)

    def _key(self, event_id: str) -> str:
        return f"{self._prefix}idem:{event_id}"

    @property
    def pending_ttl_s(self) -> int:
        return self._pending_ttl_s

    def gates(self, claims: Sequence[Claim]) -> list[tuple[str, str]]:
        """The records to claim (set if absent, for `pending_ttl_s`), as the vault's script takes them: a
        recording's claims and its contact claims go to Redis in one round trip (`IdentityVault.remember_gated`)."""
        return [(self._key(claim.event_id), f"{PENDING}|{claim.fingerprint}") for claim in claims]

    @staticmethod
    def outcomes(claims: Sequence[Claim], replies: Sequence[bytes | int]) -> list[ClaimOutcome]:
        """Each claim's outcome from what its record held (1: claimed now; 0: expired meanwhile, come back);
        existing records are compared by fingerprint."""
        outcomes = []
        for claim, current in zip(claims, replies, strict=True):
            if isinstance(current, int):  # 1: claimed now; 0: expired between the SET and the GET
                outcomes.append(ClaimOutcome.NEW if current == 1 else ClaimOutcome.IN_PROGRESS)
                continue
            state, _, fingerprint = current.decode().partition("|")
            if fingerprint != claim.fingerprint:
                outcomes.append(ClaimOutcome.CONFLICT)
            elif state == DONE:
                outcomes.append(ClaimOutcome.DONE)
            else:
                outcomes.append(ClaimOutcome.IN_PROGRESS)
        return outcomes

    async def settle(
        self, published: Sequence[Claim], failed: Sequence[Claim], unmark: tuple[str, Sequence[str]] = ("", ())
    ) -> None:
        """Mark acknowledged events done and release the claims of those the broker did not take; and, in the
        same round trip, remove `unmark`'s members from its set (the vault's people whose records were
        published before the events)."""
        name, members = unmark
        if not published and not failed and not members:
            return
        keys = [self._key(claim.event_id) for claim in (*published, *failed)]
        await self._settle_script(
            keys=[*keys, name] if members else keys,
            args=[
                self._ttl_s,
                len(published),
                len(failed),
                *(f"{DONE}|{claim.fingerprint}" for claim in published),
                *members,
            ],
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
