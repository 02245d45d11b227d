"""The tracing pages in a real browser, on a phone: a tracer in the field reads a case in either language.
Served and driven like ``tests/web/test_browser.py``, whose fixtures this module shares."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from fangkong.core.db import system_session, utcnow
from fangkong.people.models import Person
from fangkong.tracing import service
from fangkong.tracing.models import CaseKind, FoundBy
from fangkong.tracing.schemas import CaseIn
from fangkong.users import service as users
from tests.web.test_browser import (  # noqa: F401  (shared fixtures)
    PHONE,
    Served,
    assert_fits_phone,
    browser,
    log_in,
    open_page,
    served,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def case_id(served: Served) -> int:  # noqa: F811
    """A case of 东昌区, reported by the city's tracer."""
    with system_session(served.engine) as session:
        tracer = users.find_user(session, "tracer")
        assert tracer is not None
        users.principal_for(tracer).bind(session)
        person = session.execute(select(Person).where(Person.jurisdiction_code.startswith("220502"))
                                 .order_by(Person.id).limit(1)).scalar_one()
        case = service.report_case(session, CaseIn(person_id=person.id, kind=CaseKind.ASYMPTOMATIC,
                                                   found_by=FoundBy.MASS_TESTING,
                                                   sampled_at=utcnow() - timedelta(hours=6)))
        return case.id


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_a_case_and_its_investigation_fit_a_phone(open_page: Callable[..., Page], case_id: int,  # noqa: F811
                                                  locale: str) -> None:
    # Not ``is_mobile``: a mobile viewport widens itself to fit the page, and nothing would overflow.
    page = open_page(viewport=PHONE)
    log_in(page, "dongchang_tracer")
    page.wait_for_load_state("load")
    for path in (f"/tracing/cases/{case_id}", f"/tracing/cases/{case_id}/investigation"):
        page.goto(f"/lang/{locale}?next={path}")
        page.wait_for_load_state("load")
        assert_fits_phone(page)
