"""Every service's API documentation, as an integrator meets it (issue 16): in a real browser, offline, and
with an example for every request body. Headless Chromium (Debian's) driven by Playwright, against the three
services on a real Kafka and Redis.

`/docs` (Swagger UI) and `/redoc` (ReDoc) are served from assets vendored into the shared package. The pages
may reach nothing beyond loopback: every other request is aborted and recorded, and so is every refusal by
the pages' own Content-Security-Policy (a policy too loose would let a CDN through; one too tight would break
the page, which the browser reports).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from playwright.sync_api import Browser, ConsoleMessage, Page

from antoan_localstack.browser import chromium, only_loopback
from antoan_localstack.testing import RunningServices

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

RENDER_TIMEOUT_MS = 30_000

# An operation each service's document must list: (method, path, a word of its summary to search for).
KNOWN_OPERATION = {
    "ingest": ("post", "/v1/venues", "venue"),
    "safety-map": ("post", "/v1/venues/{venue_id}/self-assessment", "assessment"),
    "tracer": ("get", "/v1/cases/{case_id}/contacts", "contacts"),
}


def service_url(services: RunningServices, service: str) -> str:
    return {"ingest": services.ingest, "safety-map": services.safety_map, "tracer": services.tracer}[service]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


class OfflinePage:
    """A page in a browser context in which only loopback answers; what it tried beyond is kept."""

    def __init__(self, browser: Browser) -> None:
        self.refused: list[str] = []
        self.csp_violations: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", only_loopback(self.refused))
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def open(self, url: str) -> None:
        """Opens the page, which must come with a policy that admits no script but its own and no other origin."""
        response = self.page.goto(url)
        assert response is not None and response.status == 200, url
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self';" in policy, policy
        assert "http" not in policy, policy

    def assert_self_contained(self) -> None:
        assert not self.refused, f"the page tried to reach beyond this machine: {self.refused}"
        assert not self.csp_violations, f"the page's CSP refused something it needed: {self.csp_violations}"
        assert not self.errors, f"the page's scripts failed: {self.errors}"


@pytest.fixture
def offline(browser: Browser) -> Iterator[OfflinePage]:
    page = OfflinePage(browser)
    try:
        yield page
    finally:
        page.context.close()


@pytest.mark.parametrize("service", sorted(KNOWN_OPERATION))
def test_swagger_ui_lists_the_operations_with_no_network_beyond_the_service(
    service: str, running_services: RunningServices, offline: OfflinePage
) -> None:
    # Given a browser that can reach nothing but this machine
    base = service_url(running_services, service)
    method, path, _ = KNOWN_OPERATION[service]
    # When it opens the service's /docs (with a policy that admits no other origin)
    offline.open(f"{base}/docs")
    # Then Swagger UI lists the service's operations, the known one among them
    operation = offline.page.locator(f".opblock-{method} .opblock-summary-path[data-path='{path}']")
    operation.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert offline.page.locator(".opblock").count() >= 2
    # And opening it shows its documentation (parameters or the example body)
    operation.click()
    offline.page.locator(".opblock.is-open .opblock-body").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    # And nothing was fetched from, or refused for, anywhere else; no script failed
    offline.assert_self_contained()


@pytest.mark.parametrize("service", sorted(KNOWN_OPERATION))
def test_redoc_renders_the_operations_with_no_network_beyond_the_service(
    service: str, running_services: RunningServices, offline: OfflinePage
) -> None:
    # Given a browser that can reach nothing but this machine
    base = service_url(running_services, service)
    _, path, word = KNOWN_OPERATION[service]
    # When it opens the service's /redoc (with a policy that admits no other origin)
    offline.open(f"{base}/redoc")
    # Then ReDoc renders the document: the title, and the known operation's path
    title = httpx.get(f"{base}/openapi.json", timeout=10).json()["info"]["title"]
    offline.page.get_by_role("heading", name=title).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    offline.page.get_by_text(path, exact=True).first.wait_for(state="attached", timeout=RENDER_TIMEOUT_MS)
    # And its search (a worker ReDoc makes from a blob) answers
    offline.page.get_by_placeholder("Search...").fill(word)
    offline.page.locator("[data-role='search:results'] li").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    # And nothing was fetched from, or refused for, anywhere else; no script failed
    offline.assert_self_contained()


def test_the_vendored_assets_are_served_with_their_licences(running_services: RunningServices) -> None:
    # Given any of the services, When its documentation assets are asked for, Then they are there, licences too
    for asset in (
        "vendor/swagger-ui/swagger-ui-bundle.js",
        "vendor/swagger-ui/LICENSE",
        "vendor/redoc/redoc.standalone.js",
        "vendor/redoc/LICENSE",
        "swagger-init.js",
        "redoc-init.js",
    ):
        response = httpx.get(f"{running_services.ingest}/apidocs/{asset}", timeout=10)
        assert response.status_code == 200, asset


def request_body_examples(document: dict[str, Any]) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """Per operation that takes a body: (the media type's schema, an example) for every example it documents,
    on the media type itself or on the body's schema (a model's `examples`)."""
    schemas = document.get("components", {}).get("schemas", {})
    found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            examples = found.setdefault(f"{method.upper()} {path}", [])
            for media in operation["requestBody"]["content"].values():
                schema = media.get("schema", {})
                model = schemas.get(schema.get("$ref", "").rsplit("/", 1)[-1], schema)
                values = [example["value"] for example in media.get("examples", {}).values()]
                values += [media["example"]] if "example" in media else []
                values += model.get("examples", [])
                examples.extend((schema, value) for value in values)
    return found


@pytest.mark.parametrize("service", sorted(KNOWN_OPERATION))
def test_every_request_body_has_an_example_its_own_schema_accepts(
    service: str, running_services: RunningServices
) -> None:
    # Given the service's published document
    document = httpx.get(f"{service_url(running_services, service)}/openapi.json", timeout=10).json()
    # When the examples of each operation's request body are gathered
    examples = request_body_examples(document)
    # Then every operation that takes a body shows at least one
    assert not [operation for operation, found in examples.items() if not found], examples.keys()
    # And every example is valid against the schema it illustrates (a wrong example misleads more than none)
    invalid = []
    for operation, found in examples.items():
        for schema, example in found:
            validator = Draft202012Validator({**schema, "components": document.get("components", {})})
            invalid += [f"{operation}: {error.message}" for error in validator.iter_errors(example)]
    assert not invalid, invalid


def test_the_declaration_and_case_examples_tried_as_they_are_are_accepted(running_services: RunningServices) -> None:
    # Given ingest's published examples (dated from the day it started, within the API's time bounds)
    document = httpx.get(f"{running_services.ingest}/openapi.json", timeout=10).json()
    examples = request_body_examples(document)
    ha = {"authorization": f"Bearer {running_services.ha_token}"}
    # When each declaration and case example is sent as it is ("Try it out"), Then it is accepted
    for operation, headers in (("POST /v1/declarations", {}), ("POST /v1/cases", ha)):
        path = operation.split(" ", 1)[1]
        for _, example in examples[operation]:
            answer = httpx.post(f"{running_services.ingest}{path}", json=example, headers=headers, timeout=10)
            assert answer.status_code == 202, (operation, example, answer.text)


@pytest.mark.parametrize("service", sorted(KNOWN_OPERATION))
def test_every_service_answers_an_unknown_path_or_method_in_the_one_error_shape(
    service: str, running_services: RunningServices
) -> None:
    base = service_url(running_services, service)
    method, path, _ = KNOWN_OPERATION[service]
    wrong_method = "DELETE" if method == "get" else "GET"
    concrete = path.replace("{venue_id}", "v_0").replace("{case_id}", "c_0")
    for verb, url, status, code in (
        ("GET", f"{base}/v1/no-such-thing", 404, "not_found"),
        ("GET", f"{base}/apidocs/vendor/no-such-file.js", 404, "not_found"),
        (wrong_method, f"{base}{concrete}", 405, "method_not_allowed"),
    ):
        # When a path the service does not have, or a method a path does not take, is asked for
        response = httpx.request(verb, url, timeout=10)
        # Then the answer is JSON with a machine-readable code, like every other refusal
        assert response.status_code == status, f"{verb} {url}: {response.status_code} {response.text[:200]}"
        assert response.headers["content-type"] == "application/json", f"{verb} {url}"
        assert response.json()["error"]["code"] == code, f"{verb} {url}: {response.text[:200]}"
