"""Signed venue QR codes (SPEC §3.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from antoan_ingest.domain import qr

KEYS = {"k1": b"qr-secret-one", "k2": b"qr-secret-two"}
NOW = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)


def test_a_static_code_names_its_venue() -> None:
    payload = qr.static_qr(KEYS, "k1", "v_abc")
    assert qr.verify_qr(KEYS, payload, NOW) == qr.VenueQr("v_abc", "k1", None)


def test_a_code_pointing_at_another_venue_is_refused() -> None:
    payload = qr.static_qr(KEYS, "k1", "v_abc").replace("v_abc", "v_abd")
    with pytest.raises(qr.InvalidQrSignatureError):
        qr.verify_qr(KEYS, payload, NOW)


def test_a_code_signed_with_another_secret_is_refused() -> None:
    forged = qr.static_qr({"k1": b"guessed"}, "k1", "v_abc")
    with pytest.raises(qr.InvalidQrSignatureError):
        qr.verify_qr(KEYS, forged, NOW)


def test_codes_under_an_older_key_keep_working_while_it_is_configured() -> None:
    payload = qr.static_qr(KEYS, "k2", "v_abc")
    assert qr.verify_qr(KEYS, payload, NOW).key_id == "k2"
    with pytest.raises(qr.UnknownQrKeyError):
        qr.verify_qr({"k1": KEYS["k1"]}, payload, NOW)


@pytest.mark.parametrize(
    "payload", ["", "hello", "ANTOAN1.S.k1", "ANTOAN1.X.k1.v.sig", "ANTOAN1.R.k1.v.notanumber.sig"]
)
def test_what_is_not_a_venue_code_is_malformed(payload: str) -> None:
    with pytest.raises(qr.QrError):
        qr.verify_qr(KEYS, payload, NOW)


def test_a_rotating_code_works_until_it_expires_and_not_after() -> None:
    payload = qr.rotating_qr(KEYS, "k1", "v_abc", NOW + timedelta(minutes=3))
    assert qr.verify_qr(KEYS, payload, NOW + timedelta(minutes=3)).venue_id == "v_abc"
    with pytest.raises(qr.ExpiredQrError):
        qr.verify_qr(KEYS, payload, NOW + timedelta(minutes=3, seconds=1))


def test_a_rotating_code_takes_what_was_scanned_while_it_showed_within_the_clock_skew() -> None:
    shown, skew = timedelta(minutes=3), timedelta(minutes=5)
    payload = qr.rotating_qr(KEYS, "k1", "v_abc", NOW + shown)
    # scanned while it showed (whenever it is uploaded), or within the skew of either end
    for scanned_at in (NOW, NOW + shown, NOW - skew, NOW + shown + skew):
        assert qr.verify_qr(KEYS, payload, scanned_at, shown, skew).venue_id == "v_abc"
    # a visit claimed long before the code was shown, or after it expired beyond the skew, is not
    with pytest.raises(qr.ScannedBeforeShownError):
        qr.verify_qr(KEYS, payload, NOW - skew - timedelta(seconds=1), shown, skew)
    with pytest.raises(qr.ScannedBeforeShownError):
        qr.verify_qr(KEYS, payload, NOW - timedelta(days=7), shown, skew)
    with pytest.raises(qr.ExpiredQrError):
        qr.verify_qr(KEYS, payload, NOW + shown + skew + timedelta(seconds=1), shown, skew)


def test_extending_a_rotating_code_breaks_its_signature() -> None:
    payload = qr.rotating_qr(KEYS, "k1", "v_abc", NOW)
    parts = payload.split(".")
    parts[4] = str(int(parts[4]) + 3600)
    with pytest.raises(qr.InvalidQrSignatureError):
        qr.verify_qr(KEYS, ".".join(parts), NOW)


def test_the_printed_code_is_the_check_in_page_address_and_either_form_is_accepted() -> None:
    token = qr.static_qr(KEYS, "k1", "v_abc")
    url = qr.qr_url("https://antoan.example.vn/", token)
    assert url == f"https://antoan.example.vn/c/{token}"
    assert qr.verify_qr(KEYS, url, NOW) == qr.verify_qr(KEYS, token, NOW) == qr.VenueQr("v_abc", "k1", None)
    # Another host, a query a camera app added, an escaped dot: the signature is what counts.
    assert qr.verify_qr(KEYS, f"http://10.0.0.5:8000/c/{token}?utm=x#top", NOW).venue_id == "v_abc"
    assert qr.verify_qr(KEYS, url.replace(".", "%2E").replace("https%3A", "https:"), NOW).venue_id == "v_abc"


@pytest.mark.parametrize(
    "payload",
    [
        "https://antoan.example.vn/",
        "https://antoan.example.vn/c/",
        "https://antoan.example.vn/map",
        "https://antoan.example.vn/c/ANTOAN1.S.k1.v_abc/extra",
        "http://[::1/c/x",
    ],
)
def test_an_address_that_is_not_a_check_in_page_is_not_a_code(payload: str) -> None:
    with pytest.raises(qr.MalformedQrError):
        qr.verify_qr(KEYS, payload, NOW)


def test_an_altered_token_inside_the_address_is_refused() -> None:
    token = qr.static_qr(KEYS, "k1", "v_abc")
    with pytest.raises(qr.InvalidQrSignatureError):
        qr.verify_qr(KEYS, qr.qr_url("https://antoan.example.vn", token.replace("v_abc", "v_abd")), NOW)


def test_the_memo_answers_what_verification_answers_and_keeps_a_bounded_number() -> None:
    memo = qr.SignedQrMemo(KEYS, size=3)
    payloads = [qr.static_qr(KEYS, "k1", f"v_{i}") for i in range(5)]
    payloads.append(qr.rotating_qr(KEYS, "k2", "v_r", NOW))
    for payload in [*payloads, *payloads]:
        assert memo(payload) == qr.signed_qr(KEYS, payload)
    assert len(memo._known) == 3
    forged = payloads[0].replace("v_0", "v_9")
    for _ in range(2):
        with pytest.raises(qr.InvalidQrSignatureError):
            memo(forged)
    assert forged not in memo._known


def test_a_remembered_rotating_code_is_still_refused_once_expired() -> None:
    memo = qr.SignedQrMemo(KEYS)
    payload = qr.rotating_qr(KEYS, "k1", "v_abc", NOW + timedelta(minutes=3))
    shown = timedelta(minutes=3)
    qr.check_scanned_while_shown(memo(payload), NOW, shown)
    with pytest.raises(qr.ExpiredQrError):
        qr.check_scanned_while_shown(memo(payload), NOW + timedelta(minutes=4), shown)
