"""Pages of the command module's charts: the plans (施工图) as Gantt charts, the closed loops as flow charts
(流程图) with live counts, the assessment (可考评) with its Excel export, the standard templates (标准模板),
and the work loop on the overview."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.command import exports, gantt, loops, standards
from fangkong.command.models import Directive, Task
from fangkong.command.organisation import STANDARD_TASK_FORCES
from fangkong.core import audit
from fangkong.core.auth import Permission
from fangkong.core.db import utcnow
from fangkong.core.deps import PrincipalDep, SessionDep, requires
from fangkong.core.errors import N_, Invalid, NotFound
from fangkong.core.i18n import get_locale, gettext
from fangkong.core.scope import Principal, principal_of, system_access
from fangkong.geo import service as geo
from fangkong.geo.models import Jurisdiction, Level
from fangkong.web import nav, overview
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["command"])

nav.register(nav.NavItem("command", N_("Work plans"), "/command/plans", Permission.COMMAND_READ, order=65))
nav.register(nav.NavItem("command", N_("Flow charts"), "/command/flows", Permission.AGGREGATES_READ, order=70))
nav.register(nav.NavItem("command", N_("Assessment"), "/command/assessment", Permission.AGGREGATES_READ, order=80))
nav.register(nav.NavItem("command", N_("Standard templates"), "/command/templates", order=90))

Reader = Annotated[Principal, Depends(requires(Permission.COMMAND_READ))]
Counter = Annotated[Principal, Depends(requires(Permission.AGGREGATES_READ))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PLANS_SHOWN = 200


# ------------------------------------------------------------------------------------------------ plans


@dataclass(frozen=True)
class PlanRow:
    """A directive in the list of plans: the reader's part of it may be all of it or a sub-plan."""

    id: int
    title: str
    status_label: str
    jurisdiction_code: str
    tasks: int  # as far as the reader sees
    created_at: datetime


@pages.get("/command/plans")
def plans_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    """The directives whose plans the user reads, their own and those handed down into their jurisdiction."""
    counts: dict[int, int] = {directive: n for directive, n in session.execute(
        select(Task.directive_id, func.count()).where(Task.directive_id.is_not(None)).group_by(Task.directive_id))
        if directive is not None}
    own = {d.id: d for d in session.execute(select(Directive).order_by(Directive.id.desc())
                                            .limit(PLANS_SHOWN)).scalars()}
    above = sorted(set(counts) - set(own))[-PLANS_SHOWN:]
    if above:
        # Directives above the user's jurisdiction with tasks handed down into it: named, never opened.
        with system_access(session):
            rows = session.execute(select(Directive.id, Directive.title, Directive.status, Directive.jurisdiction_code,
                                          Directive.created_at).where(Directive.id.in_(above))).all()
    else:
        rows = []
    plans = [PlanRow(d.id, d.title, gettext(d.status.label), d.jurisdiction_code, counts.get(d.id, 0), d.created_at)
             for d in own.values()]
    plans += [PlanRow(i, title, gettext(status.label), code, counts.get(i, 0), created)
              for i, title, status, code, created in rows]
    plans.sort(key=lambda p: p.id, reverse=True)
    return render(request, "command/charts/plans.html", {"plans": plans[:PLANS_SHOWN]})


@pages.get("/command/plans/{directive_id}")
def plan_page(request: Request, session: SessionDep, principal: Reader, directive_id: int) -> Response:
    """A directive's plan (施工图) as a Gantt chart, with its critical overdue items beside it."""
    chart = gantt.gantt(session, gantt.readable_directive(session, directive_id))
    depth = max((b.depth for b in chart.bars), default=0)
    return render(request, "command/charts/plan.html", {"chart": chart, "depths": list(range(depth + 1)),
                                                        "states": gantt.STATE_LABELS, "colours": gantt.STATE_COLOURS})


@api.get("/command/plans/{directive_id}")
def plan_data(session: SessionDep, principal: Reader, directive_id: int) -> dict[str, Any]:
    """A directive's plan as Gantt bars (start, deadline, progress, state and colour) as far as you see it,
    with the ids of its critical overdue tasks, most late first. Times are milliseconds since the epoch."""
    return gantt.gantt(session, gantt.readable_directive(session, directive_id)).as_json()


# ------------------------------------------------------------------------------------------- flow charts


def _require_reach(session: Session, code: str) -> None:
    """Refuse to count where the user cannot count, as if the place did not exist (audited)."""
    if principal_of(session).can(Permission.AGGREGATES_READ, code):
        return
    audit.record(session, audit.Action.ACCESS_DENIED, entity_name="jurisdictions", entity_id=code,
                 jurisdiction_code=code, detail={"reason": "outside scope"}, survive_rollback=True)
    raise NotFound(N_("No such jurisdiction."))


