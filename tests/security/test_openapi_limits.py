"""The OpenAPI documents give the limits the services enforce.

Issue 12's finding: the documents said 10,000 items for the offline batch and for the vault look-up, while
the real limits were 1,000 items (413 beyond) and a 64 KiB body (about 970 keys; 413 beyond). A client
sizing its requests by the document was refused.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from antoan_ingest.api.routes.persons import PersonLookup
from antoan_ingest.app import create_app
from antoan_ingest.settings import IngestSettings
from antoan_shared.web import PERSON_LOOKUP_MAX_KEYS


@pytest.fixture
def settings() -> IngestSettings:
    return IngestSettings(pepper="p" * 32, qr_secret="q" * 32, ha_token="h" * 32, batch_max_items=250)


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


def test_the_batch_limit_in_the_document_is_the_configured_one(settings: IngestSettings) -> None:
    document = create_app(settings).openapi()
    assert schema(document, "CheckInBatch")["properties"]["items"]["maxItems"] == 250


def test_a_vault_lookup_of_the_documented_size_fits_the_body_limit(settings: IngestSettings) -> None:
    app = create_app(settings)
    lookup = schema(app.openapi(), "PersonLookup")["properties"]["person_keys"]
    assert lookup["maxItems"] == PERSON_LOOKUP_MAX_KEYS
    body = json.dumps({"person_keys": ["f" * 64] * lookup["maxItems"], "purpose": "x" * 200}).encode()
    assert len(body) <= settings.max_body_bytes
    # and one key more is refused by the schema (422), not by the body limit (413)
    with pytest.raises(ValidationError):
        PersonLookup.model_validate({"person_keys": ["f" * 64] * (lookup["maxItems"] + 1)})
