"""The direct channel and inspections in a real browser, on a phone-sized screen.

The application is served as in ``tests/web/test_browser.py`` (its ``browser`` and ``open_page`` are
reused), with its own committed demo database and a data directory of its own for the photos.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from fangkong.command.channel_models import DirectMessage
from fangkong.command.inspections import Finding
from fangkong.command.models import Problem, ProblemSource
from fangkong.core.db import system_session
from tests.command.test_inspections import png
from tests.web import test_browser as web
from tests.web.test_browser import PHONE, Served, log_in

pytestmark = pytest.mark.browser

# The browser tests' fixtures, reused: one Chromium for the module, a fresh context per page.
browser = web.browser
open_page = web.open_page


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The application on its own committed demo database, its files under a temporary directory."""
    tmp = tmp_path_factory.mktemp("public-browser")
    with web.serving(f"fangkong_public_{os.getpid()}", tmp, data_dir=tmp / "data") as running:
        yield running


def test_a_resident_reports_from_a_phone_and_tracks_it_with_the_code(open_page: Callable[..., Page],
                                                                     served: Served) -> None:
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/direct")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    form = page.get_by_test_id("direct-form")
    form.locator("select[name=category]").select_option("supply")
    form.locator("select[name=district]").select_option("220502")
    expect(form.locator("select[name=street] option[value='220502001']")).to_have_count(1)
    form.locator("select[name=street]").select_option("220502001")
    expect(form.locator("select[name=community] option[value='220502001001']")).to_have_count(1)
    form.locator("select[name=community]").select_option("220502001001")
    form.locator("textarea[name=text]").fill("我家在封控楼栋，家里老人的降压药只剩两天的量了，请帮忙代购。")
    form.locator("input[name=name]").fill("王秀英")
    form.locator("input[name=phone]").fill("13904351234")
    # The form is the width of the phone: nothing to scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.wait_for_timeout(3200)  # a person takes a few seconds to write; a robot that does not is refused
    form.get_by_test_id("send").click()

    code = page.get_by_test_id("tracking-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{5}-[A-Z0-9]{5}$"))
    tracking_code = code.inner_text()
    with system_session(served.engine) as session:
        message = session.execute(select(DirectMessage).order_by(DirectMessage.id.desc())).scalars().first()
        assert message is not None and message.jurisdiction_code == "220502001001"
        assert message.problem.source is ProblemSource.DIRECT_CHANNEL

    page.goto("/direct/track")
    page.locator("input[name=code]").fill(tracking_code.lower().replace("-", " "))
    page.get_by_test_id("track").click()
    expect(page.get_by_test_id("track-status")).to_have_attribute("data-status", "received")
    expect(page.get_by_test_id("tracking")).not_to_contain_text("王秀英")
    expect(page.get_by_test_id("tracking")).not_to_contain_text("13904351234")


def test_an_inspector_records_a_finding_with_a_photo_from_a_phone(open_page: Callable[..., Page],
                                                                   served: Served, tmp_path: Path) -> None:
    photo = tmp_path / "现场.png"
    photo.write_bytes(png(8, 8))
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(page, "inspector")
    page.goto("/command/inspections/new")
    form = page.get_by_test_id("inspection-form")
    form.locator("input[name=site_kind][value=place]").check()
    form.locator("select[name=place_id]").select_option(label="西关蔬菜批发市场")
    form.locator("input[name=location]").fill("东门入口")
    form.locator("input[name=team]").fill("李明、赵强")
    form.get_by_test_id("save-inspection").click()
    expect(page.get_by_test_id("inspection-facts")).to_contain_text("西关蔬菜批发市场")

    finding = page.get_by_test_id("finding-form")
    finding.locator("textarea[name=text]").fill("入口未查验场所码，测温枪无电")
    finding.locator("select[name=severity]").select_option("major")
    finding.locator("select[name=unit_id]").select_option(label="新站社区居委会")
    finding.locator("input[name=photos]").set_input_files(str(photo))
    finding.get_by_test_id("add-finding").click()

    expect(page.get_by_test_id("finding-count")).to_have_text("1")
    image = page.locator("img[data-photo]")
    expect(image).to_have_count(1)
    expect(page.get_by_test_id("finding-problem")).to_have_count(1)
    # The photo is served back to the inspector and decodes as the 8×8 image sent (waits for it to load).
    page.wait_for_function("() => { const i = document.querySelector('img[data-photo]');"
                           " return i !== null && i.complete && i.naturalWidth === 8; }")
    # The form is ready for the next finding.
    expect(page.get_by_test_id("finding-form").locator("textarea[name=text]")).to_have_value("")
    with system_session(served.engine) as session:
        made = session.execute(select(Finding).order_by(Finding.id.desc())).scalars().first()
        assert made is not None and made.text == "入口未查验场所码，测温枪无电" and len(made.photos) == 1
        problem = session.get(Problem, made.problem_id)
        assert problem is not None and problem.source is ProblemSource.INSPECTION
