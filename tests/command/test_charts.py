"""The charts' pages and data: a plan's Gantt (as far as the reader's jurisdiction reaches), the flow charts'
counts, the assessment with its sort and its audited Excel export, the templates page and the overview's
work loop."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.cli.trace import CASES_HEADER, ISOLATIONS_HEADER
from fangkong.command import exports, loops, service
from fangkong.command.models import OrgUnit, Task
from fangkong.command.schemas import DirectiveIn, HandDownIn, ProgressIn, ResponsibilityIn, TaskIn
from fangkong.core import i18n
from fangkong.core.audit import Action, AuditEntry
from fangkong.core.db import utcnow
from tests.command.conftest import CITY, DC, DONGTONGHUA, EDJ, XINZHAN, TaskMaker, hours

NOW = utcnow()


def at(hours: float):  # type: ignore[no-untyped-def]
    """``hours`` from the start of the test."""
    return NOW + timedelta(hours=hours)


@pytest.fixture
def plan(session: Session, as_user, make_unit) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A city directive: a city task handed down to 东昌区 and to 二道江区, the 东昌区 part with a 新站社区
    sub-task past its deadline; and a city task done. Made by the city commander; returns the ids."""
    as_user("city_commander")
    units = {code: make_unit(code, f"{code}防控办") for code in (CITY, DC, EDJ, XINZHAN)}

    def by(code: str) -> ResponsibilityIn:
        return ResponsibilityIn(unit_id=units[code].id)

    directive = service.create_directive(session, DirectiveIn(jurisdiction_code=CITY, title="全市核酸检测施工图"))
    service.issue_directive(session, directive, now=at(-10))
    root = service.create_task(session, TaskIn(jurisdiction_code=CITY, title="组织全员核酸检测",
                                               directive_id=directive.id, starts_at=at(-10), due_at=at(48),
                                               responsibility=by(CITY)), now=at(-10))
    service.report_progress(session, root, ProgressIn(text="已启动", percent=40), now=at(-9))
    done = service.create_task(session, TaskIn(jurisdiction_code=CITY, title="制定检测方案", directive_id=directive.id,
                                               starts_at=at(-10), due_at=at(-5), responsibility=by(CITY)), now=at(-10))
    service.complete(session, done, outcome="方案已印发", now=at(-6))
    dc = service.hand_down(session, root, HandDownIn(jurisdiction_code=DC, title="东昌区全员核酸检测",
                                                    due_at=at(24), responsibility=by(DC)), now=at(-8))
    edj = service.hand_down(session, root, HandDownIn(jurisdiction_code=EDJ, title="二道江区全员核酸检测",
                                                     due_at=at(24), responsibility=by(EDJ)), now=at(-8))
    late = service.create_task(session, TaskIn(jurisdiction_code=XINZHAN, title="新站社区上门采样", parent_id=dc.id,
                                               starts_at=at(-8), due_at=at(-2), responsibility=by(XINZHAN)),
                               now=at(-8))
    return {"directive": directive.id, "root": root.id, "done": done.id, "dc": dc.id, "edj": edj.id,
            "late": late.id}


def test_the_gantt_data_of_a_plan_has_a_bar_per_task_in_plan_order(client, plan: dict[str, int]) -> None:
    client.login("city_commander")
    data = client.get(f"/api/v1/command/plans/{plan['directive']}").json()
    bars = {b["id"]: b for b in data["bars"]}
    assert [b["id"] for b in data["bars"]] == [plan["root"], plan["dc"], plan["late"], plan["edj"], plan["done"]]
    assert [bars[plan[k]]["depth"] for k in ("root", "dc", "late", "edj", "done")] == [0, 1, 2, 1, 0]
    assert bars[plan["root"]]["state"] == "in_progress" and bars[plan["root"]]["progress"] == 40
    assert bars[plan["root"]]["has_children"] and not bars[plan["late"]]["has_children"]
    assert bars[plan["done"]]["state"] == "done" and bars[plan["done"]]["colour"] == "#2e7d32"
    late = bars[plan["late"]]
    assert late["state"] == "overdue" and late["colour"] == "#c62828"
    assert late["end"] - late["start"] == 6 * 3600 * 1000  # from its start to its deadline
    assert data["critical"] == [plan["late"]]
    assert data["directive"]["title"] == "全市核酸检测施工图"


def test_the_plan_page_lists_the_critical_overdue_items_linking_to_the_task(client, plan: dict[str, int]) -> None:
    client.login("city_commander")
    page = client.get(f"/command/plans/{plan['directive']}")
    assert page.status_code == 200
    critical = page.text[page.text.index('data-testid="critical"'):]
    assert re.findall(r'<li data-task="(\d+)"><a href="/command/tasks/(\d+)">', critical) == [
        (str(plan["late"]), str(plan["late"]))]
    assert f'data-src="/api/v1/command/plans/{plan["directive"]}"' in page.text
    listed = client.get("/command/plans")
    assert f'href="/command/plans/{plan["directive"]}"' in listed.text


