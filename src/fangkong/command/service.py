"""Directives and the task loop (任务清单): plans of tasks, responsibilities, hand-downs, progress, done.

The loop: a task is a draft until someone answers for it (a responsible unit or a named person) and it
has a deadline; then it is assigned, in progress from its first progress report, and done with a final
report; a task whose clock runs out is overdue (``clocks.check``) and still gets done, late. A task can
be handed down to a level below: the child is the lower level's task, linked to its parent, which the
level above keeps seeing (the scope is a code prefix). Every write is scoped: a district writes its own
and its communities' work, never a neighbour's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.base import ExecutableOption

from fangkong.command import attachments, clocks, organisation, problems
from fangkong.command.models import (
    OPEN_TASK_STATUSES,
    Directive,
    DirectiveStatus,
    ItemKind,
    Milestone,
    ProblemSource,
    ProgressReport,
    Responsibility,
    ResponsibilityRole,
    Task,
    TaskOrigin,
    TaskStatus,
)
from fangkong.command.schemas import (
    AttachmentIn,
    DirectiveIn,
    HandDownIn,
    MilestoneIn,
    PartyIn,
    ProblemIn,
    ProgressIn,
    ResponsibilityIn,
    TaskIn,
)
from fangkong.core.auth import Permission
from fangkong.core.db import utcnow
from fangkong.core.errors import N_, Conflict, Invalid
from fangkong.core.paging import Page, paginate
from fangkong.core.scope import covers, get_or_404, prefix_range, principal_of

# -------------------------------------------------------------------------------------------- directives


def create_directive(session: Session, data: DirectiveIn) -> Directive:
    """A draft directive of the headquarters at ``data.jurisdiction_code`` (``directives:write`` there)."""
    principal = principal_of(session)
    principal.require(Permission.DIRECTIVES_WRITE, data.jurisdiction_code)
    directive = Directive(jurisdiction_code=data.jurisdiction_code, title=data.title.strip(), body=data.body,
                          created_by_id=principal.user_id)
    session.add(directive)
    session.flush()
    return directive


def get_directive(session: Session, directive_id: int) -> Directive:
    """A directive the principal may read (``NotFound`` otherwise)."""
    return get_or_404(session, Directive, directive_id, what=N_("No such directive."))


def issue_directive(session: Session, directive: Directive, *, now: datetime | None = None) -> Directive:
    """Issue a draft directive: its tasks that name who answers for them are assigned, their clocks start."""
    now = now or utcnow()
    if directive.status is not DirectiveStatus.DRAFT:
        raise Conflict(N_("Only a draft directive can be issued."))
    principal = principal_of(session)
    directive.status = DirectiveStatus.ISSUED
    directive.issued_at = now
    directive.issued_by_id = principal.user_id
    for task in directive.tasks:
        if task.status is TaskStatus.DRAFT and _is_assigned(task) and task.due_at is not None:
            task.move_to(TaskStatus.ASSIGNED, now)
    session.flush()
    return directive


def close_directive(session: Session, directive: Directive) -> Directive:
    """Close an issued directive whose tasks are all done or cancelled."""
    if directive.status is not DirectiveStatus.ISSUED:
        raise Conflict(N_("Only an issued directive can be closed."))
    with_open = session.execute(select(Task.id).where(Task.directive_id == directive.id,
                                                      Task.status.in_([*OPEN_TASK_STATUSES, TaskStatus.DRAFT]))
                                ).first()
    if with_open is not None:
        raise Conflict(N_("The directive still has open tasks."))
    directive.status = DirectiveStatus.CLOSED
    session.flush()
    return directive


# ------------------------------------------------------------------------------------------------- tasks


def get_task(session: Session, task_id: int) -> Task:
    """A task the principal may read (``NotFound`` otherwise)."""
    return get_or_404(session, Task, task_id, what=N_("No such task."))


def create_task(session: Session, data: TaskIn, *, origin: TaskOrigin | None = None,
                now: datetime | None = None) -> Task:
    """A task of a directive's plan, a sub-task of another task, or one on its own.

    It is assigned at once when it names who answers for it and has a deadline, unless its directive is
    still a draft (issuing the directive assigns it then).
    """
    now = now or utcnow()
    principal = principal_of(session)
    principal.require(Permission.COMMAND_WRITE, data.jurisdiction_code)
    directive = parent = None
    if data.directive_id is not None:
        directive = get_directive(session, data.directive_id)
        if directive.status is DirectiveStatus.CLOSED:
            raise Conflict(N_("The directive is closed."))
        if not covers(directive.jurisdiction_code, data.jurisdiction_code):
            raise Invalid.field("jurisdiction_code", N_("The task lies outside the directive's jurisdiction."))
    if data.parent_id is not None:
        parent = get_task(session, data.parent_id)
        if not covers(parent.jurisdiction_code, data.jurisdiction_code):
            raise Invalid.field("jurisdiction_code", N_("A sub-task lies inside its parent's jurisdiction."))
        # A draft directive's plan is drawn as a tree before it is issued: its draft tasks take sub-tasks.
        drafting = (parent.status is TaskStatus.DRAFT and parent.directive is not None
                    and parent.directive.status is DirectiveStatus.DRAFT)
        if not drafting:
            _check_open(parent)
    due_at = data.due_at
    _check_deadline(due_at, starts_at=data.starts_at, parent=parent)
    if data.task_force_id is not None:
        organisation.get_task_force(session, data.task_force_id)
    task = Task(jurisdiction_code=data.jurisdiction_code, title=data.title.strip(), description=data.description,
                directive_id=directive.id if directive else (parent.directive_id if parent else None),
                parent_id=parent.id if parent else None, task_force_id=data.task_force_id,
                starts_at=data.starts_at, due_at=due_at, created_by_id=principal.user_id,
                origin=origin or (TaskOrigin.DIRECTIVE if directive else TaskOrigin.MANUAL))
    session.add(task)
    session.flush()
    for m in data.milestones:
        add_milestone(session, task, m)
    if data.responsibility is not None:
        _set_responsibility(session, task, data.responsibility)
    is_draft_plan = directive is not None and directive.status is DirectiveStatus.DRAFT
    if not is_draft_plan and _is_assigned(task) and task.due_at is not None:
        task.move_to(TaskStatus.ASSIGNED, now)
    session.flush()
    return task


def assign(session: Session, task: Task, responsibility: ResponsibilityIn, *, due_at: datetime | None = None,
           now: datetime | None = None) -> Task:
    """Name who answers for a task (replacing who did), and its deadline; a draft becomes assigned."""
    now = now or utcnow()
    if task.status in (TaskStatus.DONE, TaskStatus.CANCELLED):
        raise Conflict(N_("This task is finished."))
    if not responsibility.is_assigned:
        raise Invalid.field("responsibility", N_("Name a responsible unit or a person."))
    if due_at is not None:
        _check_deadline(due_at, starts_at=task.starts_at, parent=task.parent)
        task.due_at = due_at
    if task.due_at is None:
        raise Invalid.field("due_at", N_("A task needs a deadline."))
    _set_responsibility(session, task, responsibility)
    draft_plan = task.directive is not None and task.directive.status is DirectiveStatus.DRAFT
    if task.status is TaskStatus.DRAFT and not draft_plan:
        task.move_to(TaskStatus.ASSIGNED, now)
    session.flush()
    return task


def hand_down(session: Session, task: Task, data: HandDownIn, *, now: datetime | None = None) -> Task:
    """Hand a task down to a level below (省→市→区→社区): a child task there, linked to this one.

    The child keeps the directive and the task force, and by default the title and the deadline; it
    cannot be due later than its parent. The parent is in progress from then on.
    """
    now = now or utcnow()
    _check_open(task)
    if data.jurisdiction_code == task.jurisdiction_code or not covers(task.jurisdiction_code, data.jurisdiction_code):
        raise Invalid.field("jurisdiction_code", N_("A task is handed down to a level below its own."))
    child = create_task(session, TaskIn(
        jurisdiction_code=data.jurisdiction_code, title=data.title or task.title,
        description=data.description or task.description, parent_id=task.id,
        task_force_id=data.task_force_id or task.task_force_id, due_at=data.due_at or task.due_at,
        responsibility=data.responsibility), origin=TaskOrigin.HANDED_DOWN, now=now)
    if task.template_key is not None and data.title is None:
        # The title is the template's msgid: the child is shown in the reader's language too.
        child.template_key, child.source_key = task.template_key, task.source_key
    if task.status is TaskStatus.ASSIGNED:
        task.move_to(TaskStatus.IN_PROGRESS, now)
    session.flush()
    return child


def start(session: Session, task: Task, *, now: datetime | None = None) -> Task:
    """Work on an assigned task has begun."""
    task.move_to(TaskStatus.IN_PROGRESS, now or utcnow())
    session.flush()
    return task


def report_progress(session: Session, task: Task, data: ProgressIn, *, files: Sequence[AttachmentIn] = (),
                    now: datetime | None = None, root: Path | None = None) -> ProgressReport:
    """A progress report, with attachments; an assigned task is in progress from then on.

    ``data.problem`` files a problem from the report (source ``progress_report``), in the task's
    jurisdiction, for its responsible unit and task force.
    """
    now = now or utcnow()
    _check_open(task)
    if not data.text.strip() and not files and data.problem is None:
        raise Invalid.field("text", N_("Say what has been done."))
    report = _report(session, task, text=data.text, percent=data.percent, files=files, now=now, root=root)
    if task.status is TaskStatus.ASSIGNED:
        task.move_to(TaskStatus.IN_PROGRESS, now)
    task.progress = data.percent
    if data.problem is not None:
        problems.file_problem(session, ProblemIn(
            jurisdiction_code=task.jurisdiction_code, title=data.problem, description=data.text,
            source=ProblemSource.PROGRESS_REPORT, task_id=task.id, unit_id=task.unit_id,
            task_force_id=task.task_force_id, found_at=now), report_id=report.id, now=now)
    session.flush()
    return report


def complete(session: Session, task: Task, *, outcome: str, files: Sequence[AttachmentIn] = (),
             now: datetime | None = None, root: Path | None = None) -> Task:
    """The task is done: a final report with the outcome. Every sub-task must be done (or cancelled) first."""
    now = now or utcnow()
    _check_open(task)
    if not outcome.strip():
        raise Invalid.field("outcome", N_("Say what was achieved."))
    if any(c.status not in (TaskStatus.DONE, TaskStatus.CANCELLED) for c in _children(session, task)):
        raise Conflict(N_("The task has sub-tasks that are not done."))
    _report(session, task, text=outcome, percent=100, files=files, now=now, root=root, is_final=True)
    task.move_to(TaskStatus.DONE, now)
    task.progress = 100
    task.outcome = outcome
    clocks.resolve(session, ItemKind.TASK, task.id, now)
    session.flush()
    return task


def cancel(session: Session, task: Task, *, reason: str, now: datetime | None = None) -> Task:
    """Withdraw a task and its open sub-tasks (the reason goes into the record)."""
    now = now or utcnow()
    if not reason.strip():
        raise Invalid.field("reason", N_("Give a reason."))
    for child in _children(session, task):
        if child.status not in (TaskStatus.DONE, TaskStatus.CANCELLED):
            cancel(session, child, reason=reason, now=now)
    task.move_to(TaskStatus.CANCELLED, now)
    task.outcome = reason
    clocks.resolve(session, ItemKind.TASK, task.id, now)
    session.flush()
    return task


def reschedule(session: Session, task: Task, due_at: datetime, *, now: datetime | None = None) -> Task:
    """A new deadline, set by the level above the task's (督办): an overdue task's clock runs again."""
    now = now or utcnow()
    _check_open(task)
    principal_of(session).require(Permission.COMMAND_WRITE, clocks.superior(task.jurisdiction_code))
    if due_at <= now:
        raise Invalid.field("due_at", N_("The new deadline has passed already."))
    _check_deadline(due_at, starts_at=task.starts_at, parent=task.parent)
    task.due_at = due_at
    if task.status is TaskStatus.OVERDUE:
        task.move_to(TaskStatus.IN_PROGRESS if task.started_at else TaskStatus.ASSIGNED, now)
    session.flush()
    return task


def add_milestone(session: Session, task: Task, data: MilestoneIn) -> Milestone:
    """A milestone of a task, no later than its deadline."""
    if task.due_at is not None and data.due_at > task.due_at:
        raise Invalid.field("milestones", N_("A milestone cannot be later than the task's deadline."))
    milestone = Milestone(jurisdiction_code=task.jurisdiction_code, title=data.title.strip(), due_at=data.due_at)
    task.milestones.append(milestone)
    session.flush()
    return milestone


def reach_milestone(session: Session, milestone: Milestone, *, now: datetime | None = None) -> Milestone:
    """A milestone is reached."""
    if milestone.reached_at is not None:
        raise Conflict(N_("This milestone is already reached."))
    milestone.reached_at = now or utcnow()
    session.flush()
    return milestone


def tasks(*, status: TaskStatus | Sequence[TaskStatus] | None = None, under: str | None = None,
          overdue: bool = False, directive_id: int | None = None, task_force_id: int | None = None,
          unit_id: int | None = None, parent_id: int | None = None, now: datetime | None = None) -> Select[Task]:
    """The task list's query, earliest deadline first (the scope is added by the session)."""
    stmt = select(Task)
    if isinstance(status, TaskStatus):
        stmt = stmt.where(Task.status == status)
    elif status is not None:
        stmt = stmt.where(Task.status.in_(list(status)))
    else:
        # Every status, spelled out: SQLite then reads the list's ids and deadlines from the (status,
        # code, deadline) index alone, instead of every row of the jurisdiction (ten times faster for a
        # district's 200,000 tasks); PostgreSQL still walks the deadline index.
        stmt = stmt.where(Task.status.in_(list(TaskStatus)))
    if under:
        # A code range rather than LIKE: SQLite's LIKE is case-insensitive and never uses the index.
        low, high = prefix_range(under)
        stmt = stmt.where(Task.jurisdiction_code >= low, Task.jurisdiction_code < high)
    if overdue:
        stmt = stmt.where(Task.status.in_(list(OPEN_TASK_STATUSES)), Task.due_at < (now or utcnow()))
    if directive_id is not None:
        stmt = stmt.where(Task.directive_id == directive_id)
    if task_force_id is not None:
        stmt = stmt.where(Task.task_force_id == task_force_id)
    if unit_id is not None:
        stmt = stmt.where(Task.unit_id == unit_id)
    if parent_id is not None:
        stmt = stmt.where(Task.parent_id == parent_id)
    return stmt.order_by(Task.due_at, Task.id)


