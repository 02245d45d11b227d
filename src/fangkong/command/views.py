"""Pages of the command module: the inbox, directives and their plans, tasks, problems, task forces and units,
the digest and a level's dashboard (the JSON API is in ``api.py``).

Every page and form goes through the services, which go through the session's scope: a record outside the
user's jurisdiction answers 404 (audited), a write outside it 403. A form that fails comes back with the
user's input and each bad field named in their language; a form submitted twice creates once (its
``form_key``). The task page is one column on a phone: community workers report progress from theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from fangkong.command import api as command_api
from fangkong.command import attachments, clocks, organisation, problems, service
from fangkong.command import inbox as inbox_service
from fangkong.command.models import (
    Attachment,
    Directive,
    DirectiveStatus,
    Escalation,
    ItemKind,
    Measure,
    Milestone,
    OrgUnit,
    OrgUnitKind,
    OrgUnitMember,
    Problem,
    ProblemSource,
    ProblemStatus,
    ProgressReport,
    Rectification,
    Task,
    TaskForce,
    TaskForceMember,
    TaskStatus,
)
from fangkong.command.schemas import (
    AttachmentIn,
    DirectiveIn,
    HandDownIn,
    MeasureIn,
    MilestoneIn,
    OrgUnitIn,
    PartyIn,
    ProblemIn,
    ProgressIn,
    RectificationIn,
    ResponsibilityIn,
    TaskForceIn,
    TaskForceMemberIn,
    TaskIn,
)
from fangkong.core import audit, i18n
from fangkong.core.auth import Permission
from fangkong.core.db import utcnow
from fangkong.core.deps import SessionDep, requires
from fangkong.core.errors import N_, AppError, Conflict, FieldError, Forbidden, Invalid, NotFound
from fangkong.core.paging import paginate
from fangkong.core.scope import Principal, get_or_404, principal_of, system_access
from fangkong.geo.models import Jurisdiction
from fangkong.users.models import User
from fangkong.web import forms, nav
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)
api = command_api.api

nav.register(nav.NavItem("command", N_("Inbox"), "/command", Permission.COMMAND_READ, order=10))
nav.register(nav.NavItem("command", N_("Directives"), "/command/directives", Permission.COMMAND_READ, order=20))
nav.register(nav.NavItem("command", N_("Tasks"), "/command/tasks", Permission.COMMAND_READ, order=30))
nav.register(nav.NavItem("command", N_("Problems"), "/command/problems", Permission.COMMAND_READ, order=40))
nav.register(nav.NavItem("command", N_("Task forces"), "/command/task-forces", Permission.COMMAND_READ, order=50))
nav.register(nav.NavItem("command", N_("Dashboard"), "/command/dashboard", Permission.AGGREGATES_READ, order=60))

# How the command forms' fields are named in error messages.
i18n.FIELD_LABELS.update({
    "title": N_("Title"),
    "body": N_("Text"),
    "description": N_("Description"),
    "due_at": N_("Deadline"),
    "new_due_at": N_("New deadline"),
    "directive_id": N_("Directive"),
    "parent_id": N_("Parent task"),
    "task_force_id": N_("Task force"),
    "unit_id": N_("Responsible unit"),
    "co_unit_ids": N_("Co-operating units"),
    "responsibility": N_("Responsible unit or person"),
    "lead_leader": N_("Leading leader"),
    "leader_in_charge": N_("Leader in charge"),
    "assignee": N_("Named person"),
    "milestones": N_("Milestone"),
    "text": N_("Progress"),
    "percent": N_("Percent done"),
    "problem": N_("Problem found"),
    "attachments": N_("Files"),
    "outcome": N_("Outcome"),
    "evidence": N_("Evidence"),
    "verdict": N_("Verdict"),
    "passed": N_("Verification"),
    "owner_unit_id": N_("Owner unit"),
    "owner_user_id": N_("Owner"),
    "owner_name": N_("Owner"),
    "source": N_("Source"),
    "office_unit_id": N_("Office"),
    "members": N_("Members"),
    "member_user_ids": N_("Members"),
    "user_id": N_("User"),
})

Reader = Annotated[Principal, Depends(requires(Permission.COMMAND_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.COMMAND_WRITE))]
DirectivesWriter = Annotated[Principal, Depends(requires(Permission.DIRECTIVES_WRITE))]
Counter = Annotated[Principal, Depends(requires(Permission.AGGREGATES_READ))]
Files = Annotated[list[UploadFile] | None, File()]
PAGE_SIZE = 50
CHOICES = 500  # at most this many jurisdictions, units or people in a form's list


# -------------------------------------------------------------------------------------------- helpers





def _errors_of(exc: AppError) -> dict[str, FieldError]:
    """Field errors by the form field they belong to (``responsibility.assignee`` → ``assignee``)."""
    out: dict[str, FieldError] = {}
    for e in exc.errors:
        parts = [p for p in e.field.split(".") if not p.isdigit()]
        name = parts[1] if len(parts) > 1 and parts[0] == "responsibility" else parts[0] if parts else e.field
        out.setdefault(name, e)
    return out



def _files(uploads: Sequence[UploadFile] | None) -> list[AttachmentIn]:
    """The files a form sent (an empty file input sends a part with no name: not a file)."""
    out = []
    for f in uploads or ():
        if not f.filename:
            continue
        out.append(AttachmentIn(filename=f.filename[-200:], content_type=(f.content_type or
                                                                          "application/octet-stream")[:100],
                                data=f.file.read()))
    return out


def _root(request: Request) -> Any:
    return request.app.state.settings.data_dir



def _user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of the users a task or a task force names (staff, not residents)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    with system_access(session):
        return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all())


def _unit_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(wanted))).all())


def _jurisdictions(session: Session, permission: Permission, *, below: str | None = None,
                   within: str | None = None) -> list[Jurisdiction]:
    """The jurisdictions where the user holds ``permission``: strictly below ``below``, or at or under
    ``within``, when given."""
    principal = principal_of(session)
    prefixes = principal.prefixes(permission)
    stmt = select(Jurisdiction)
    if prefixes is not None:
        stmt = stmt.where(or_(*[Jurisdiction.code.startswith(p, autoescape=True) for p in prefixes])
                          if prefixes else Jurisdiction.code.is_(None))
    if below is not None:
        stmt = stmt.where(Jurisdiction.code.startswith(below, autoescape=True), Jurisdiction.code != below)
    if within is not None:
        stmt = stmt.where(Jurisdiction.code.startswith(within, autoescape=True))
    with system_access(session):
        return list(session.execute(stmt.order_by(Jurisdiction.code).limit(CHOICES)).scalars())


def _people(session: Session) -> list[tuple[int, str]]:
    """The users a form may name: those working for the units and task forces the user sees, and the users
    the user may read."""
    principal = principal_of(session)
    units = select(OrgUnit.id).where(organisation.visible(principal, OrgUnit.jurisdiction_code))
    forces = select(TaskForce.id).where(organisation.visible(principal, TaskForce.jurisdiction_code))
    ids = set(session.execute(select(OrgUnitMember.user_id).where(OrgUnitMember.unit_id.in_(units))).scalars())
    ids.update(u for u in session.execute(select(TaskForceMember.user_id).where(
        TaskForceMember.task_force_id.in_(forces))).scalars() if u is not None)
    if principal.can(Permission.USERS_READ):
        ids.update(session.execute(select(User.id).limit(CHOICES)).scalars())
    if principal.user_id is not None:
        ids.add(principal.user_id)
    names = _user_names(session, ids)
    return sorted(names.items(), key=lambda item: item[1])[:CHOICES]


def _choices(session: Session) -> dict[str, Any]:
    """What the forms choose from: units, task forces, people."""
    return {"units": organisation.units(session)[:CHOICES],
            "task_forces": organisation.task_forces(session)[:CHOICES], "people": _people(session)}


def _party(user_id: int | None, name: str) -> PartyIn | None:
    if user_id is None and not name.strip():
        return None
    return PartyIn(user_id=user_id, name=name.strip()[:60])


def _responsibility(data: dict[str, Any], errors: list[FieldError]) -> ResponsibilityIn:
    """The responsibility fields of a form (leaders, units, the named person)."""
    assignee_id = forms.chosen_id(data.get("assignee_user_id", ""), "assignee", errors)
    lead_id = forms.chosen_id(data.get("lead_leader_user_id", ""), "lead_leader", errors)
    unit_id = forms.chosen_id(data.get("unit_id", ""), "unit_id", errors)
    co_units = [int(v) for v in data.get("co_unit_ids", []) if str(v).isdigit()]
    return ResponsibilityIn(lead_leader=_party(lead_id, data.get("lead_leader_name", "")),
                            leader_in_charge=_party(None, data.get("leader_in_charge_name", "")),
                            unit_id=unit_id, co_unit_ids=co_units,
                            assignee=_party(assignee_id, data.get("assignee_name", "")))


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


# ------------------------------------------------------------------------------------------------- inbox


@pages.get("/command")
def inbox_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    """The user's inbox: their tasks, their units', measures they own, rectifications to verify, what is late."""
    now = utcnow()
    box = inbox_service.inbox(session, now=now)
    tasks = [*box.my_tasks, *box.unit_tasks, *box.overdue_tasks]
    measures = box.measures
    to_verify = box.to_verify
    return render(request, "command/inbox.html", {
        "box": box, "now": now, "escalated": _escalated_items(session, box.escalated),
        "areas": forms.area_names(session, [*(t.jurisdiction_code for t in tasks),
                                       *(m.jurisdiction_code for m in measures),
                                       *(r.jurisdiction_code for r in to_verify)]),
        "unit_names": _unit_names(session, [*(t.unit_id for t in tasks), *(m.owner_unit_id for m in measures)]),
    })


def _escalated_items(session: Session, escalations: list[Escalation]) -> list[tuple[Escalation, Any, str]]:
    """Each escalation with its item (as far as the user sees it) and the link to its page."""
    by_kind: dict[ItemKind, set[int]] = {}
    for e in escalations:
        by_kind.setdefault(e.item_kind, set()).add(e.item_id)
    found: dict[tuple[ItemKind, int], Any] = {}
    models: dict[ItemKind, Any] = {ItemKind.TASK: Task, ItemKind.PROBLEM: Problem, ItemKind.MEASURE: Measure,
                                   ItemKind.RECTIFICATION: Rectification}
    for kind, ids in by_kind.items():
        model = models[kind]
        for item in session.execute(select(model).where(model.id.in_(ids))).scalars():
            found[(kind, item.id)] = item
    out = []
    for e in escalations:
        item = found.get((e.item_kind, e.item_id))
        if e.item_kind is ItemKind.TASK:
            link = f"/command/tasks/{e.item_id}"
        elif e.item_kind is ItemKind.PROBLEM:
            link = f"/command/problems/{e.item_id}"
        elif e.item_kind is ItemKind.MEASURE and item is not None:
            link = f"/command/problems/{item.problem_id}"
        elif e.item_kind is ItemKind.RECTIFICATION and item is not None:
            link = f"/command/problems/{item.measure.problem_id}"
        else:
            link = ""
        out.append((e, item, link))
    return out


@pages.get("/command/digest")
def digest_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    """The user's daily digest: new, falling due, late, to verify, escalated, problems opened and closed."""
    if principal.user_id is None:
        raise NotFound(N_("There is no such page."))
    digest = inbox_service.digest(session, principal.user_id)
    lines = [*digest.new_assigned, *digest.due_soon, *digest.overdue_mine]
    measure_ids = {x.item_id for x in lines if x.kind == "measure"}
    measure_problems = dict(session.execute(select(Measure.id, Measure.problem_id).where(
        Measure.id.in_(measure_ids))).all()) if measure_ids else {}
    return render(request, "command/digest.html", {
        "digest": digest, "measure_problems": measure_problems,
        "areas": forms.area_names(session, (x.jurisdiction_code for x in lines))})


