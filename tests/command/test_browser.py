"""The command pages in a real browser (Chromium through Playwright), on the served demo city of
``tests/web/test_browser.py``: a community worker reports progress on a phone, a commander verifies a
rectification and the problem closes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from fangkong.command import problems, service
from fangkong.command.models import OrgUnit, OrgUnitKind, Problem, ProblemStatus, Task, TaskStatus
from fangkong.command.schemas import MeasureIn, ProblemIn, RectificationIn, ResponsibilityIn, TaskIn
from fangkong.core.db import system_session, utcnow
from fangkong.users import service as users
from tests.conftest import DC_COMMANDER, WORKER_DC
from tests.web.test_browser import (  # noqa: F401  (the served application and its browser)
    PHONE,
    WORKER_COMMUNITY,
    Served,
    assert_fits_phone,
    browser,
    log_in,
    open_page,
    served,
)

pytestmark = pytest.mark.browser


def _committee(session) -> int:  # type: ignore[no-untyped-def]
    return session.execute(select(OrgUnit.id).where(OrgUnit.jurisdiction_code == WORKER_COMMUNITY,
                                                    OrgUnit.kind == OrgUnitKind.COMMUNITY_COMMITTEE)).scalar_one()


def test_a_community_worker_reports_progress_with_a_photo_on_a_phone(
        open_page: Callable[..., Page], served: Served, tmp_path: Path) -> None:  # noqa: F811
    with system_session(served.engine) as session:
        task = service.create_task(session, TaskIn(
            jurisdiction_code=WORKER_COMMUNITY, title="入户摸排返乡人员", due_at=utcnow() + timedelta(hours=24),
            responsibility=ResponsibilityIn(unit_id=_committee(session))))
        task_id = task.id
    photo = tmp_path / "现场.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"1" * 200)

    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(page, WORKER_DC)
    page.goto("/command")
    page.locator(f"[data-testid=unit-tasks] tr[data-task='{task_id}'] a").tap()
    expect(page.locator("h1")).to_contain_text("入户摸排返乡人员")
    assert_fits_phone(page)
    form = page.locator("[data-testid=progress-form]")
    form.locator("textarea[name=text]").fill("已入户摸排86户，发现返乡人员3人")
    form.locator("input[name=percent]").fill("35")
    form.locator("input[type=file]").set_input_files(str(photo))
    form.locator("[data-testid=report]").tap()

    expect(page.locator("[data-testid=progress]")).to_have_text("35%")
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "in_progress")
    report = page.locator("[data-testid=reports] li").first
    expect(report).to_contain_text("已入户摸排86户")
    expect(report.locator("a[data-attachment]")).to_have_text("现场.png")
    assert_fits_phone(page)
    with system_session(served.engine) as session:
        stored = session.get(Task, task_id)
        assert stored is not None and stored.status is TaskStatus.IN_PROGRESS and stored.progress == 35


def test_a_commander_verifies_a_rectification_and_the_problem_closes(
        open_page: Callable[..., Page], served: Served) -> None:  # noqa: F811
    with system_session(served.engine) as session:
        problem = problems.file_problem(session, ProblemIn(jurisdiction_code=WORKER_COMMUNITY,
                                                           title="采样点排队超过一小时"))
        worker = users.find_user(session, WORKER_DC)
        assert worker is not None
        measure = problems.add_measure(session, problem, MeasureIn(title="增设两个采样台", owner_user_id=worker.id))
        users.principal_for(worker).bind(session)  # the worker submits what they did
        problems.submit_rectification(session, measure, RectificationIn(evidence="已增设两个采样台，排队缩短到15分钟"))
        problem_id = problem.id

    # The worker may not verify their own work: the page says why.
    own = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(own, WORKER_DC)
    own.goto(f"/command/problems/{problem_id}")
    own.locator("[data-testid=verify-form] input[value=yes]").check()
    own.locator("[data-testid=verify]").tap()
    expect(own.locator("[data-testid=error]")).to_be_visible()
    expect(own.locator("[data-testid=problem-status] [data-status]")).to_have_attribute("data-status", "rectifying")

    page = open_page()
    log_in(page, DC_COMMANDER)
    page.goto("/command")
    page.locator("[data-testid=to-verify] a", has_text="增设两个采样台").click()
    expect(page.locator("h1")).to_contain_text("采样点排队超过一小时")
    page.locator("[data-testid=verify-form] input[value=yes]").check()
    page.locator("[data-testid=verify]").click()
    expect(page.locator("[data-testid=problem-status] [data-status]")).to_have_attribute("data-status", "closed")
    with system_session(served.engine) as session:
        closed = session.get(Problem, problem_id)
        assert closed is not None and closed.status is ProblemStatus.CLOSED
