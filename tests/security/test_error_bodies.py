"""Every error is JSON with a code, the unexpected ones (500) included, and says nothing of the internals.

Issue 12's finding: every 500 body was plain text (`Internal Server Error`), so a client could not tell it
from a proxy's page; and an error echoing a client's lone surrogate could not be encoded and became a 500.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from antoan_shared.web import ApiError, install_error_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: redis://user:password@host")

    @app.post("/echo")
    async def echo(body: dict[str, str]) -> None:
        raise ApiError(400, "bad_text", f"cannot use {body['text']!s}")

    return app


def test_an_unexpected_error_is_a_json_500_without_internals() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    answer = client.get("/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "internal_error"
    assert "password" not in answer.text
    # answered outside the middlewares, it still carries the security headers
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


def test_an_error_echoing_a_lone_surrogate_is_still_a_4xx() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    # A JSON escape is how a lone surrogate arrives: it is valid JSON but cannot be encoded as UTF-8
    answer = client.post("/echo", content=b'{"text": "\\ud800"}', headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "bad_text"