@pages.get("/command/dashboard")
def dashboard_page(request: Request, session: SessionDep, principal: Counter, code: str | None = None) -> Response:
    """A level's dashboard: the lists' counts by status under it, what is overdue, what was escalated to it."""
    code = (code or principal.home_code).strip()
    if not code.isdigit() or not principal.can(Permission.AGGREGATES_READ, code):
        raise NotFound(N_("There is no such page."))
    board = inbox_service.dashboard(session, code)
    parent = code[:-3] if len(code) > 6 else code[:-2] if len(code) > 2 else None
    with system_access(session):
        below = list(session.execute(select(Jurisdiction).where(Jurisdiction.parent_code == code)
                                     .order_by(Jurisdiction.code)).scalars())
    return render(request, "command/dashboard.html", {
        "board": board, "area": forms.area_names(session, [code]).get(code, code), "code": code, "below": below,
        "escalated": _escalated_items(session, board.escalated),
        "parent": parent if parent and principal.can(Permission.AGGREGATES_READ, parent) else None,
        "can_read": principal.can(Permission.COMMAND_READ, code),
        "task_statuses": list(TaskStatus), "problem_statuses": list(ProblemStatus)})


# -------------------------------------------------------------------------------------------- directives


def _directives_page(request: Request, session: Session, principal: Principal, *, page: int = 1,
                     data: dict[str, Any] | None = None, errors: dict[str, FieldError] | None = None,
                     error: AppError | None = None) -> Response:
    listed = paginate(session, select(Directive).order_by(Directive.created_at.desc(), Directive.id.desc()),
                      page=page, size=PAGE_SIZE)
    can_write = principal.can(Permission.DIRECTIVES_WRITE)
    return render(request, "command/directives.html", {
        "page": listed, "areas": forms.area_names(session, (d.jurisdiction_code for d in listed.items)),
        "can_write": can_write,
        "jurisdictions": _jurisdictions(session, Permission.DIRECTIVES_WRITE) if can_write else [],
        "data": data or {}, "errors": errors or {}, "error": error,
    }, status=error.status if error else 200)


