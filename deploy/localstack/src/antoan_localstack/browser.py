"""Pages in a real browser for the tests: Debian's Chromium through Playwright, headless, and offline but for
loopback (a page must work with no CDN and no internet; what it tried beyond this machine is kept). What the
page tests share: a browser context that keeps what went wrong on its pages (`PageContext`), axe-core's
accessibility check (`axe_violations`), and the README's screenshots (`publish_screenshot`).

Playwright is a test dependency (the `dev` group), so only tests import this module.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    BrowserType,
    ConsoleMessage,
    Page,
    Request,
    Route,
    ViewportSize,
    sync_playwright,
)

from antoan_localstack import stack

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
AXE = stack.repo_root() / "web" / "test-vendor" / "axe-core" / "axe.min.js"


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium from the machine's packages (installed with apt-get on a fresh machine, as root)."""
    with sync_playwright() as playwright:
        launched = launch(playwright.chromium)
        try:
            yield launched
        finally:
            launched.close()


def launch(browser_type: BrowserType, *args: str) -> Browser:
    """Debian's Chromium, headless, with these command-line `args` (a test that needs a Chromium of its own, with
    flags, launches it with its Playwright: one process can run only one)."""
    executable = stack._require_tool("chromium", ["chromium"])
    if os.geteuid() == 0:
        args = (*args, "--no-sandbox")  # Chromium refuses to run as root with its sandbox on
    return browser_type.launch(executable_path=executable, headless=True, args=list(args))


def only_loopback(refused: list[str]) -> Callable[[Route], None]:
    """A route handler (`context.route("**/*", ...)`) that lets loopback through and aborts, and records in
    `refused`, every request beyond it."""

    def handle(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOOPBACK:
            refused.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    return handle


class PageContext:
    """A browser context (a phone or a desktop screen, Vietnam's language and time zone unless told otherwise) in
    which only loopback answers. What else its pages tried (`refused`), their uncaught errors, their console (and
    the gateway CSP's refusals in it) and every request they made are kept.

    `bypass_csp` lets a test inject a script of its own (axe-core), which the gateway's CSP would refuse; `options`
    go to `Browser.new_context` as they are (permissions, geolocation...). A test module subclasses it for what it
    keeps of its own. Closed at the end of a `with` block."""

    def __init__(
        self,
        browser: Browser,
        viewport: ViewportSize,
        *,
        is_mobile: bool,
        locale: str = "vi-VN",
        timezone_id: str = "Asia/Ho_Chi_Minh",
        bypass_csp: bool = False,
        **options: Any,
    ) -> None:
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        self.csp_violations: list[str] = []
        self.requests: list[Request] = []
        self.context: BrowserContext = browser.new_context(
            viewport=viewport,
            device_scale_factor=2 if is_mobile else 1,
            is_mobile=is_mobile,
            has_touch=is_mobile,
            locale=locale,
            timezone_id=timezone_id,
            bypass_csp=bypass_csp,
            **options,
        )
        self.context.route("**/*", only_loopback(self.refused))
        # (a lambda: Playwright marks its handlers with an attribute, which a built-in method cannot take)
        self.context.on("request", lambda request: self.requests.append(request))
        self.page: Page = self.new_page()

    def new_page(self) -> Page:
        """Another page of the context, whose errors and console are kept like the first one's."""
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._on_console)
        return page

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append(message.text)
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def assert_self_contained(self) -> None:
        assert not self.refused, f"the page tried to reach beyond this machine: {self.refused}"
        assert not self.csp_violations, f"the gateway's CSP refused something the page needed: {self.csp_violations}"
        assert not self.errors, f"the page's scripts failed: {self.errors}"

    def close(self) -> None:
        self.context.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of these `impacts` on the page as it is now (axe-core is injected as a script of the
    page's: its context needs `bypass_csp`)."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] }).then(result => result.violations)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[node['target'] for node in v['nodes']]}"
        for v in found
        if v["impact"] in impacts
    ]


def publish_screenshot(shot: Path, name: str) -> None:
    """Copies a screenshot beside the one ANTOAN_SCREENSHOT names (relative to the repository), if it is set."""
    target = os.environ.get("ANTOAN_SCREENSHOT")
    print(f"screenshot: {shot}")
    if not target:
        return
    folder = (Path(target) if Path(target).is_absolute() else stack.repo_root() / target).parent
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, folder / name)
    print(f"screenshot: {folder / name}")
