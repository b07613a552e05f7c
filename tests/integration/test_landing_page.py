"""The landing page at `/`, on a phone in Chromium: both languages (a CSS-only switch, the page has no script),
each link to a page that opens, and no serious accessibility violation in either language."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize

from antoan_localstack.browser import PageContext, axe_violations, publish_screenshot
from antoan_localstack.testing import RunningServices

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

PHONE = ViewportSize(width=390, height=844)


def test_a_person_reads_the_landing_page_in_either_language_and_reaches_every_page(
    running_services: RunningServices, browser: Browser, tmp_path: Path
) -> None:
    with PageContext(browser, PHONE, is_mobile=True, bypass_csp=True) as phone:
        page = phone.page
        # When someone opens the public address on a phone
        page.goto(f"{running_services.public}/")
        # Then they read it in Vietnamese, and only in Vietnamese
        assert page.get_by_role("heading", level=1).filter(visible=True).all_inner_texts() == ["An toàn COVID"]
        assert page.locator("#en").is_hidden()
        assert axe_violations(page) == [], "vi"
        shot = tmp_path / "landing-phone.png"
        page.screenshot(path=str(shot), full_page=True)
        publish_screenshot(shot, "landing-phone.png")
        # And every page it offers opens from its link
        offered = page.locator("#vi main a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert {"/map", "/khai-bao/", "/ma-qr/", "/co-so/"} <= set(offered)
        for link in sorted(set(offered)):
            page.goto(f"{running_services.public}/")
            page.locator(f"#vi main a[href='{link}']").first.click()
            page.wait_for_load_state()
            assert page.url == f"{running_services.public}{link}", link
            assert page.evaluate("() => document.documentElement.lang") == "vi", link

        # When they switch to English
        page.goto(f"{running_services.public}/")
        page.get_by_role("link", name="English").click()
        # Then the page is in English only, with the way back to Vietnamese
        assert page.get_by_role("heading", level=1).filter(visible=True).all_inner_texts() == ["COVID safety"]
        assert page.locator("#vi").is_hidden()
        assert page.get_by_role("link", name="Tiếng Việt").is_visible()
        assert axe_violations(page) == [], "en"
        phone.assert_self_contained()