@pages.get("/command/directives")
def directives_page(request: Request, session: SessionDep, principal: Reader, page: int = 1) -> Response:
    """The directives in the user's jurisdiction, newest first, and the form of a new one."""
    return _directives_page(request, session, principal, page=page)


@pages.post("/command/directives")
def create_directive(request: Request, session: SessionDep, principal: DirectivesWriter,
                     jurisdiction_code: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "",
                     body: Annotated[str, Form()] = "", form_key: Annotated[str, Form()] = "") -> Response:
    """A new draft directive; its plan is made on its page."""
    data = {"jurisdiction_code": jurisdiction_code, "title": title, "body": body}
    try:
        directive_in = forms.validated(DirectiveIn, data, [])
        directive = command_api.once(session, form_key or None, Directive,
                                     lambda: service.create_directive(session, directive_in))
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _directives_page(request, session, principal, data=data, errors=_errors_of(exc), error=exc)
    return _redirect(f"/command/directives/{directive.id}")


def _directive_page(request: Request, session: Session, principal: Principal, directive: Directive, *,
                    data: dict[str, Any] | None = None, errors: dict[str, FieldError] | None = None,
                    error: AppError | None = None) -> Response:
    now = utcnow()
    plan = service.plan(session, directive)
    tasks = [t for _, t in plan]
    can_write = principal.can(Permission.COMMAND_WRITE, directive.jurisdiction_code)
    return render(request, "command/directive.html", {
        "directive": directive, "plan": plan, "now": now,
        "areas": forms.area_names(session, [directive.jurisdiction_code, *(t.jurisdiction_code for t in tasks)]),
        "unit_names": _unit_names(session, (t.unit_id for t in tasks)),
        "can_issue": principal.can(Permission.DIRECTIVES_WRITE, directive.jurisdiction_code),
        "can_write": can_write and directive.status is not DirectiveStatus.CLOSED,
        "jurisdictions": _jurisdictions(session, Permission.COMMAND_WRITE, within=directive.jurisdiction_code)
        if can_write else [],
        **(_choices(session) if can_write else {"units": [], "task_forces": [], "people": []}),
        "data": data or {}, "errors": errors or {}, "error": error,
    }, status=error.status if error else 200)


@pages.get("/command/directives/{directive_id}")
def directive_page(request: Request, session: SessionDep, principal: Reader, directive_id: int) -> Response:
    """A directive and its plan (施工图) as a task tree."""
    return _directive_page(request, session, principal, service.get_directive(session, directive_id))


def _directive_action(request: Request, session: Session, principal: Principal, directive_id: int,
                      action: str) -> Response:
    directive = service.get_directive(session, directive_id)
    principal.require(Permission.DIRECTIVES_WRITE, directive.jurisdiction_code)
    try:
        if action == "issue":
            service.issue_directive(session, directive)
        else:
            service.close_directive(session, directive)
    except Conflict as exc:
        session.rollback()
        return _directive_page(request, session, principal, service.get_directive(session, directive_id),
                               error=exc)
    return _redirect(f"/command/directives/{directive.id}")


@pages.post("/command/directives/{directive_id}/issue")
def issue_directive(request: Request, session: SessionDep, principal: DirectivesWriter,
                    directive_id: int) -> Response:
    """Issue the draft directive: its assigned tasks' clocks start."""
    return _directive_action(request, session, principal, directive_id, "issue")


@pages.post("/command/directives/{directive_id}/close")
def close_directive(request: Request, session: SessionDep, principal: DirectivesWriter,
                    directive_id: int) -> Response:
    """Close the directive once every task is done or cancelled."""
    return _directive_action(request, session, principal, directive_id, "close")


@pages.post("/command/directives/{directive_id}/tasks")
async def add_plan_task(request: Request, session: SessionDep, principal: Writer, directive_id: int) -> Response:
    """Add a task to the directive's plan (under a task of it when a parent is chosen)."""
    form = await request.form()
    data: dict[str, Any] = {k: str(form.get(k, "")) for k in (
        "jurisdiction_code", "title", "description", "parent_id", "task_force_id", "due_at", "unit_id",
        "assignee_user_id", "assignee_name", "lead_leader_user_id", "lead_leader_name", "leader_in_charge_name",
        "form_key")}
    data["co_unit_ids"] = [str(v) for v in form.getlist("co_unit_ids")]
    directive = service.get_directive(session, directive_id)
    try:
        errors: list[FieldError] = []
        due_at = forms.local_time(data["due_at"], "due_at", errors)
        parent_id = forms.chosen_id(data["parent_id"], "parent_id", errors)
        force_id = forms.chosen_id(data["task_force_id"], "task_force_id", errors)
        responsibility = _responsibility(data, errors)
        task_in = forms.validated(TaskIn, {
            "jurisdiction_code": data["jurisdiction_code"], "title": data["title"],
            "description": data["description"], "directive_id": directive.id, "parent_id": parent_id,
            "task_force_id": force_id, "due_at": due_at, "responsibility": responsibility}, errors)
        command_api.once(session, data["form_key"] or None, Task, lambda: service.create_task(session, task_in))
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _directive_page(request, session, principal, service.get_directive(session, directive_id),
                               data=data, errors=_errors_of(exc), error=exc)
    return _redirect(f"/command/directives/{directive.id}")


# ------------------------------------------------------------------------------------------------- tasks


