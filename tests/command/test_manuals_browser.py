"""The manuals in a real browser: the "manual" link of a page lands on its section; live search in Chinese.

Uses the served application and the browser of ``tests/web/test_browser.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_browser import (  # noqa: F401  (fixtures)
    PHONE,
    Served,
    assert_fits_phone,
    browser,
    log_in,
    open_page,
    page,
    path_of,
    served,
    wait_for_htmx,
)

pytestmark = pytest.mark.browser


def test_the_manual_link_of_the_rounds_page_opens_its_section_and_search_finds_nucleic_acid_testing(
        page: Page, served: Served) -> None:  # noqa: F811  (the fixtures imported above)
    log_in(page, "dongchang_testing")
    expect(page.locator("[data-testid=who]")).to_be_visible()
    page.goto("/testing")
    expect(page.locator("[data-testid=rounds]")).to_be_visible()

    page.locator("[data-testid=manual-link]").click()

    expect(page).to_have_url(f"{served.url}/manuals/taskforce-testing#rounds")
    section = page.locator("section#rounds")
    expect(section).to_be_in_viewport()
    expect(section.locator("h2")).to_have_text("启动一轮检测")
    assert page.evaluate("document.querySelector(':target').id") == "rounds"

    wait_for_htmx(page)
    page.locator("[data-testid=manual-search] input[name=q]").fill("核酸")
    hits = page.locator("[data-testid=manual-hits] li")
    expect(hits.first.locator("mark").first).to_have_text("核酸")
    assert hits.count() > 3
    assert path_of(page) == "/manuals/search?q=%E6%A0%B8%E9%85%B8"
    # A result opens the manual at its section.
    target = page.locator("[data-testid=manual-hits] a[data-anchor=upload-results]")
    expect(target).to_have_count(1)
    target.click()
    expect(page).to_have_url(f"{served.url}/manuals/taskforce-testing#upload-results")
    expect(page.locator("section#upload-results")).to_be_in_viewport()


def test_a_worker_reads_their_manual_on_a_phone_without_scrolling_sideways(
        open_page: Callable[..., Page], served: Served) -> None:  # noqa: F811
    phone = open_page(viewport=PHONE)
    log_in(phone, "dongchang_worker")
    expect(phone.locator("[data-testid=who]")).to_be_visible()
    phone.goto("/tracing/contacts")
    phone.locator("[data-testid=manual-link]").click()

    expect(phone).to_have_url(f"{served.url}/manuals/role-community_worker#contacts")
    expect(phone.locator("section#contacts")).to_be_in_viewport()
    expect(phone.locator("[data-testid=toc] a")).to_have_count(5)
    phone.locator("[data-testid=toc] a", has_text="入户查漏").click()
    expect(phone.locator("section#door-marks")).to_be_in_viewport()
    assert_fits_phone(phone)