def _layout(loop: loops.Loop) -> dict[str, tuple[int, int]]:
    """Grid positions (column, row) of a loop's stages: a stage one column right of the first stage that
    leads to it, stages of one column stacked, so the flow reads left to right."""
    column = {loop.stages[0].key: 0}
    pending = [loop.stages[0].key]
    while pending:
        here = pending.pop(0)
        for a, b in loop.edges:
            if a == here and b not in column:
                column[b] = column[here] + 1
                pending.append(b)
    for stage in loop.stages:  # a stage nothing leads to stands in the first column
        column.setdefault(stage.key, 0)
    rows: dict[int, int] = {}
    place = {}
    for stage in loop.stages:
        c = column[stage.key]
        place[stage.key] = (c, rows.get(c, 0))
        rows[c] = rows.get(c, 0) + 1
    return place


# The lists a flow chart's numbers open, and who may open them.
LIST_PERMISSIONS = (("/tracing/contacts", Permission.CONTACTS_READ), ("/tracing", Permission.TRACING_READ),
                    ("/testing", Permission.TESTING_READ))


def _may_open(principal: Principal, href: str | None) -> bool:
    """Whether the user may open the list behind a number (a link they cannot follow is not shown)."""
    if href is None:
        return False
    needed = next((p for prefix, p in LIST_PERMISSIONS if href.startswith(prefix)), None)
    return needed is None or principal.can(needed)


def _area_choices(session: Session) -> list[Jurisdiction]:
    """The districts the user may count (and their own area when it is narrower), for the area filter."""
    principal = principal_of(session)
    nodes: list[Jurisdiction] = []
    for root in geo.roots(session):
        nodes.append(root)
        if len(root.code) < Level.DISTRICT:
            nodes += session.execute(select(Jurisdiction).where(
                func.length(Jurisdiction.code) == Level.DISTRICT.value,
                Jurisdiction.code.startswith(root.code)).order_by(Jurisdiction.code)).scalars().all()
    return [n for n in nodes if principal.can(Permission.AGGREGATES_READ, n.code)]


@pages.get("/command/flows")
def flows_page(request: Request, session: SessionDep, principal: Counter, under: str = "") -> Response:
    """Every closed loop the system runs as a flow chart, with live counts per state for the user's area."""
    area = None
    if under.strip():
        area = geo.check_code(under, field="under")
        _require_reach(session, area)
    found = loops.all_loops(session, under=area)
    charts = []
    for loop in found:
        place = _layout(loop)
        charts.append({"loop": loop, "nodes": [
            {"key": s.key, "name": gettext(s.label), "value": s.count, "alarm": s.alarm,
             "href": s.href if _may_open(principal, s.href) else None,
             "x": place[s.key][0], "y": place[s.key][1]} for s in loop.stages],
            "links": [{"source": a, "target": b} for a, b in loop.edges]})
    return render(request, "command/charts/flows.html", {"charts": charts, "areas": _area_choices(session),
                                                         "under": area or ""})


# -------------------------------------------------------------------------------------------- assessment


def _ranking(session: Session, of: str, sort: str, direction: str) -> list[Any]:
    directions = {"": None, "asc": False, "desc": True}
    if direction not in directions:
        raise Invalid.field("direction", N_("This value is not one of the allowed choices."))
    return exports.ranking(session, of, sort=sort, descending=directions[direction])


@pages.get("/command/assessment")
def assessment_page(request: Request, session: SessionDep, principal: Counter, of: str = "units",
                    sort: str = "rank", direction: str = "") -> Response:
    """Units or task forces ranked by how their work went: on time, overdue, problems closed, time to rectify."""
    scores = _ranking(session, of, sort, direction)
    return render(request, "command/charts/assessment.html", {
        "scores": scores, "of": of, "sort": sort, "direction": direction, "subjects": exports.SUBJECTS,
        "columns": exports.COLUMNS, "ascending": exports.ASCENDING})


@pages.get("/command/assessment.xlsx")
def assessment_export(session: SessionDep, principal: Counter, of: str = "units", sort: str = "rank",
                      direction: str = "") -> Response:
    """The assessment as an Excel file, sorted as on the page (watermarked, audited)."""
    scores = _ranking(session, of, sort, direction)
    content = exports.export_xlsx(session, of, scores)
    name = f"assessment-{of}.xlsx"
    return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --------------------------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class DataTemplate:
    """A data file the system imports, with its downloadable blank template and what goes in each column."""

    key: str
    title: str  # msgid
    used_by: str  # msgid: where the file is imported
    links: tuple[tuple[str, str], ...]  # (label, href)
    columns: tuple[tuple[str, bool, str], ...]  # (header, required, what goes in it)