@pages.get("/command/tasks")
def tasks_page(request: Request, session: SessionDep, principal: Reader, status: str | None = None,
               under: str | None = None, overdue: bool = False, mine: bool = False, page: int = 1) -> Response:
    """The task list: by status, by area under the user's, only overdue, only the user's and their units'."""
    now = utcnow()
    if under and not under.isdigit():
        raise Invalid.field("under", N_("This value is not one of the allowed choices."))
    listed = service.page_of_tasks(session, command_api.task_list(
        session, status=forms.choice(TaskStatus, status, "status"), under=under, overdue=overdue, my_units=mine,
        now=now),
        page=page, size=PAGE_SIZE)
    filters = {"status": status or "", "under": under or "", "overdue": "1" if overdue else "",
               "mine": "1" if mine else ""}
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    areas = [j for j in _jurisdictions(session, Permission.COMMAND_READ) if len(j.code) <= 9]
    return render(request, "command/tasks.html", {
        "page": listed, "now": now, "filters": filters, "base": f"?{query}&" if query else "?",
        "statuses": list(TaskStatus), "under_choices": areas,
        "areas": forms.area_names(session, (t.jurisdiction_code for t in listed.items)),
        "unit_names": _unit_names(session, (t.unit_id for t in listed.items)),
    })


def _task_context(session: Session, principal: Principal, task: Task) -> dict[str, Any]:
    now = utcnow()
    parent = (session.execute(select(Task).where(Task.id == task.parent_id)).scalar_one_or_none()
              if task.parent_id else None)
    children = list(session.execute(select(Task).where(Task.parent_id == task.id).order_by(Task.id)).scalars())
    directive = (session.execute(select(Directive).where(Directive.id == task.directive_id)).scalar_one_or_none()
                 if task.directive_id else None)
    raised = list(session.execute(problems.problems(task_id=task.id)).scalars())
    can_write = principal.can(Permission.COMMAND_WRITE, task.jurisdiction_code)
    superior = clocks.superior(task.jurisdiction_code)
    lines = task.responsibilities
    return {
        "task": task, "now": now, "parent": parent, "children": children, "directive": directive,
        "problems": raised, "can_write": can_write,
        "can_reschedule": task.status.is_open and principal.can(Permission.COMMAND_WRITE, superior),
        "areas": forms.area_names(session, [task.jurisdiction_code, *(c.jurisdiction_code for c in children),
                                       *([parent.jurisdiction_code] if parent else [])]),
        "unit_names": _unit_names(session, [task.unit_id, *(r.unit_id for r in lines),
                                            *(c.unit_id for c in children)]),
        "user_names": _user_names(session, (r.user_id for r in lines)),
        "force": session.get(TaskForce, task.task_force_id) if task.task_force_id else None,
        "below": _jurisdictions(session, Permission.COMMAND_WRITE, below=task.jurisdiction_code)
        if can_write and task.status.is_open else [],
        **(_choices(session) if can_write else {"units": [], "task_forces": [], "people": []}),
    }


def _task_page(request: Request, session: Session, principal: Principal, task: Task, *, form: str = "",
               data: dict[str, Any] | None = None, errors: dict[str, FieldError] | None = None,
               error: AppError | None = None) -> Response:
    context = _task_context(session, principal, task)
    context.update({"form": form, "data": data or {}, "errors": errors or {}, "error": error})
    return render(request, "command/task.html", context, status=error.status if error else 200)


@pages.get("/command/tasks/{task_id}")
def task_page(request: Request, session: SessionDep, principal: Reader, task_id: int) -> Response:
    """A task: who answers for it, its deadline and milestones, progress, sub-tasks, and the actions of its state."""
    return _task_page(request, session, principal, service.get_task(session, task_id))


def _task_failed(request: Request, session: Session, principal: Principal, task_id: int, form: str,
                 data: dict[str, Any], exc: AppError) -> Response:
    session.rollback()
    return _task_page(request, session, principal, service.get_task(session, task_id), form=form, data=data,
                      errors=_errors_of(exc), error=exc)


@pages.post("/command/tasks/{task_id}/assign")
async def assign_task(request: Request, session: SessionDep, principal: Writer, task_id: int) -> Response:
    """Name who answers for the task and its deadline."""
    form = await request.form()
    data: dict[str, Any] = {k: str(form.get(k, "")) for k in (
        "due_at", "unit_id", "assignee_user_id", "assignee_name", "lead_leader_user_id", "lead_leader_name",
        "leader_in_charge_name")}
    data["co_unit_ids"] = [str(v) for v in form.getlist("co_unit_ids")]
    task = service.get_task(session, task_id)
    try:
        errors: list[FieldError] = []
        due_at = forms.local_time(data["due_at"], "due_at", errors)
        responsibility = _responsibility(data, errors)
        if errors:
            raise Invalid(N_("Please correct the marked fields."), errors=errors)
        service.assign(session, task, responsibility, due_at=due_at)
    except (Invalid, Conflict) as exc:
        return _task_failed(request, session, principal, task_id, "assign", data, exc)
    return _redirect(f"/command/tasks/{task_id}")


@pages.post("/command/tasks/{task_id}/start")
def start_task(request: Request, session: SessionDep, principal: Writer, task_id: int) -> Response:
    """Work on the task has begun."""
    task = service.get_task(session, task_id)
    try:
        service.start(session, task)
    except Conflict as exc:
        return _task_failed(request, session, principal, task_id, "start", {}, exc)
    return _redirect(f"/command/tasks/{task_id}")


@pages.post("/command/tasks/{task_id}/progress")
def report_progress(request: Request, session: SessionDep, principal: Writer, task_id: int,
                    text: Annotated[str, Form()] = "", percent: Annotated[str, Form()] = "0",
                    problem: Annotated[str, Form()] = "", form_key: Annotated[str, Form()] = "",
                    files: Files = None) -> Response:
    """A progress report, with photos or documents; it may raise a problem."""
    data = {"text": text, "percent": percent, "problem": problem}
    task = service.get_task(session, task_id)
    try:
        errors: list[FieldError] = []
        progress_in = forms.validated(ProgressIn, {"text": text, "percent": percent.strip() or "0",
                                              "problem": problem.strip() or None}, errors)
        uploads = _files(files)
        command_api.once(session, form_key or None, ProgressReport, lambda: service.report_progress(
            session, task, progress_in, files=uploads, root=_root(request)))
    except (Invalid, Conflict) as exc:
        return _task_failed(request, session, principal, task_id, "progress", data, exc)
    return _redirect(f"/command/tasks/{task_id}")