def task_page(session: Session, *, page: int = 1, size: int = 50, count_limit: int | None = None,
              options: Sequence[ExecutableOption] = (), status: TaskStatus | Sequence[TaskStatus] | None = None,
              under: str | None = None, overdue: bool = False, directive_id: int | None = None,
              task_force_id: int | None = None, unit_id: int | None = None, parent_id: int | None = None,
              now: datetime | None = None) -> Page[Task]:
    """One page of the task list (``tasks``'s filters) and its total, as the list page and the API show it.

    The page's ids are found first, from the indexes alone, and only those rows are read (``options``:
    loader options for them). Reading whole rows in the list's order would make SQLite, which
    sorts by deadline rather than walking the deadline index, read every row of a district's list —
    135,000 for the done tasks of a district with a million tasks in the city — to keep 50.
    """
    stmt = tasks(status=status, under=under, overdue=overdue, directive_id=directive_id,
                 task_force_id=task_force_id, unit_id=unit_id, parent_id=parent_id, now=now)
    return page_of_tasks(session, stmt, page=page, size=size, count_limit=count_limit, options=options)


def page_of_tasks(session: Session, stmt: Select[Task], *, page: int = 1, size: int = 50,
                  count_limit: int | None = None, options: Sequence[ExecutableOption] = ()) -> Page[Task]:
    """One page of a task list ``stmt`` (a ``tasks`` select, perhaps narrowed further), ids first."""
    found = paginate(session, stmt.with_only_columns(Task.id), page=page, size=size, count_limit=count_limit)
    rows = {t.id: t for t in session.execute(select(Task).where(Task.id.in_(found.items)).options(*options))
            .scalars()} if found.items else {}
    return Page(items=[rows[i] for i in found.items if i in rows], total=found.total, page=found.page,
                size=found.size, is_total_capped=found.is_total_capped)


