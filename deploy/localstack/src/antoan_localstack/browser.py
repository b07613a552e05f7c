"""Pages in a real browser for the tests: Debian's Chromium through Playwright, headless, and offline but for
loopback (a page must work with no CDN and no internet; what it tried beyond this machine is kept).

Playwright is a test dependency (the `dev` group), so only tests import this module.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Route, sync_playwright

from antoan_localstack import stack

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium from the machine's packages (installed with apt-get on a fresh machine, as root)."""
    executable = stack._require_tool("chromium", ["chromium"])
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses to run as root with its sandbox on
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            yield launched
        finally:
            launched.close()


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