@pages.post("/command/tasks/{task_id}/complete")
def complete_task(request: Request, session: SessionDep, principal: Writer, task_id: int,
                  outcome: Annotated[str, Form()] = "", files: Files = None) -> Response:
    """The task is done: the outcome, with files."""
    task = service.get_task(session, task_id)
    try:
        service.complete(session, task, outcome=outcome, files=_files(files), root=_root(request))
    except (Invalid, Conflict) as exc:
        return _task_failed(request, session, principal, task_id, "complete", {"outcome": outcome}, exc)
    return _redirect(f"/command/tasks/{task_id}")


@pages.post("/command/tasks/{task_id}/cancel")
def cancel_task(request: Request, session: SessionDep, principal: Writer, task_id: int,
                reason: Annotated[str, Form()] = "") -> Response:
    """Withdraw the task and its open sub-tasks."""
    task = service.get_task(session, task_id)
    try:
        service.cancel(session, task, reason=reason)
    except (Invalid, Conflict) as exc:
        return _task_failed(request, session, principal, task_id, "cancel", {"reason": reason}, exc)
    return _redirect(f"/command/tasks/{task_id}")


@pages.post("/command/tasks/{task_id}/reschedule")
def reschedule_task(request: Request, session: SessionDep, principal: Writer, task_id: int,
                    due_at: Annotated[str, Form()] = "") -> Response:
    """A new deadline from the level above."""
    task = service.get_task(session, task_id)
    try:
        errors: list[FieldError] = []
        when = forms.local_time(due_at, "due_at", errors)
        if when is None and not errors:
            errors.append(FieldError("due_at", N_("This field is required.")))
        if errors:
            raise Invalid(N_("Please correct the marked fields."), errors=errors)
        assert when is not None
        service.reschedule(session, task, when)
    except (Invalid, Conflict) as exc:
        return _task_failed(request, session, principal, task_id, "reschedule", {"due_at": due_at}, exc)
    return _redirect(f"/command/tasks/{task_id}")


@pages.post("/command/tasks/{task_id}/hand-down")
async def hand_down(request: Request, session: SessionDep, principal: Writer, task_id: int) -> Response:
    """Hand the task down to a level below: a child task there, linked to this one."""
    form = await request.form()
    data: dict[str, Any] = {k: str(form.get(k, "")) for k in (
        "jurisdiction_code", "title", "due_at", "unit_id", "assignee_user_id", "assignee_name",
        "lead_leader_user_id", "lead_leader_name", "leader_in_charge_name", "form_key")}
    data["co_unit_ids"] = [str(v) for v in form.getlist("co_unit_ids")]
    task = service.get_task(session, task_id)
    try:
        errors: list[FieldError] = []
        due_at = forms.local_time(data["due_at"], "due_at", errors)
        responsibility = _responsibility(data, errors)
        hand_in = forms.validated(HandDownIn, {
            "jurisdiction_code": data["jurisdiction_code"], "title": data["title"].strip() or None, "due_at": due_at,
            "responsibility": responsibility if responsibility.is_assigned else None}, errors)
        child = command_api.once(session, data["form_key"] or None, Task,
                                 lambda: service.hand_down(session, task, hand_in))
    except (Invalid, Conflict) as exc:
        return _task_failed(request, session, principal, task_id, "hand_down", data, exc)
    return _redirect(f"/command/tasks/{child.id}")


@pages.post("/command/tasks/{task_id}/milestones")
def add_milestone(request: Request, session: SessionDep, principal: Writer, task_id: int,
                  title: Annotated[str, Form()] = "", due_at: Annotated[str, Form()] = "") -> Response:
    """A milestone of the task."""
    data = {"title": title, "due_at": due_at}
    task = service.get_task(session, task_id)
    try:
        errors: list[FieldError] = []
        when = forms.local_time(due_at, "due_at", errors)
        milestone_in = forms.validated(MilestoneIn, {"title": title, "due_at": when}, errors)
        if not task.status.is_open and task.status is not TaskStatus.DRAFT:
            raise Conflict(N_("This task is not open: it is {status}."), status=task.status.label)
        service.add_milestone(session, task, milestone_in)
    except (Invalid, Conflict) as exc:
        if any(e.field == "milestones" for e in exc.errors):
            exc.errors = [FieldError("due_at", e.message, e.params) for e in exc.errors]
        return _task_failed(request, session, principal, task_id, "milestone", data, exc)
    return _redirect(f"/command/tasks/{task_id}")


@pages.post("/command/milestones/{milestone_id}/reach")
def reach_milestone(request: Request, session: SessionDep, principal: Writer, milestone_id: int) -> Response:
    """The milestone is reached."""
    milestone = get_or_404(session, Milestone, milestone_id, what=N_("No such milestone."))
    try:
        service.reach_milestone(session, milestone)
    except Conflict as exc:
        return _task_failed(request, session, principal, milestone.task_id, "milestone", {}, exc)
    return _redirect(f"/command/tasks/{milestone.task_id}")


@pages.get("/command/attachments/{attachment_id}")
def download_attachment(request: Request, session: SessionDep, principal: Reader, attachment_id: int) -> Response:
    """A file of a progress report or a rectification; every download is in the audit log."""
    attachment = get_or_404(session, Attachment, attachment_id, what=N_("No such file."))
    path = attachments.open_file(attachment, root=_root(request))
    if not path.exists():
        raise NotFound(N_("No such file."))
    audit.record(session, audit.Action.EXPORT, entity=attachment,
                 detail={"filename": attachment.filename, "report_id": attachment.report_id,
                         "rectification_id": attachment.rectification_id})
    return FileResponse(path, media_type=attachment.content_type, filename=attachment.filename,
                        content_disposition_type="attachment")


# ---------------------------------------------------------------------------------------------- problems


