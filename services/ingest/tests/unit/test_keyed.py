"""The keyed hash with its key's blocks hashed once is HMAC-SHA256: the standard library's digest, for any key."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from antoan_ingest.domain.keyed import HmacSha256, hmac_sha256


@given(key=st.binary(max_size=200), messages=st.lists(st.binary(max_size=300), min_size=1, max_size=4))
def test_it_is_the_standard_hmac(key: bytes, messages: list[bytes]) -> None:
    mac = HmacSha256(key)
    for message in messages:  # one key, several messages: each digest on its own
        assert mac.digest(message) == hmac.new(key, message, hashlib.sha256).digest()
        assert mac.hexdigest(message) == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_a_key_is_prepared_once() -> None:
    assert hmac_sha256(b"pepper") is hmac_sha256(b"pepper")
    assert hmac_sha256(b"pepper") is not hmac_sha256(b"another pepper")
