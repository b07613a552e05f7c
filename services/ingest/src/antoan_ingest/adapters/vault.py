"""The identity vault: person_key → contact details, encrypted at rest (AES-256-GCM).

Redis holds the working copy (one hash per person, one ciphertext per field, first value wins); the
internal compacted topic `identity-vault.v1` holds the durable one. Neither ever sees a plaintext.
"""

from __future__ import annotations

import base64
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from antoan_shared import topics
from antoan_shared.events import IdentityRecorded
from antoan_shared.kafka import EventPublisher

_NONCE_BYTES = 12


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