def _problems_page(request: Request, session: Session, principal: Principal, *, status: str | None = None,
                   source: str | None = None, under: str | None = None, overdue: bool = False, page: int = 1,
                   data: dict[str, Any] | None = None, errors: dict[str, FieldError] | None = None,
                   error: AppError | None = None) -> Response:
    now = utcnow()
    if under and not under.isdigit():
        raise Invalid.field("under", N_("This value is not one of the allowed choices."))
    listed = paginate(session, problems.problems(status=forms.choice(ProblemStatus, status, "status"),
                                                 source=forms.choice(ProblemSource, source, "source"),
                                                 under=under or None, overdue=overdue, now=now),
                      page=page, size=PAGE_SIZE)
    filters = {"status": status or "", "source": source or "", "under": under or "",
               "overdue": "1" if overdue else ""}
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    can_write = principal.can(Permission.COMMAND_WRITE)
    return render(request, "command/problems.html", {
        "page": listed, "now": now, "filters": filters, "base": f"?{query}&" if query else "?",
        "statuses": list(ProblemStatus), "sources": list(ProblemSource),
        "under_choices": [j for j in _jurisdictions(session, Permission.COMMAND_READ) if len(j.code) <= 9],
        "areas": forms.area_names(session, (p.jurisdiction_code for p in listed.items)),
        "unit_names": _unit_names(session, (p.unit_id for p in listed.items)), "can_write": can_write,
        "jurisdictions": _jurisdictions(session, Permission.COMMAND_WRITE) if can_write else [],
        **(_choices(session) if can_write else {"units": [], "task_forces": [], "people": []}),
        "data": data or {}, "errors": errors or {}, "error": error,
    }, status=error.status if error else 200)


@pages.get("/command/problems")
def problems_page(request: Request, session: SessionDep, principal: Reader, status: str | None = None,
                  source: str | None = None, under: str | None = None, overdue: bool = False,
                  page: int = 1) -> Response:
    """The problem list by status and source, and the form to file one by hand."""
    return _problems_page(request, session, principal, status=status, source=source, under=under,
                          overdue=overdue, page=page)


@pages.post("/command/problems")
def file_problem(request: Request, session: SessionDep, principal: Writer,
                 jurisdiction_code: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "",
                 description: Annotated[str, Form()] = "", unit_id: Annotated[str, Form()] = "",
                 task_force_id: Annotated[str, Form()] = "", due_at: Annotated[str, Form()] = "",
                 form_key: Annotated[str, Form()] = "") -> Response:
    """File a problem by hand."""
    data = {"jurisdiction_code": jurisdiction_code, "title": title, "description": description,
            "unit_id": unit_id, "task_force_id": task_force_id, "due_at": due_at}
    try:
        errors: list[FieldError] = []
        problem_in = forms.validated(ProblemIn, {
            "jurisdiction_code": jurisdiction_code, "title": title, "description": description,
            "source": ProblemSource.MANUAL, "unit_id": forms.chosen_id(unit_id, "unit_id", errors),
            "task_force_id": forms.chosen_id(task_force_id, "task_force_id", errors),
            "due_at": forms.local_time(due_at, "due_at", errors)}, errors)
        problem = command_api.once(session, form_key or None, Problem,
                                   lambda: problems.file_problem(session, problem_in))
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _problems_page(request, session, principal, data=data, errors=_errors_of(exc), error=exc)
    return _redirect(f"/command/problems/{problem.id}")


def _problem_page(request: Request, session: Session, principal: Principal, problem: Problem, *,
                  form: str = "", form_id: int | None = None, data: dict[str, Any] | None = None,
                  errors: dict[str, FieldError] | None = None, error: AppError | None = None) -> Response:
    now = utcnow()
    can_write = principal.can(Permission.COMMAND_WRITE, problem.jurisdiction_code)
    measures = problem.measures
    task = (session.execute(select(Task).where(Task.id == problem.task_id)).scalar_one_or_none()
            if problem.task_id else None)
    all_verified = bool(measures) and all(m.status.value == "verified" for m in measures)
    return render(request, "command/problem.html", {
        "problem": problem, "measures": measures, "task": task, "now": now, "can_write": can_write,
        "can_close": can_write and problem.status is not ProblemStatus.CLOSED and all_verified,
        "areas": forms.area_names(session, [problem.jurisdiction_code]),
        "unit_names": _unit_names(session, [problem.unit_id, *(m.owner_unit_id for m in measures)]),
        "user_names": _user_names(session, [*(m.owner_user_id for m in measures), problem.reported_by_id]),
        "force": session.get(TaskForce, problem.task_force_id) if problem.task_force_id else None,
        "me": principal.user_id,
        **(_choices(session) if can_write else {"units": [], "task_forces": [], "people": []}),
        "form": form, "form_id": form_id, "data": data or {}, "errors": errors or {}, "error": error,
    }, status=error.status if error else 200)


@pages.get("/command/problems/{problem_id}")
def problem_page(request: Request, session: SessionDep, principal: Reader, problem_id: int) -> Response:
    """A problem: its measures, their rectifications and verification."""
    return _problem_page(request, session, principal, problems.get_problem(session, problem_id))


def _problem_failed(request: Request, session: Session, principal: Principal, problem_id: int, form: str,
                    data: dict[str, Any], exc: AppError, form_id: int | None = None) -> Response:
    session.rollback()
    return _problem_page(request, session, principal, problems.get_problem(session, problem_id), form=form,
                         form_id=form_id, data=data, errors=_errors_of(exc), error=exc)


@pages.post("/command/problems/{problem_id}/measures")
def add_measure(request: Request, session: SessionDep, principal: Writer, problem_id: int,
                title: Annotated[str, Form()] = "", owner_unit_id: Annotated[str, Form()] = "",
                owner_user_id: Annotated[str, Form()] = "", owner_name: Annotated[str, Form()] = "",
                due_at: Annotated[str, Form()] = "", form_key: Annotated[str, Form()] = "") -> Response:
    """A measure against the problem, with its owner and deadline."""
    data = {"title": title, "owner_unit_id": owner_unit_id, "owner_user_id": owner_user_id,
            "owner_name": owner_name, "due_at": due_at}
    problem = problems.get_problem(session, problem_id)
    try:
        errors: list[FieldError] = []
        measure_in = forms.validated(MeasureIn, {
            "title": title, "owner_unit_id": forms.chosen_id(owner_unit_id, "owner_unit_id", errors),
            "owner_user_id": forms.chosen_id(owner_user_id, "owner_user_id", errors), "owner_name": owner_name.strip(),
            "due_at": forms.local_time(due_at, "due_at", errors)}, errors)
        command_api.once(session, form_key or None, Measure, lambda: problems.add_measure(session, problem,
                                                                                            measure_in))
    except (Invalid, Conflict) as exc:
        return _problem_failed(request, session, principal, problem_id, "measure", data, exc)
    return _redirect(f"/command/problems/{problem_id}")


@pages.post("/command/problems/{problem_id}/close")
def close_problem(request: Request, session: SessionDep, principal: Writer, problem_id: int) -> Response:
    """Close the problem: only when every measure's rectification is verified."""
    problem = problems.get_problem(session, problem_id)
    try:
        problems.close_problem(session, problem)
    except Conflict as exc:
        return _problem_failed(request, session, principal, problem_id, "close", {}, exc)
    return _redirect(f"/command/problems/{problem_id}")


