"""The charts in a real browser: a commander opens the Gantt of a plan and sees its bars, folds it to its
first level, and reads the live counts of the flow charts. Served and driven like ``tests/web/test_browser.py``,
whose fixtures this module shares (its own committed demo database, a local server, headless Chromium)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from fangkong.command import loops, service
from fangkong.command.schemas import DirectiveIn, PartyIn, ResponsibilityIn, TaskIn
from fangkong.core.db import system_session, utcnow
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

ROOTS, CHILDREN, LATE = 3, 12, 3  # three city tasks of twelve district sub-tasks each; three past their deadline


@pytest.fixture(scope="module")
def demo_plan(served: Served) -> dict[str, object]:  # noqa: F811
    """A city directive of 39 tasks: three city tasks, each with twelve 东昌区 sub-tasks, three of them late."""
    now = utcnow()
    who = ResponsibilityIn(assignee=PartyIn(name="专人"))
    with system_session(served.engine) as session:
        directive = service.create_directive(session, DirectiveIn(jurisdiction_code="2205", title="全市第二轮核酸检测"))
        service.issue_directive(session, directive, now=now - timedelta(hours=12))
        late = []
        for r in range(ROOTS):
            root = service.create_task(session, TaskIn(
                jurisdiction_code="2205", title=f"第{r + 1}片区组织实施", directive_id=directive.id,
                starts_at=now - timedelta(hours=12), due_at=now + timedelta(hours=72), responsibility=who),
                now=now - timedelta(hours=12))
            for c in range(CHILDREN):
                due = now + timedelta(hours=c - LATE + 0.5) if r == 0 else now + timedelta(hours=24 + c)
                child = service.create_task(session, TaskIn(
                    jurisdiction_code="220502", title=f"第{r + 1}片区第{c + 1}网格采样", parent_id=root.id,
                    starts_at=now - timedelta(hours=10), due_at=due, responsibility=who), now=now - timedelta(hours=10))
                if due < now:
                    late.append(child.id)
        return {"id": directive.id, "late": late}


def work_counts(app: Served, username: str) -> dict[str, int]:
    """The work loop's counts as ``username`` may count them."""
    with system_session(app.engine) as session:
        user = users.find_user(session, username)
        assert user is not None
        users.principal_for(user).bind(session)
        return {s.key: s.count for s in loops.work_loop(session).stages}


def test_a_commander_opens_the_gantt_of_a_plan_sees_its_bars_and_the_flow_charts_counts(
        open_page: Callable[..., Page], served: Served, demo_plan: dict[str, object]) -> None:  # noqa: F811
    page = open_page(viewport={"width": 1280, "height": 1000})
    log_in(page, "city_commander")
    page.goto(f"/command/plans/{demo_plan['id']}")
    chart = page.locator("#gantt-chart")
    expect(chart).to_have_attribute("data-ready", "true")
    expect(page.locator("#gantt-chart canvas").first).to_be_visible()
    bars = """() => echarts.getInstanceByDom(document.getElementById('gantt-chart')).getOption().series[0].data
                    .map(d => ({id: d.bar.id, state: d.bar.state, depth: d.bar.depth}))"""
    shown = page.evaluate(bars)
    assert len(shown) == ROOTS * (CHILDREN + 1)
    assert sorted(b["id"] for b in shown if b["state"] == "overdue") == sorted(demo_plan["late"])  # type: ignore[arg-type]
    critical = page.locator("[data-testid=critical] li[data-task]")
    expect(critical).to_have_count(LATE)
    assert critical.first.locator("a").get_attribute("href") == f"/command/tasks/{demo_plan['late'][0]}"  # type: ignore[index]

    page.select_option("#gantt-depth", "0")  # fold the plan to its first level
    page.wait_for_function(f"() => ({bars})().length == {ROOTS}")
    assert {b["depth"] for b in page.evaluate(bars)} == {0}

    page.goto("/command/flows")
    expected = work_counts(served, "city_commander")
    work = page.locator("[data-loop=work]")
    for key in ("assigned", "overdue"):
        expect(work.locator(f"[data-stage={key}]")).to_have_attribute("data-count", str(expected[key]))
    assert expected["overdue"] == LATE and expected["assigned"] == ROOTS * CHILDREN - LATE + ROOTS
    expect(page.locator("#flow-work canvas").first).to_be_visible()
    nodes = page.evaluate("""() => echarts.getInstanceByDom(document.getElementById('flow-work')).getOption()
                             .series[0].data.map(n => [n.id, n.value])""")
    assert dict(nodes) == expected


