"""The task list's page (``service.task_page``): the same tasks, order and total as the list's query, scoped."""

from __future__ import annotations

from sqlalchemy.orm import Session, selectinload

from fangkong.command import service
from fangkong.command.models import Task, TaskStatus
from fangkong.core.paging import paginate
from tests.command.conftest import DC, DONGTONGHUA, EDJ, JIANGNAN, T0, XINZHAN, TaskMaker, hours


def test_a_page_holds_what_the_list_query_pages_in_deadline_order(session: Session, as_user,
                                                                   make_task: TaskMaker) -> None:
    for i, code in enumerate((XINZHAN, JIANGNAN, DC, XINZHAN, EDJ, DONGTONGHUA, JIANGNAN) * 3):
        make_task(code, assignee="city_commander", due=48 - i, title=f"t{i}")
    as_user("dongchang_commander")
    for filters in ({}, {"status": TaskStatus.ASSIGNED}, {"under": XINZHAN}, {"status": TaskStatus.DONE}):
        expected = paginate(session, service.tasks(**filters), page=2, size=4)
        page = service.task_page(session, page=2, size=4, **filters)
        assert [t.id for t in page.items] == [t.id for t in expected.items]
        assert (page.total, page.page, page.size) == (expected.total, expected.page, expected.size)
    page = service.task_page(session, size=50)
    # 东昌区's three codes, never 二道江区's; earliest deadline first.
    assert page.total == 15
    assert {t.jurisdiction_code for t in page.items} == {XINZHAN, JIANGNAN, DC}
    assert [t.due_at for t in page.items] == sorted(t.due_at for t in page.items if t.due_at is not None)


def test_an_overdue_page_and_a_capped_total(session: Session, as_user, make_task: TaskMaker) -> None:
    late = [make_task(XINZHAN, assignee="city_commander", due=h, title=f"late{h}") for h in (1, 2, 3)]
    make_task(XINZHAN, assignee="city_commander", due=30, title="later")
    as_user("dongchang_worker")
    page = service.task_page(session, overdue=True, now=hours(10))
    assert [t.id for t in page.items] == [t.id for t in late]
    capped = service.task_page(session, size=1, count_limit=2)
    assert (len(capped.items), capped.total, capped.is_total_capped) == (1, 2, True)
    assert service.task_page(session, overdue=True, now=T0).items == []


def test_a_page_loads_what_the_options_ask_for(session: Session, as_user, make_task: TaskMaker) -> None:
    make_task(XINZHAN, assignee="dongchang_worker")
    as_user("dongchang_worker")
    page = service.task_page(session, options=[selectinload(Task.responsibilities)])
    assert "responsibilities" in page.items[0].__dict__
    assert page.items[0].responsibilities[0].user_id is not None