def _data_templates() -> list[DataTemplate]:
    from fangkong.testing.resultfile import COLUMNS as RESULT_COLUMNS

    english = not get_locale().startswith("zh")
    return [
        DataTemplate("lab-results", N_("Lab results"),
                     N_("The lab results upload page, and `fangkong testing import`."),
                     ((".xlsx", "/testing/template.xlsx"), (".csv", "/testing/template.csv")),
                     tuple((c.key if english else c.zh, c.required, c.help_en if english else c.help_zh)
                           for c in RESULT_COLUMNS)),
        DataTemplate("trace-cases", N_("Cases to trace"), N_("`fangkong trace --cases`: the cases whose contacts "
                                                             "are traced through a presence dataset."),
                     ((".csv", "/command/templates/trace-cases.csv"),),
                     (("person_id", True, gettext(N_("The person's number in the dataset."))),
                      ("onset_at", False, gettext(N_("Symptom onset, an ISO 8601 time in UTC such as "
                                                     "2021-01-05T08:00:00Z; empty for an asymptomatic case."))),
                      ("sampled_at", True, gettext(N_("The first positive sample, an ISO 8601 time in UTC."))),
                      ("isolated_at", False, gettext(N_("When the case was isolated, an ISO 8601 time in UTC; "
                                                        "may be empty."))))),
        DataTemplate("trace-isolations", N_("Isolation times of contacts"),
                     N_("`fangkong trace --isolations`: when contacts were isolated, which ends their own window."),
                     ((".csv", "/command/templates/trace-isolations.csv"),),
                     (("person_id", True, gettext(N_("The person's number in the dataset."))),
                      ("isolated_at", True, gettext(N_("When the person was isolated, an ISO 8601 time in UTC."))))),
    ]


# Labels of the events that instantiate task templates, and of the levels their tasks go to.
EVENT_LABELS = {
    "tracing.case_reported": N_("A case is reported (tracing)"),
    "testing.pool_positive": N_("A pool tests positive (testing)"),
}
LEVEL_LABELS = {
    "event": N_("Where the event happened"),
    "community": N_("Community"),
    "street": N_("Street"),
    "district": N_("District"),
    "city": N_("City"),
    "province": N_("Province"),
}


@pages.get("/command/templates")
def templates_page(request: Request, principal: PrincipalDep) -> Response:
    """Every data template of the system to download, and the task templates an event instantiates."""
    shipped = standards.load()
    return render(request, "command/charts/templates.html", {
        "data_templates": _data_templates(), "task_templates": shipped.templates, "clocks": shipped.clocks,
        "event_labels": EVENT_LABELS, "level_labels": LEVEL_LABELS, "task_forces": STANDARD_TASK_FORCES})


@pages.get("/command/templates/{name}.csv")
def data_template(principal: PrincipalDep, name: str) -> Response:
    """A blank CSV template of ``fangkong trace``'s input files: the header line, in UTF-8."""
    from fangkong.cli.trace import CASES_HEADER, ISOLATIONS_HEADER

    headers = {"trace-cases": CASES_HEADER, "trace-isolations": ISOLATIONS_HEADER}
    if name not in headers:
        raise NotFound(N_("There is no such page."))
    content = codecs.BOM_UTF8 + (",".join(headers[name]) + "\r\n").encode()
    return Response(content, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


# --------------------------------------------------------------------------------------------- overview


def _overview_work(session: Session) -> dict[str, Any] | None:
    """The work loop for the overview, per district (or the user's own narrower area): tasks on time and
    overdue, problems open and closed. Counts only, to whoever may count."""
    if not principal_of(session).can(Permission.AGGREGATES_READ):
        return None
    nodes: list[Jurisdiction] = []
    for root in geo.roots(session):
        if len(root.code) < Level.DISTRICT:
            nodes += session.execute(select(Jurisdiction).where(
                func.length(Jurisdiction.code) == Level.DISTRICT.value,
                Jurisdiction.code.startswith(root.code)).order_by(Jurisdiction.code)).scalars().all()
        else:
            nodes.append(root)
    now = utcnow()
    figures = loops.work_by_area(session, [n.code for n in nodes], now=now)
    total = loops.work_figures(session, now=now)
    # The city's (or the province's) own tasks and problems belong to no district: they get a row of their
    # own, so that the rows add up to the total.
    return {"rows": [(n, figures[n.code]) for n in nodes], "total": total,
            "above": loops.work_outside(total, list(figures.values())),
            "can_read": principal_of(session).can(Permission.COMMAND_READ)}


overview.register_panel(overview.Panel("command", "command/charts/_overview_work.html", _overview_work))
