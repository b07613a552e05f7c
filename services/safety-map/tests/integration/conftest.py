"""Fixtures of the safety map's integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from antoan_localstack.client import Antoan
from antoan_localstack.testing import RunningServices


@pytest.fixture(scope="module")
def antoan(running_services: RunningServices) -> Iterator[Antoan]:
    client = Antoan(running_services)
    yield client
    client.close()