@pages.post("/command/measures/{measure_id}/rectifications")
def submit_rectification(request: Request, session: SessionDep, principal: Writer, measure_id: int,
                         evidence: Annotated[str, Form()] = "", form_key: Annotated[str, Form()] = "",
                         files: Files = None) -> Response:
    """The measure is carried out: the evidence, described and as files."""
    measure = problems.get_measure(session, measure_id)
    problem_id = measure.problem_id
    try:
        rect_in = forms.validated(RectificationIn, {"evidence": evidence}, [])
        uploads = _files(files)
        command_api.once(session, form_key or None, Rectification, lambda: problems.submit_rectification(
            session, measure, rect_in, files=uploads, root=_root(request)))
    except (Invalid, Conflict) as exc:
        return _problem_failed(request, session, principal, problem_id, "rectification", {"evidence": evidence},
                               exc, form_id=measure_id)
    return _redirect(f"/command/problems/{problem_id}")


@pages.post("/command/rectifications/{rectification_id}/verify")
def verify(request: Request, session: SessionDep, principal: Writer, rectification_id: int,
           passed: Annotated[str, Form()] = "", verdict: Annotated[str, Form()] = "",
           new_due_at: Annotated[str, Form()] = "") -> Response:
    """Verify the rectification: passed, or failed with a verdict (and perhaps a new deadline)."""
    rect = problems.get_rectification(session, rectification_id)
    problem_id = rect.measure.problem_id
    data = {"passed": passed, "verdict": verdict, "new_due_at": new_due_at}
    try:
        errors: list[FieldError] = []
        if passed not in ("yes", "no"):
            errors.append(FieldError("passed", N_("Choose whether the rectification passes.")))
        when = forms.local_time(new_due_at, "new_due_at", errors)
        if errors:
            raise Invalid(N_("Please correct the marked fields."), errors=errors)
        problems.verify(session, rect, passed=passed == "yes", verdict=verdict, new_due_at=when)
    except (Invalid, Conflict, Forbidden) as exc:
        # The service refuses who did the work, with its reason: shown on the problem's page.
        return _problem_failed(request, session, principal, problem_id, "verify", data, exc,
                               form_id=rectification_id)
    return _redirect(f"/command/problems/{problem_id}")


# ------------------------------------------------------------------------------------- task forces, units


def _task_forces_page(request: Request, session: Session, principal: Principal, *,
                      data: dict[str, Any] | None = None, errors: dict[str, FieldError] | None = None,
                      error: AppError | None = None) -> Response:
    forces = organisation.task_forces(session)
    can_write = principal.can(Permission.DIRECTIVES_WRITE)
    return render(request, "command/task_forces.html", {
        "forces": forces, "areas": forms.area_names(session, (f.jurisdiction_code for f in forces)),
        "unit_names": _unit_names(session, (f.office_unit_id for f in forces)),
        "user_names": _user_names(session, [*(f.lead_leader_user_id for f in forces),
                                            *(f.in_charge_user_id for f in forces)]),
        "can_write": can_write, "standard": organisation.STANDARD_TASK_FORCES,
        "jurisdictions": _jurisdictions(session, Permission.DIRECTIVES_WRITE) if can_write else [],
        **(_choices(session) if can_write else {"units": [], "task_forces": [], "people": []}),
        "data": data or {}, "errors": errors or {}, "error": error,
    }, status=error.status if error else 200)


@pages.get("/command/task-forces")
def task_forces_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    """The task forces the user sees (their own levels' and those above), and the form of a new one."""
    return _task_forces_page(request, session, principal)


def _task_force_in(form: Any, errors: list[FieldError], *, jurisdiction_code: str) -> tuple[TaskForceIn | None,
                                                                                            dict[str, Any]]:
    """A task force from its form: leaders, office, member units, member users, and named members."""
    data: dict[str, Any] = {k: str(form.get(k, "")) for k in (
        "jurisdiction_code", "name", "key", "lead_leader_user_id", "lead_leader_name", "in_charge_user_id",
        "in_charge_name", "office_unit_id", "member_names", "form_key")}
    data["member_unit_ids"] = [str(v) for v in form.getlist("member_unit_ids")]
    data["member_user_ids"] = [str(v) for v in form.getlist("member_user_ids")]
    members = [TaskForceMemberIn(unit_id=int(u)) for u in data["member_unit_ids"] if u.isdigit()]
    members += [TaskForceMemberIn(user_id=int(u)) for u in data["member_user_ids"] if u.isdigit()]
    for line in data["member_names"].splitlines():
        name, _, duty = line.partition("—" if "—" in line else "-")
        if name.strip():
            members.append(TaskForceMemberIn(name=name.strip()[:60], duty=duty.strip()[:80]))
    parsed = forms.validated(TaskForceIn, {
        "jurisdiction_code": jurisdiction_code, "name": data["name"], "key": data["key"] or None,
        "lead_leader": _party(forms.chosen_id(data["lead_leader_user_id"], "lead_leader", errors),
                              data["lead_leader_name"]),
        "leader_in_charge": _party(forms.chosen_id(data["in_charge_user_id"], "leader_in_charge", errors),
                                   data["in_charge_name"]),
        "office_unit_id": forms.chosen_id(data["office_unit_id"], "office_unit_id", errors),
        "members": members}, errors)
    return parsed, data


@pages.post("/command/task-forces")
async def create_task_force(request: Request, session: SessionDep, principal: DirectivesWriter) -> Response:
    """A new task force."""
    form = await request.form()
    data: dict[str, Any] = {}
    try:
        errors: list[FieldError] = []
        force_in, data = _task_force_in(form, errors, jurisdiction_code=str(form.get("jurisdiction_code", "")))
        if force_in is not None and force_in.key is not None and force_in.key not in organisation.STANDARD_TASK_FORCES:
            raise Invalid.field("key", N_("This value is not one of the allowed choices."))
        assert force_in is not None
        force = organisation.create_task_force(session, force_in)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _task_forces_page(request, session, principal, data=data, errors=_errors_of(exc), error=exc)
    return _redirect(f"/command/task-forces/{force.id}")