def test_a_district_sees_its_sub_plan_of_a_city_directive(client, plan: dict[str, int], session: Session) -> None:
    client.login("dongchang_commander")
    data = client.get(f"/api/v1/command/plans/{plan['directive']}").json()
    assert [(b["id"], b["depth"]) for b in data["bars"]] == [(plan["dc"], 0), (plan["late"], 1)]
    assert data["critical"] == [plan["late"]]
    assert f'href="/command/plans/{plan["directive"]}"' in client.get("/command/plans").text
    # The directive above is named, never opened: its other tasks stay out of sight.
    page = client.get(f"/command/plans/{plan['directive']}").text
    assert "二道江区全员核酸检测" not in page and "全市核酸检测施工图" in page


def test_a_plan_with_nothing_in_the_jurisdiction_is_missing_and_the_attempt_audited(
        client, session: Session, as_user, make_task: TaskMaker, make_unit) -> None:
    as_user("dongchang_commander")
    directive = service.create_directive(session, DirectiveIn(jurisdiction_code=DC, title="东昌区封控施工图"))
    make_task(DC, unit=make_unit(DC, "东昌区防控办"), due=24)
    session.execute(select(Task).order_by(Task.id.desc()).limit(1)).scalar_one().directive_id = directive.id
    session.flush()
    client.login("erdaojiang_worker")
    assert client.get(f"/api/v1/command/plans/{directive.id}").status_code == 404
    assert client.get(f"/command/plans/{directive.id}").status_code == 404
    assert client.get("/api/v1/command/plans/999999").status_code == 404
    as_user("admin")
    denied = session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == Action.ACCESS_DENIED, AuditEntry.actor_name == "erdaojiang_worker",
        AuditEntry.entity == "directives", AuditEntry.entity_id == str(directive.id))).scalar_one()
    assert denied == 2


def _stages(html: str, loop: str) -> dict[str, int]:
    section = html[html.index(f'data-loop="{loop}"'):]
    section = section[:section.index("</section>")]
    return {k: int(v) for k, v in re.findall(r'data-stage="(\w+)" data-count="(\d+)"', section)}


def test_the_flow_charts_show_each_loops_counts_for_the_users_jurisdiction(
        client, plan: dict[str, int], session: Session, as_user) -> None:
    client.login("dongchang_commander")
    html = client.get("/command/flows").text
    as_user("dongchang_commander")
    for loop in loops.all_loops(session):
        assert _stages(html, loop.key) == {s.key: s.count for s in loop.stages}, loop.key
    work = _stages(html, "work")
    assert work["overdue"] >= 1 and work["assigned"] >= 1  # the sub-task past its deadline, the district's part
    as_user("city_commander")
    city = loops.work_loop(session)
    assert city.count("assigned") > work["assigned"]  # 二道江区's part is not counted
    narrowed = _stages(client.get(f"/command/flows?under={XINZHAN}").text, "work")
    assert narrowed["overdue"] >= 1 and narrowed["assigned"] == work["assigned"] - 1


def test_counting_outside_the_jurisdiction_is_refused_as_missing(client) -> None:
    client.login("dongchang_commander")
    assert client.get(f"/command/flows?under={EDJ}").status_code == 404
    bad = client.get("/command/flows?under=22x")
    assert bad.status_code == 422 and 'under' in bad.text


@pytest.fixture
def scored(session: Session, as_user, make_unit, make_task: TaskMaker) -> dict[str, OrgUnit]:  # type: ignore[no-untyped-def]
    """Three units of 新站社区: one on time, one with an overdue task, one late."""
    as_user("admin")
    good, stuck, slow = (make_unit(XINZHAN, name) for name in ("甲单位", "乙单位", "丙单位"))
    # ``make_task``'s deadlines are hours after the fixtures' T0, long past: the open one is overdue now.
    service.complete(session, make_task(XINZHAN, unit=good, due=10), outcome="完成", now=hours(5))
    make_task(XINZHAN, unit=stuck, due=10)
    service.complete(session, make_task(XINZHAN, unit=slow, due=10), outcome="完成", now=hours(20))
    return {"good": good, "stuck": stuck, "slow": slow}


def test_the_assessment_page_ranks_the_units_and_sorts_by_a_column(client, scored: dict[str, OrgUnit]) -> None:
    client.login("dongchang_commander")
    html = client.get("/command/assessment").text
    order = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', html)]
    ids = [scored[k].id for k in ("good", "slow", "stuck")]
    assert [i for i in order if i in ids] == ids  # on time first; then fewer overdue
    by_overdue = client.get("/command/assessment?sort=overdue&direction=desc").text
    assert next(int(i) for i in re.findall(r'<tr data-id="(\d+)">', by_overdue)) == scored["stuck"].id
    bad = client.get("/command/assessment?sort=nonsense&lang=en")
    assert bad.status_code == 422 and "sort" in bad.text and "not one of the allowed choices" in bad.text
    assert client.get("/command/assessment?direction=sideways").status_code == 422
    assert client.get("/command/assessment?of=task_forces").status_code == 200