def plan(session: Session, directive: Directive) -> list[tuple[int, Task]]:
    """A directive's plan (施工图) as (depth, task), depth first, as far as the principal sees it.

    The roots are the directive's tasks whose parent the principal does not see: a district sees the
    tasks handed down to it as the roots of its sub-plan (分施工图).
    """
    found = list(session.execute(select(Task).where(Task.directive_id == directive.id)
                                 .options(selectinload(Task.responsibilities))
                                 .order_by(Task.id)).scalars())
    ids = {t.id for t in found}
    by_parent: dict[int | None, list[Task]] = {}
    for t in found:
        by_parent.setdefault(t.parent_id if t.parent_id in ids else None, []).append(t)
    out: list[tuple[int, Task]] = []

    def walk(parent: int | None, depth: int) -> None:
        for t in by_parent.get(parent, []):
            out.append((depth, t))
            walk(t.id, depth + 1)

    walk(None, 0)
    return out


# ---------------------------------------------------------------------------------------------- helpers


def _check_open(task: Task) -> None:
    if not task.status.is_open:
        raise Conflict(N_("This task is not open: it is {status}."), status=task.status.label)


def _check_deadline(due_at: datetime | None, *, starts_at: datetime | None, parent: Task | None) -> None:
    if due_at is None:
        return
    if starts_at is not None and due_at < starts_at:
        raise Invalid.field("due_at", N_("The deadline is before the start."))
    if parent is not None and parent.due_at is not None and due_at > parent.due_at:
        raise Invalid.field("due_at", N_("A sub-task cannot be due later than its parent."))


