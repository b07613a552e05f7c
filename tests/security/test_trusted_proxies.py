"""Forwarded addresses are believed only from the proxies a deployment names (`ANTOAN_TRUSTED_PROXIES`).

The limits count clients by address; uvicorn's default believed `X-Forwarded-For` from any local client, so
a client could name a new address each time (`test_rate_limits.py` shows it no longer can). Here: what each
service hands uvicorn, with no proxy named and with the network of an ingress.
"""

from __future__ import annotations

import pytest

from antoan_ingest.settings import IngestSettings
from antoan_safety_map.settings import SafetyMapSettings
from antoan_shared.settings import HttpServiceSettings
from antoan_shared.web import uvicorn_options
from antoan_tracer.settings import TracerSettings

SECRETS = {"ANTOAN_HA_TOKEN": "h" * 32, "ANTOAN_PEPPER": "p" * 32, "ANTOAN_QR_SECRET": "q" * 32}


@pytest.mark.parametrize("service", [IngestSettings, TracerSettings, SafetyMapSettings])
def test_no_forwarded_header_is_believed_unless_a_proxy_is_named(
    service: type[HttpServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ANTOAN_TRUSTED_PROXIES", raising=False)
    assert uvicorn_options(service())["proxy_headers"] is False
    monkeypatch.setenv("ANTOAN_TRUSTED_PROXIES", "10.0.0.0/8")
    options = uvicorn_options(service())
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == "10.0.0.0/8"