def test_the_charts_pages_fit_a_phone(open_page: Callable[..., Page], served: Served,  # noqa: F811
                                      demo_plan: dict[str, object]) -> None:
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(page, "dongchang_commander")
    page.goto(f"/command/plans/{demo_plan['id']}")
    expect(page.locator("#gantt-chart")).to_have_attribute("data-ready", "true")
    assert_fits_phone(page)
    for path in ("/command/plans", "/command/flows", "/command/assessment", "/command/templates", "/"):
        page.goto(path)
        page.wait_for_load_state("load")
        assert_fits_phone(page)
    expect(page.locator("[data-testid=work-loop]")).to_be_visible()


# Each node of the flow charts on the page: its chart, its name, its label's size, the size it is drawn at
# on the screen, and the size it is given.
FLOW_NODES = """() => [...document.querySelectorAll('.flow')].flatMap(box => {
    const data = echarts.getInstanceByDom(box).getModel().getSeriesByIndex(0).getData();
    return data.mapArray(i => {
        const symbol = data.getItemGraphicEl(i).childAt(0), rect = symbol.getBoundingRect();
        const label = symbol.getTextContent().getBoundingRect(), m = symbol.getComputedTransform() || [1, 0, 0, 1];
        return {chart: box.id, name: data.getName(i), label: [label.width, label.height],
                drawn: [Math.round(rect.width * Math.hypot(m[0], m[1])),
                        Math.round(rect.height * Math.hypot(m[2], m[3]))],
                size: data.getItemVisual(i, 'symbolSize')};
    });
})"""


def test_the_flow_charts_names_stay_inside_their_nodes_in_english(
        open_page: Callable[..., Page], served: Served) -> None:  # noqa: F811
    page = open_page(viewport={"width": 1366, "height": 1000})
    log_in(page, "city_commander")
    page.goto("/lang/en?next=/command/flows")
    expect(page.locator("#flow-tracing canvas").first).to_be_visible()
    nodes = page.evaluate(FLOW_NODES)
    assert "Investigated (report complete)" in {node["name"] for node in nodes}
    spilling = [node["name"] for node in nodes
                if node["label"][0] > node["size"][0] or node["label"][1] > node["size"][1]]
    assert spilling == []


def test_the_flow_charts_draw_every_node_at_its_size_and_leave_a_phone_the_counts(
        open_page: Callable[..., Page], served: Served) -> None:  # noqa: F811
    page = open_page(viewport={"width": 1366, "height": 1000})
    log_in(page, "city_commander")
    page.goto("/command/flows")
    expect(page.locator("#flow-work canvas").first).to_be_visible()
    nodes = page.evaluate(FLOW_NODES)
    assert {node["chart"] for node in nodes} == {"flow-testing", "flow-tracing", "flow-work", "flow-problems"}
    # Whatever a chart's rows and columns, a node is the same box: not squashed in a wide chart of two rows,
    # nor stretched in a tall one.
    assert {tuple(node["drawn"]) for node in nodes} == {(128, 50)}, nodes

    page.set_viewport_size(PHONE)
    page.reload()
    page.wait_for_load_state("load")
    assert_fits_phone(page)
    expect(page.locator(".flow").first).to_be_hidden()
    expect(page.locator("[data-loop=work] [data-stage]").first).to_be_visible()
