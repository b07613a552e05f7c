"""The identity vault: person_key → contact details, and a declaration's free text by its event id, both
encrypted at rest (AES-256-GCM).

Redis holds the working copy (one hash per person, one ciphertext per claim: a detail, who claimed it and
when); the internal compacted topic `identity-vault.v1` holds the durable one. Neither ever sees a plaintext.
"""

from __future__ import annotations

import base64
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from prometheus_client import Counter

from antoan_ingest.domain.keyed import HmacSha256
from antoan_shared import codec, topics
from antoan_shared.events import DeclarationDetailsRecorded, IdentityRecorded, utc_now
from antoan_shared.kafka import EventPublisher

_NONCE_BYTES = 12

# Who claimed a contact detail, most trusted first: the health authority (confirming a case), venue staff
# (from a personal QR or an identifier they checked), the venue's owner (registering it), the person
# themselves (a check-in or a declaration, identity self-asserted as in 2021's web declarations).
Source = Literal["health_authority", "venue_staff", "venue_owner", "self_declared"]
TRUST: tuple[str, ...] = get_args(Source)
MAX_CLAIMS = 64  # per person: a bound on what one person's record can grow to, whoever writes to it
DROPPED_CLAIMS = Counter("antoan_vault_claims_dropped_total", "Contact claims not kept: the person's record was full")
_PERSON_FIELD = "person_key"  # in a declaration's details record: whose it is (a pseudonym, not sealed)