def test_the_assessment_export_is_the_ranking_in_the_users_language_and_audited(
        client, scored: dict[str, OrgUnit], session: Session, as_user) -> None:
    client.login("dongchang_commander")
    response = client.get("/command/assessment.xlsx?of=units&sort=name")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    before = i18n.get_locale()
    i18n.set_locale("zh_CN")
    try:
        headers = [i18n.translate(h) for _, h, _ in exports.COLUMNS]
    finally:
        i18n.set_locale(before)
    assert list(rows[2]) == headers and "已超时" in headers  # the catalog's Chinese, where it has one
    assert "dongchang_commander" in rows[1][0] and "dongchang_commander" in rows[-1][0]
    body = rows[3:-1]
    names = [r[1] for r in body]
    assert names == sorted(names)
    mine = {r[1]: r for r in body if r[1] in ("甲单位", "乙单位", "丙单位")}
    assert (mine["乙单位"][3], mine["乙单位"][6]) == (1, 1)  # one task, overdue
    assert (mine["丙单位"][4], mine["丙单位"][5]) == (0, 1)  # done late
    english = client.get("/command/assessment.xlsx?of=task_forces&lang=en")
    header = list(load_workbook(io.BytesIO(english.content), read_only=True).worksheets[0].iter_rows(
        values_only=True))[2]
    assert header[0] == "Rank" and header[-1] == "Median hours to a verified rectification"
    as_user("admin")
    exported = session.execute(select(AuditEntry.detail).where(
        AuditEntry.action == Action.EXPORT, AuditEntry.entity == "assessment",
        AuditEntry.actor_name == "dongchang_commander").order_by(AuditEntry.id)).scalars().all()
    assert [d["subject"] for d in exported] == ["units", "task_forces"]
    assert exported[0]["rows"] == len(body)


def test_a_refused_export_writes_nothing_to_the_audit_log(client, session: Session) -> None:
    client.login("lab")
    assert client.get("/command/assessment.xlsx").status_code == 403
    assert session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == Action.EXPORT, AuditEntry.entity == "assessment")).scalar_one() == 0


def test_the_templates_page_offers_every_data_template_and_lists_the_task_templates(client) -> None:
    client.login("dongchang_worker")
    html = client.get("/command/templates?lang=en").text
    for href in ("/testing/template.xlsx", "/testing/template.csv", "/command/templates/trace-cases.csv",
                 "/command/templates/trace-isolations.csv"):
        assert f'href="{href}"' in html
    assert 'data-task-template="new-local-case"' in html and 'data-task-template="positive-pool"' in html
    assert "Collect the case's core information" in html and "within 4 h" in html
    assert "Tracing task force" in html
    cases = client.get("/command/templates/trace-cases.csv")
    assert cases.content.decode("utf-8-sig").strip() == ",".join(CASES_HEADER)
    isolations = client.get("/command/templates/trace-isolations.csv")
    assert isolations.content.decode("utf-8-sig").strip() == ",".join(ISOLATIONS_HEADER)
    assert client.get("/command/templates/nothing.csv").status_code == 404
    assert client.get("/testing/template.xlsx").status_code == 200


def test_the_overview_shows_the_work_loop_per_district(client, plan: dict[str, int], session: Session,
                                                       as_user) -> None:
    client.login("city_commander")
    html = client.get("/").text
    assert 'data-testid="work-loop"' in html
    as_user("city_commander")
    figures = loops.work_by_area(session, [DC, EDJ])
    for code in (DC, EDJ):
        row = html[html.index(f'data-area="{code}"'):]
        row = row[:row.index("</tr>")]
        shown = dict(re.findall(r'data-figure="(\w+)">([\d,]+)<', row))
        assert int(shown["overdue"]) == figures[code].overdue
        assert int(shown["on_schedule"]) == figures[code].on_schedule
        assert int(shown["problems_open"]) == figures[code].problems_open
    assert figures[DC].overdue >= 1
    client.login("erdaojiang_worker")
    worker = client.get("/").text
    assert f'data-area="{DONGTONGHUA}"' in worker and f'data-area="{DC}"' not in worker



def test_the_overview_work_rows_add_up_to_the_total(client, plan: dict[str, int]) -> None:
    # The plan's root task and its done task are the city's own: in no district, yet in the total.
    client.login("city_commander")
    html = client.get("/").text
    table = html[html.index('data-testid="work-by-area"'):]
    body, foot = table[:table.index("<tfoot>")], table[table.index("<tfoot>"):table.index("</tfoot>")]
    assert 'data-area="above"' in body
    totals = [int(n.replace(",", "")) for n in re.findall(r'class="num[^"]*">([\d,]+)<', foot)]
    rows = [[int(n.replace(",", "")) for n in re.findall(r'data-figure="\w+">([\d,]+)<', row)]
            for row in body.split("<tr ")[1:]]
    assert [sum(column) for column in zip(*rows, strict=True)] == totals
    client.login("dongchang_commander")
    assert 'data-area="above"' not in client.get("/").text


def test_a_lab_account_sees_no_work_loop(client) -> None:
    client.login("lab")
    assert 'data-testid="work-loop"' not in client.get("/").text
