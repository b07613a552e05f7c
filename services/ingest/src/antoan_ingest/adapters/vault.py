"""The identity vault: person_key → contact details, and a declaration's free text by its event id, both
encrypted at rest (AES-256-GCM).

Redis holds the working copy (one hash per person, one ciphertext per field, first value wins); the
internal compacted topic `identity-vault.v1` holds the durable one. Neither ever sees a plaintext.
"""

from __future__ import annotations

import base64
import json
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from antoan_shared import topics
from antoan_shared.events import DeclarationDetailsRecorded, IdentityRecorded
from antoan_shared.kafka import EventPublisher

_NONCE_BYTES = 12
_PERSON_FIELD = "person_key"  # in a declaration's details record: whose it is (a pseudonym, not sealed)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def derive_vault_key(secret: bytes) -> bytes:
    """A 256-bit key for the vault, separate from the uses of the same secret elsewhere."""
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"antoan identity vault v1").derive(secret)


class VaultCipher:
    def __init__(self, key: bytes, key_id: str) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id

    def seal(self, person_key: str, field: str, value: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        # The person and field are bound into the tag: a ciphertext moved elsewhere does not decrypt.
        sealed = self._aead.encrypt(nonce, value.encode(), f"{person_key}/{field}".encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, person_key: str, field: str, token: str) -> str:
        raw = base64.b64decode(token)
        return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], f"{person_key}/{field}".encode()).decode()


class IdentityVault:
    def __init__(
        self,
        client: aioredis.Redis,
        publisher: EventPublisher,
        cipher: VaultCipher,
        prefix: str,
        remembered_capacity: int = 200_000,
    ) -> None:
        self._client = client
        self._publisher = publisher
        self._cipher = cipher
        self._prefix = prefix
        # (person_key, field) pairs known to be stored, so repeat visitors cost no round trip.
        self._remembered: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._capacity = remembered_capacity

    def _key(self, person_key: str) -> str:
        return f"{self._prefix}vault:{person_key}"

    async def remember(self, people: Sequence[tuple[str, Mapping[str, str]]]) -> None:
        """Store contact fields not stored yet; publish the person's record when anything was added."""
        todo = [
            (person_key, field, value)
            for person_key, contact in people
            for field, value in contact.items()
            if value and (person_key, field) not in self._remembered
        ]
        if not todo:
            return
        pipe = self._client.pipeline(transaction=False)
        for person_key, field, value in todo:
            pipe.hsetnx(self._key(person_key), field, self._cipher.seal(person_key, field, value))
        added = await pipe.execute()
        changed = sorted({person_key for (person_key, _, _), new in zip(todo, added, strict=True) if new})
        for person_key, field, _ in todo:
            self._remember(person_key, field)
        if changed:
            pipe = self._client.pipeline(transaction=False)
            for person_key in changed:
                pipe.hgetall(self._key(person_key))
            records = await pipe.execute()
            await self._publisher.publish_many(
                topics.IDENTITY_VAULT,
                [
                    IdentityRecorded(
                        producer="ingest",
                        person_key=person_key,
                        key_id=self._cipher.key_id,
                        fields={_text(k): _text(v) for k, v in record.items()},
                    )
                    for person_key, record in zip(changed, records, strict=True)
                ],
            )

    def _details_key(self, event_id: str) -> str:
        return f"{self._prefix}vault:declaration:{event_id}"

    async def keep_declaration_details(
        self, event_id: str, person_key: str, details: Mapping[str, object], lifetime_s: int
    ) -> None:
        """Seals a declaration's free text (each field's JSON) under its event id, for the retention period, and
        publishes the sealed copy to `declaration-details.v1` (retained as long): only ciphertext leaves."""
        if not details:
            return
        scope = f"declaration:{event_id}"
        sealed = {name: self._cipher.seal(scope, name, json.dumps(value)) for name, value in details.items()}
        key = self._details_key(event_id)
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(key, mapping={_PERSON_FIELD: person_key, **{f"f:{k}": v for k, v in sealed.items()}})
        pipe.expire(key, lifetime_s)
        await pipe.execute()
        await self._publisher.publish(
            topics.DECLARATION_DETAILS,
            DeclarationDetailsRecorded(
                event_id=event_id, producer="ingest", person_key=person_key, key_id=self._cipher.key_id, fields=sealed
            ),
        )

    async def declaration_details(self, event_id: str) -> tuple[str, dict[str, Any]] | None:
        """Whose declaration it is and its free text; None when the vault holds none for it (none was given,
        or it is past the retention period)."""
        record = {_text(k): _text(v) for k, v in (await self._client.hgetall(self._details_key(event_id))).items()}
        person_key = record.pop(_PERSON_FIELD, None)
        if person_key is None:
            return None
        scope = f"declaration:{event_id}"
        return person_key, {
            name.removeprefix("f:"): json.loads(self._cipher.open(scope, name.removeprefix("f:"), token))
            for name, token in record.items()
        }

    def _remember(self, person_key: str, field: str) -> None:
        self._remembered[(person_key, field)] = None
        if len(self._remembered) > self._capacity:
            self._remembered.popitem(last=False)

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def contact(self, person_key: str) -> dict[str, str] | None:
        return (await self.contacts([person_key])).get(person_key)

    async def contacts(self, person_keys: Sequence[str]) -> dict[str, dict[str, str]]:
        """Decrypted contact details of those people the vault holds, in one round trip."""
        pipe = self._client.pipeline(transaction=False)
        for person_key in person_keys:
            pipe.hgetall(self._key(person_key))
        records = await pipe.execute()
        return {
            person_key: {_text(k): self._cipher.open(person_key, _text(k), _text(v)) for k, v in record.items()}
            for person_key, record in zip(person_keys, records, strict=True)
            if record
        }