def _is_assigned(task: Task) -> bool:
    return any(r.role in (ResponsibilityRole.RESPONSIBLE_UNIT, ResponsibilityRole.ASSIGNEE)
               for r in task.responsibilities)


def _children(session: Session, task: Task) -> list[Task]:
    """The sub-tasks; unscoped would reveal nothing, but a level only finishes what it sees."""
    return list(session.execute(select(Task).where(Task.parent_id == task.id)).scalars())


def _set_responsibility(session: Session, task: Task, data: ResponsibilityIn) -> None:
    """Replace the task's responsibility lines with ``data``'s."""
    lines: list[Responsibility] = []

    def person(role: ResponsibilityRole, party: PartyIn | None, field: str) -> None:
        if party is None or (party.user_id is None and not party.name.strip()):
            return
        organisation.check_user(session, party.user_id, field)
        lines.append(Responsibility(role=role, user_id=party.user_id, name=party.name.strip()))

    person(ResponsibilityRole.LEAD_LEADER, data.lead_leader, "lead_leader")
    person(ResponsibilityRole.LEADER_IN_CHARGE, data.leader_in_charge, "leader_in_charge")
    if data.unit_id is not None:
        organisation.get_unit(session, data.unit_id)
        lines.append(Responsibility(role=ResponsibilityRole.RESPONSIBLE_UNIT, unit_id=data.unit_id))
    for unit_id in dict.fromkeys(data.co_unit_ids):
        if unit_id == data.unit_id:
            continue
        organisation.get_unit(session, unit_id)
        lines.append(Responsibility(role=ResponsibilityRole.CO_UNIT, unit_id=unit_id))
    person(ResponsibilityRole.ASSIGNEE, data.assignee, "assignee")
    for line in lines:
        line.jurisdiction_code = task.jurisdiction_code
    task.responsibilities = lines
    task.unit_id = data.unit_id
    session.flush()


def _report(session: Session, task: Task, *, text: str, percent: int, files: Sequence[AttachmentIn],
            now: datetime, root: Path | None, is_final: bool = False) -> ProgressReport:
    principal = principal_of(session)
    report = ProgressReport(jurisdiction_code=task.jurisdiction_code, at=now, author_id=principal.user_id,
                            author_name=principal.username, percent=percent, text=text, is_final=is_final,
                            attachments=[])
    task.reports.append(report)
    session.flush()
    if files:
        report.attachments.extend(attachments.store(session, list(files), jurisdiction_code=task.jurisdiction_code,
                                                    report_id=report.id, root=root))
    return report