# Adds a batch of claims in one round trip. KEYS: the unpublished set, each person's record, then the gates;
# ARGV: the bound, the number of people and of gates, the gates' TTL, the people's person_keys, the gates' values,
# then (person index, gate index, field, sealed value) per claim. A gate is another record set here first if
# absent (a scan's idempotency claim: SET NX EX); a claim whose gate is not 0 is added only if its gate was set
# now. Returns each gate's outcome (1 if set now, else its value, 0 if it expired meanwhile), the number of
# claims dropped at the bound, then per person their whole record (field, value, ...) if it is to be published
# (a claim was added, or it was marked unpublished before: a publish not acknowledged), else 0. Every key is
# the vault's or ingest's; on Redis Cluster they would need one hash slot (a `{ingest}` tag).
_ADD_CLAIMS = """
local max, people, gates, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local set = {}
for g = 1, gates do
  if redis.call('SET', KEYS[1 + people + g], ARGV[4 + people + g], 'NX', 'EX', ttl) then
    set[g] = 1
  else
    set[g] = redis.call('GET', KEYS[1 + people + g]) or 0
  end
end
local touched, publish, dropped = {}, {}, 0
for i = 5 + people + gates, #ARGV, 4 do
  local p, g = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if g == 0 or set[g] == 1 then
    touched[p] = true
    local key = KEYS[p + 1]
    if redis.call('HSETNX', key, ARGV[i + 2], ARGV[i + 3]) == 1 then
      if redis.call('HLEN', key) > max then
        redis.call('HDEL', key, ARGV[i + 2])
        dropped = dropped + 1
      else
        publish[p] = true
      end
    end
  end
end
local out = {set, dropped}
for p = 1, people do
  out[p + 2] = 0
  if touched[p] then
    if redis.call('SADD', KEYS[1], ARGV[4 + p]) == 0 then
      publish[p] = true
    end
    if publish[p] then
      out[p + 2] = redis.call('HGETALL', KEYS[p + 1])
    end
  end
end
return out
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def derive_vault_key(secret: bytes) -> bytes:
    """A 256-bit key for the vault, separate from the uses of the same secret elsewhere."""
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"antoan identity vault v1").derive(secret)


class VaultCipher:
    def __init__(self, key: bytes, key_id: str) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id
        self._digest_mac = HmacSha256(
            HKDF(algorithm=SHA256(), length=32, salt=None, info=b"antoan vault digests v1").derive(key)
        )

    def seal(self, person_key: str, field: str, value: str | bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        plain = value.encode() if isinstance(value, str) else value
        # The person and field are bound into the tag: a ciphertext moved elsewhere does not decrypt.
        sealed = self._aead.encrypt(nonce, plain, f"{person_key}/{field}".encode())
        return base64.b64encode(nonce + sealed).decode()

    def digest(self, person_key: str, field: str, value: str) -> str:
        """A keyed digest of a value (HMAC under the vault key): equal for equal values, useless without it."""
        mac = self._digest_mac.digest(f"{person_key}/{field}/{value}".encode())
        return base64.urlsafe_b64encode(mac[:12]).decode()

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
        self._add_claims = client.register_script(_ADD_CLAIMS)

    def _key(self, person_key: str) -> str:
        return f"{self._prefix}vault:{person_key}"

    @property
    def unpublished_key(self) -> str:
        """The people whose record may hold claims `identity-vault.v1` has not acknowledged yet."""
        return f"{self._prefix}vault-unpublished"

    async def remember(self, people: Sequence[tuple[str, Mapping[str, str]]], source: Source) -> None:
        """Keep every contact detail claimed for a person, with who claimed it (`source`) and when.

        A value already claimed by the same source is not stored again; a different value, or the same
        value from another source, is a claim of its own beside the others: nothing is overwritten, so
        whoever declares first with someone's number does not decide what the health authority sees. A person
        holds at most `MAX_CLAIMS` claims; beyond that new ones are dropped (and counted), the earlier kept.
        The person's record is published when anything was added, and is known to be published only once the
        broker acknowledged it: a person is marked unpublished (a Redis set) in the same round trip that adds
        their claims, and unmarked after the acknowledgement. A call that finds nothing new to add but the
        person still marked (a publish that failed, then the client's retry) publishes the record again, so
        nothing acknowledged is ever missing from `identity-vault.v1`, from which the vault is rebuilt.
        """
        _, added = await self.remember_gated([], 0, [(key, contact, source, 0) for key, contact in people])
        await self.publish_added(added)
        if added.people:
            await self._client.srem(self.unpublished_key, *added.people)

    async def remember_gated(
        self,
        gates: Sequence[tuple[str, str]],
        gate_ttl_s: int,
        people: Sequence[tuple[str, Mapping[str, str], Source, int]],
    ) -> tuple[list[bytes | int], Added]:
        """`remember`'s first round trip, with gates: each (key, value) in `gates` is set first if absent (for
        `gate_ttl_s`), and a person's claims with gate i (from 1; 0 for none) are added only if gate i was set
        now. Returns each gate's outcome (1, or the value it held, or 0) and what was added: `publish_added`
        publishes it, and the people are to be unmarked (`unpublished_key`) after."""
        claimed_at = utc_now().isoformat()
        fields = (
            (person_key, self._claim_field(person_key, field, source, value), value, gate)
            for person_key, contact, source, gate in people
            for field, value in contact.items()
            if value
        )
        todo = [item for item in fields if (item[0], item[1]) not in self._remembered]
        if not todo and not gates:
            return [], Added([], [], [])
        people_keys = sorted({person_key for person_key, _, _, _ in todo})
        index = {person_key: i for i, person_key in enumerate(people_keys, start=1)}
        args: list[str | bytes | int] = [
            MAX_CLAIMS,
            len(people_keys),
            len(gates),
            gate_ttl_s,
            *people_keys,
            *(value for _, value in gates),
        ]
        for person_key, name, value, gate in todo:
            sealed = self._cipher.seal(person_key, name, codec.dumps({"value": value, "at": claimed_at}))
            args += [index[person_key], gate, name, sealed]
        keys = [self.unpublished_key, *(self._key(person_key) for person_key in people_keys), *(k for k, _ in gates)]
        set_now, dropped, *records = await self._add_claims(keys=keys, args=args)
        if dropped:
            DROPPED_CLAIMS.inc(dropped)
        changed = [(person_key, record) for person_key, record in zip(people_keys, records, strict=True) if record]
        # Only the claims whose gate was open were looked at: those people to unmark once published (another
        # person may still be marked by a publish that failed earlier), those claims known from then on.
        kept = [(person_key, name) for person_key, name, _, gate in todo if gate == 0 or set_now[gate - 1] == 1]
        return list(set_now), Added(sorted({person_key for person_key, _ in kept}), kept, changed)

    async def publish_added(self, added: Added) -> None:
        """Publish the records `remember_gated` changed (raises when the broker does not acknowledge), then keep
        their claims as known in this process."""
        if added.changed:
            await self._publisher.publish_many(
                topics.IDENTITY_VAULT,
                [
                    self._record(person_key, dict(zip(flat[0::2], flat[1::2], strict=True)))
                    for person_key, flat in added.changed
                ],
            )
        for person_key, name in added.claims:
            self._remember(person_key, name)

    async def publish_unpublished(self, batch: int = 500) -> int:
        """Publish the records of people still marked unpublished (a publish that failed and was never retried),
        a batch at a time, unmarking each batch once acknowledged; returns how many. Run at start."""
        done = 0
        while True:
            members = await self._client.srandmember(self.unpublished_key, batch)
            people = sorted(_text(k) for k in cast(list[bytes], members))
            if not people:
                return done
            pipe = self._client.pipeline(transaction=False)
            for person_key in people:
                pipe.hgetall(self._key(person_key))
            records = await pipe.execute()
            await self._publisher.publish_many(
                topics.IDENTITY_VAULT,
                [
                    self._record(person_key, record)
                    for person_key, record in zip(people, records, strict=True)
                    if record
                ],
            )
            await self._client.srem(self.unpublished_key, *people)
            done += len(people)

    def _record(self, person_key: str, record: Mapping[bytes | str, bytes | str]) -> IdentityRecorded:
        return IdentityRecorded(
            producer="ingest",
            person_key=person_key,
            key_id=self._cipher.key_id,
            fields={_text(k): _text(v) for k, v in record.items()},
        )

    def _claim_field(self, person_key: str, field: str, source: Source, value: str) -> str:
        """The hash field of one claim: the detail, its source, and a keyed digest of the value (so the same
        value from the same source is one claim, and the field name reveals nothing of the value)."""
        return f"{field}|{source}|{self._cipher.digest(person_key, field, value)}"

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
        sealed = {name: self._cipher.seal(scope, name, codec.dumps(value)) for name, value in details.items()}
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
            name.removeprefix("f:"): codec.loads(self._cipher.open(scope, name.removeprefix("f:"), token))
            for name, token in record.items()
        }

    def _remember(self, person_key: str, field: str) -> None:
        self._remembered[(person_key, field)] = None
        if len(self._remembered) > self._capacity:
            self._remembered.popitem(last=False)

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def contacts(self, person_keys: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each person's contact details, one value per detail: the most trusted source's (the health
        authority, then venue staff from a personal QR, then the venue owner, then the person's own
        declaration), the earliest of equals; in one round trip."""
        return {person_key: best_values(claims) for person_key, claims in (await self.all_claims(person_keys)).items()}

    async def claims(self, person_key: str) -> list[ContactClaim] | None:
        return (await self.all_claims([person_key])).get(person_key)

    async def all_claims(self, person_keys: Sequence[str]) -> dict[str, list[ContactClaim]]:
        """Every claim on record for those people the vault holds, by detail, most trusted first."""
        pipe = self._client.pipeline(transaction=False)
        for person_key in person_keys:
            pipe.hgetall(self._key(person_key))
        records = await pipe.execute()
        return {
            person_key: sorted(
                (self._open_claim(person_key, _text(k), _text(v)) for k, v in record.items()), key=ContactClaim.order
            )
            for person_key, record in zip(person_keys, records, strict=True)
            if record
        }

    def _open_claim(self, person_key: str, name: str, token: str) -> ContactClaim:
        plain = self._cipher.open(person_key, name, token)
        field, _, rest = name.partition("|")
        if not rest:  # written before claims kept their source: one value per detail, first one won
            return ContactClaim(field, plain, "unknown", None)
        source = rest.partition("|")[0]
        claim = codec.loads(plain)
        return ContactClaim(field, str(claim["value"]), source, claim.get("at"))


@dataclass(frozen=True)
class Added:
    """What `IdentityVault.remember_gated` sent: the people, their claims, the records to publish."""

    people: list[str]  # whose claims were looked at: to unmark once their records are published
    claims: list[tuple[str, str]]  # (person_key, claim field)
    changed: list[tuple[str, list[bytes]]]  # (person_key, the record as field, value, ...)


@dataclass(frozen=True)
class ContactClaim:
    field: str
    value: str
    source: str
    claimed_at: str | None  # RFC 3339; None for details recorded before claims had times

    def order(self) -> tuple[str, int, str]:
        return (self.field, TRUST.index(self.source) if self.source in TRUST else len(TRUST), self.claimed_at or "")


def best_values(claims: Sequence[ContactClaim]) -> dict[str, str]:
    """One value per detail from claims sorted by `ContactClaim.order`: the first of each detail."""
    best: dict[str, str] = {}
    for claim in claims:
        best.setdefault(claim.field, claim.value)
    return best