def _task_force_page(request: Request, session: Session, principal: Principal, force: TaskForce, *,
                     page: int = 1, data: dict[str, Any] | None = None, errors: dict[str, FieldError] | None = None,
                     error: AppError | None = None) -> Response:
    now = utcnow()
    listed = service.page_of_tasks(session, service.tasks(task_force_id=force.id), page=page, size=PAGE_SIZE)
    can_write = principal.can(Permission.DIRECTIVES_WRITE, force.jurisdiction_code)
    members = force.members
    return render(request, "command/task_force.html", {
        "force": force, "page": listed, "now": now, "base": "?",
        "areas": forms.area_names(session, [force.jurisdiction_code, *(t.jurisdiction_code for t in listed.items)]),
        "unit_names": _unit_names(session, [force.office_unit_id, *(m.unit_id for m in members),
                                            *(t.unit_id for t in listed.items)]),
        "user_names": _user_names(session, [force.lead_leader_user_id, force.in_charge_user_id,
                                            *(m.user_id for m in members)]),
        "can_write": can_write,
        **(_choices(session) if can_write else {"units": [], "task_forces": [], "people": []}),
        "data": data or {}, "errors": errors or {}, "error": error,
    }, status=error.status if error else 200)


@pages.get("/command/task-forces/{task_force_id}")
def task_force_page(request: Request, session: SessionDep, principal: Reader, task_force_id: int,
                    page: int = 1) -> Response:
    """A task force: its leaders, office, member units and people, and the tasks it owns."""
    return _task_force_page(request, session, principal, organisation.get_task_force(session, task_force_id),
                            page=page)


@pages.post("/command/task-forces/{task_force_id}")
async def update_task_force(request: Request, session: SessionDep, principal: DirectivesWriter,
                            task_force_id: int) -> Response:
    """Change the task force's name, leaders, office and members."""
    force = organisation.get_task_force(session, task_force_id)
    form = await request.form()
    data: dict[str, Any] = {}
    try:
        errors: list[FieldError] = []
        force_in, data = _task_force_in(form, errors, jurisdiction_code=force.jurisdiction_code)
        assert force_in is not None
        organisation.update_task_force(session, force, force_in)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _task_force_page(request, session, principal, organisation.get_task_force(session, task_force_id),
                                data=data, errors=_errors_of(exc), error=exc)
    return _redirect(f"/command/task-forces/{task_force_id}")


def _units_page(request: Request, session: Session, principal: Principal, *, data: dict[str, Any] | None = None,
                errors: dict[str, FieldError] | None = None, error: AppError | None = None) -> Response:
    units = organisation.units(session)
    can_write = principal.can(Permission.DIRECTIVES_WRITE)
    return render(request, "command/units.html", {
        "units": units, "areas": forms.area_names(session, (u.jurisdiction_code for u in units)),
        "unit_names": {u.id: u.name for u in units}, "kinds": list(OrgUnitKind), "can_write": can_write,
        "jurisdictions": _jurisdictions(session, Permission.DIRECTIVES_WRITE) if can_write else [],
        "people": _people(session) if can_write else [],
        "data": data or {}, "errors": errors or {}, "error": error,
    }, status=error.status if error else 200)


@pages.get("/command/units")
def units_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    """The responsible and co-operating units the user sees, and the form of a new one."""
    return _units_page(request, session, principal)


@pages.post("/command/units")
async def create_unit(request: Request, session: SessionDep, principal: DirectivesWriter) -> Response:
    """A new unit, with the users who work for it."""
    form = await request.form()
    data: dict[str, Any] = {k: str(form.get(k, "")) for k in ("jurisdiction_code", "name", "kind", "parent_id")}
    data["member_user_ids"] = [str(v) for v in form.getlist("member_user_ids")]
    try:
        errors: list[FieldError] = []
        unit_in = forms.validated(OrgUnitIn, {
            "jurisdiction_code": data["jurisdiction_code"], "name": data["name"], "kind": data["kind"],
            "parent_id": forms.chosen_id(data["parent_id"], "parent_id", errors),
            "member_user_ids": [int(u) for u in data["member_user_ids"] if u.isdigit()]}, errors)
        unit = organisation.create_unit(session, unit_in)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _units_page(request, session, principal, data=data, errors=_errors_of(exc), error=exc)
    return _redirect(f"/command/units/{unit.id}")


def _unit_page(request: Request, session: Session, principal: Principal, unit: OrgUnit, *, page: int = 1,
               errors: dict[str, FieldError] | None = None, error: AppError | None = None) -> Response:
    now = utcnow()
    listed = service.page_of_tasks(session, service.tasks(unit_id=unit.id), page=page, size=PAGE_SIZE)
    can_write = principal.can(Permission.DIRECTIVES_WRITE, unit.jurisdiction_code)
    open_problems = session.execute(select(func.count()).select_from(Problem).where(
        Problem.unit_id == unit.id, Problem.status != ProblemStatus.CLOSED)).scalar_one()
    return render(request, "command/unit.html", {
        "unit": unit, "page": listed, "now": now, "base": "?", "open_problems": open_problems,
        "areas": forms.area_names(session, [unit.jurisdiction_code, *(t.jurisdiction_code for t in listed.items)]),
        "unit_names": _unit_names(session, [unit.parent_id, *(t.unit_id for t in listed.items)]),
        "user_names": _user_names(session, (m.user_id for m in unit.members)),
        "can_write": can_write, "people": _people(session) if can_write else [],
        "errors": errors or {}, "error": error,
    }, status=error.status if error else 200)


@pages.get("/command/units/{unit_id}")
def unit_page(request: Request, session: SessionDep, principal: Reader, unit_id: int, page: int = 1) -> Response:
    """A unit: who works for it and the tasks it is responsible for."""
    return _unit_page(request, session, principal, organisation.get_unit(session, unit_id), page=page)


@pages.post("/command/units/{unit_id}/members")
def add_unit_member(request: Request, session: SessionDep, principal: DirectivesWriter, unit_id: int,
                    user_id: Annotated[str, Form()] = "") -> Response:
    """Make a user a member of the unit: its work is in their inbox from then on."""
    unit = organisation.get_unit(session, unit_id)
    try:
        errors: list[FieldError] = []
        chosen = forms.chosen_id(user_id, "user_id", errors)
        if chosen is None and not errors:
            errors.append(FieldError("user_id", N_("This field is required.")))
        if errors:
            raise Invalid(N_("Please correct the marked fields."), errors=errors)
        assert chosen is not None
        organisation.add_unit_member(session, unit, chosen)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _unit_page(request, session, principal, organisation.get_unit(session, unit_id),
                          errors=_errors_of(exc), error=exc)
    return _redirect(f"/command/units/{unit_id}")
