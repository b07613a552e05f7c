"""Nothing acknowledged is ever missing from identity-vault.v1, even when a publish fails (issue 13).

The vault stores a claim in Redis (HSETNX) and then publishes the person's record; the topic is what the
vault is rebuilt from. Before, a publish that failed left the claim stored and marked known, so the client's
retry found nothing new and never published: a rebuild lacked that person for good.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis

from antoan_ingest.adapters.vault import IdentityVault, VaultCipher, derive_vault_key
from antoan_localstack.testing import Servers, TopicReader
from antoan_shared import events, topics
from antoan_shared.kafka import DeliveryFailedError, EventPublisher, ensure_topics
from antoan_shared.settings import ServiceSettings
from antoan_shared.topics import TopicSpec

pytestmark = pytest.mark.integration


class FailsOnce(EventPublisher):
    """A real publisher whose first batch fails as a broker outage would (no acknowledgement)."""

    failures_left = 1

    async def publish_many(self, spec: TopicSpec, batch: Sequence[events.Event]) -> list[Any]:
        if self.failures_left:
            self.failures_left -= 1
            raise DeliveryFailedError("no acknowledgement within 17 s")
        return await super().publish_many(spec, batch)


@pytest.fixture
async def client(servers: Servers) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(servers.redis_url)
    yield redis
    await redis.aclose()


def _vault(client: aioredis.Redis, publisher: EventPublisher, prefix: str) -> IdentityVault:
    return IdentityVault(client, publisher, VaultCipher(derive_vault_key(b"test-pepper" * 4), "k1"), prefix)


def _published(settings: ServiceSettings, person_key: str) -> list[events.IdentityRecorded]:
    reader = TopicReader(settings, topics.IDENTITY_VAULT)
    try:
        batch = reader.wait_until(
            lambda b: any(isinstance(e, events.IdentityRecorded) and e.person_key == person_key for e in b),
            what=f"{person_key}'s record on identity-vault.v1",
        )
    finally:
        reader.close()
    return [e for e in batch if isinstance(e, events.IdentityRecorded) and e.person_key == person_key]


async def test_the_retry_of_a_failed_publish_publishes(settings: ServiceSettings, client: aioredis.Redis) -> None:
    ensure_topics(settings, [topics.IDENTITY_VAULT])
    prefix = f"test:{uuid.uuid4().hex}:"
    publisher = FailsOnce(settings, "ingest")
    try:
        vault = _vault(client, publisher, prefix)
        # Given a claim whose publish fails (the request is answered 503)
        with pytest.raises(DeliveryFailedError):
            await vault.remember([("pk_retry", {"phone": "+84916000111"})], "self_declared")
        # When the client retries
        await vault.remember([("pk_retry", {"phone": "+84916000111"})], "self_declared")
    finally:
        publisher.close()
    # Then the record is on the topic with the claim
    [record] = _published(settings, "pk_retry")
    assert [name.split("|")[:2] for name in record.fields] == [["phone", "self_declared"]]
    assert not await client.smembers(prefix + "vault-unpublished")


async def test_a_failed_publish_never_retried_is_published_at_the_next_start(
    settings: ServiceSettings, client: aioredis.Redis
) -> None:
    ensure_topics(settings, [topics.IDENTITY_VAULT])
    prefix = f"test:{uuid.uuid4().hex}:"
    publisher = FailsOnce(settings, "ingest")
    try:
        # Given a claim whose publish failed, and a client that gave up
        with pytest.raises(DeliveryFailedError):
            await _vault(client, publisher, prefix).remember([("pk_gone", {"name": "Lê Thị Hoa"})], "venue_staff")
        # When ingest starts again
        assert await _vault(client, publisher, prefix).publish_unpublished() == 1
        assert await _vault(client, publisher, prefix).publish_unpublished() == 0
    finally:
        publisher.close()
    # Then the record is on the topic
    [record] = _published(settings, "pk_gone")
    assert [name.split("|")[:2] for name in record.fields] == [["name", "venue_staff"]]


async def test_contacts_are_kept_only_for_scans_claimed_now(settings: ServiceSettings, client: aioredis.Redis) -> None:
    """A recording sends its scans' idempotency claims and their people's contacts in one round trip: the
    contacts of a scan whose claim is held already (a retry, a conflict) are neither stored nor known, and a
    person marked unpublished by an earlier failed publish stays marked."""
    prefix = f"test:{uuid.uuid4().hex}:"
    publisher = EventPublisher(settings, "ingest")
    try:
        vault = _vault(client, publisher, prefix)
        await client.set(prefix + "held", "done|abc")
        await client.sadd(vault.unpublished_key, "pk_held")
        set_now, added = await vault.remember_gated(
            [(prefix + "held", "pending|xyz"), (prefix + "free", "pending|xyz")],
            60,
            [
                ("pk_held", {"phone": "+84916000222"}, "self_declared", 1),
                ("pk_free", {"phone": "+84916000333"}, "self_declared", 2),
                ("pk_any", {"phone": "+84916000444"}, "venue_staff", 0),
            ],
        )
    finally:
        publisher.close()
    assert set_now == [b"done|abc", 1]
    assert await client.get(prefix + "free") == b"pending|xyz"
    assert not await client.hgetall(prefix + "vault:pk_held")
    for person in ("pk_free", "pk_any"):
        assert len(await client.hgetall(f"{prefix}vault:{person}")) == 1
    assert added.people == ["pk_any", "pk_free"]
    assert {person for person, _ in added.claims} == {"pk_any", "pk_free"}
    assert {person for person, _ in added.changed} == {"pk_any", "pk_free"}
    assert await client.sismember(vault.unpublished_key, "pk_held")
