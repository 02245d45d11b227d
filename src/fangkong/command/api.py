"""The command JSON API under ``/api/v1/command``: directives, tasks and their actions, problems, measures,
rectifications, their verification, and the inbox.

Every list and record goes through the session's scope. The endpoints that create something accept an
``Idempotency-Key`` header: a retry with the same key answers the record the first request made.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from fangkong.command import inbox as inbox_service
from fangkong.command import organisation, problems, service
from fangkong.command.models import (
    Directive,
    Measure,
    Problem,
    ProblemSource,
    ProblemStatus,
    ProgressReport,
    Rectification,
    Responsibility,
    Task,
    TaskStatus,
)
from fangkong.command.schemas import (
    AssignIn,
    CancelIn,
    CompleteIn,
    DirectiveDetailOut,
    DirectiveIn,
    DirectiveOut,
    HandDownIn,
    InboxOut,
    MeasureDetailOut,
    MeasureIn,
    MeasureOut,
    PlanLineOut,
    ProblemDetailOut,
    ProblemIn,
    ProblemOut,
    ProgressIn,
    ProgressReportOut,
    RectificationDetailOut,
    RectificationIn,
    RectificationOut,
    RescheduleIn,
    TaskDetailOut,
    TaskIn,
    TaskOut,
    VerifyIn,
)
from fangkong.core import idempotency
from fangkong.core.auth import Permission
from fangkong.core.deps import SessionDep, requires
from fangkong.core.paging import PageOut, paginate
from fangkong.core.scope import Principal, get_or_404, principal_of

api = APIRouter(tags=["command"])

Reader = Annotated[Principal, Depends(requires(Permission.COMMAND_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.COMMAND_WRITE))]
DirectivesWriter = Annotated[Principal, Depends(requires(Permission.DIRECTIVES_WRITE))]
IdempotencyKey = Annotated[str | None, Header(max_length=100)]
TaskPage = PageOut[TaskOut]
ProblemPage = PageOut[ProblemOut]
DirectivePage = PageOut[DirectiveOut]

M = TypeVar("M", Directive, Task, Problem, Measure, Rectification, ProgressReport)


def once(session: Session, key: str | None, model: type[M], make: Callable[[], M]) -> M:
    """The record ``key`` made before (a retried request), or a new one made by ``make`` and remembered."""
    entity = model.__tablename__
    earlier = idempotency.recall(session, key, entity)
    if earlier is not None:
        return get_or_404(session, model, int(earlier))
    made = make()
    idempotency.remember(session, key, entity, made.id)
    return made


def mine(session: Session) -> Any:
    """The filter on tasks of the principal: naming them, or of a unit they work for."""
    user_id = principal_of(session).user_id
    unit_ids = organisation.unit_ids_of(session, user_id)
    named = select(Responsibility.task_id).where(or_(Responsibility.user_id == user_id,
                                                     Responsibility.unit_id.in_(unit_ids)))
    return or_(Task.unit_id.in_(unit_ids), Task.id.in_(named))


def task_list(session: Session, *, status: TaskStatus | None = None, under: str | None = None,
              overdue: bool = False, my_units: bool = False, directive_id: int | None = None,
              now: datetime | None = None) -> Select[Task]:
    """The task list's query with the pages' and the API's filters."""
    stmt = service.tasks(status=status, under=under or None, overdue=overdue, directive_id=directive_id, now=now)
    if my_units:
        stmt = stmt.where(mine(session))
    return stmt


def task_detail(session: Session, task: Task) -> TaskDetailOut:
    """A task with what hangs off it, as the API shows it."""
    children = session.execute(select(Task).where(Task.parent_id == task.id).order_by(Task.id)).scalars().all()
    return TaskDetailOut.model_validate({
        **TaskOut.model_validate(task).model_dump(), "description": task.description, "starts_at": task.starts_at,
        "outcome": task.outcome, "responsibilities": task.responsibilities, "milestones": task.milestones,
        "reports": [ProgressReportOut.model_validate(r) for r in task.reports],
        "children": [TaskOut.model_validate(c) for c in children]})


def problem_detail(problem: Problem) -> ProblemDetailOut:
    """A problem with its measures and their rectifications."""
    measures = [MeasureDetailOut.model_validate({
        **MeasureOut.model_validate(m).model_dump(), "owner_name": m.owner_name, "times_reopened": m.times_reopened,
        "rectifications": [RectificationDetailOut.model_validate(r) for r in m.rectifications]})
        for m in problem.measures]
    return ProblemDetailOut.model_validate({
        **ProblemOut.model_validate(problem).model_dump(), "description": problem.description,
        "task_force_id": problem.task_force_id, "measures": measures})


# -------------------------------------------------------------------------------------------- directives


@api.get("/command/directives", response_model=DirectivePage)
def list_directives(session: SessionDep, principal: Reader, page: int = 1, size: int = 50) -> DirectivePage:
    """The directives in your jurisdiction (and those of the levels whose plans reach it), newest first."""
    found = paginate(session, select(Directive).order_by(Directive.created_at.desc(), Directive.id.desc()),
                     page=page, size=size)
    return DirectivePage(items=[DirectiveOut.model_validate(d) for d in found.items], total=found.total,
                         page=found.page, size=found.size)


@api.post("/command/directives", response_model=DirectiveOut, status_code=201)
def create_directive(session: SessionDep, principal: DirectivesWriter, data: DirectiveIn,
                     idempotency_key: IdempotencyKey = None) -> DirectiveOut:
    """A draft directive of your headquarters; its tasks are added, then it is issued."""
    return DirectiveOut.model_validate(once(session, idempotency_key, Directive,
                                            lambda: service.create_directive(session, data)))


def _directive_detail(session: Session, directive: Directive) -> DirectiveDetailOut:
    plan = [PlanLineOut(depth=depth, task=TaskOut.model_validate(t)) for depth, t in service.plan(session, directive)]
    return DirectiveDetailOut(**DirectiveOut.model_validate(directive).model_dump(), plan=plan)


@api.get("/command/directives/{directive_id}", response_model=DirectiveDetailOut)
def get_directive(session: SessionDep, principal: Reader, directive_id: int) -> DirectiveDetailOut:
    """A directive with its plan as far as you see it."""
    return _directive_detail(session, service.get_directive(session, directive_id))


@api.post("/command/directives/{directive_id}/issue", response_model=DirectiveDetailOut)
def issue_directive(session: SessionDep, principal: DirectivesWriter, directive_id: int) -> DirectiveDetailOut:
    """Issue a draft directive: its tasks that name who answers for them are assigned (409 unless a draft)."""
    directive = service.get_directive(session, directive_id)
    principal.require(Permission.DIRECTIVES_WRITE, directive.jurisdiction_code)
    return _directive_detail(session, service.issue_directive(session, directive))


@api.post("/command/directives/{directive_id}/close", response_model=DirectiveDetailOut)
def close_directive(session: SessionDep, principal: DirectivesWriter, directive_id: int) -> DirectiveDetailOut:
    """Close an issued directive whose tasks are all done or cancelled (409 otherwise)."""
    directive = service.get_directive(session, directive_id)
    principal.require(Permission.DIRECTIVES_WRITE, directive.jurisdiction_code)
    return _directive_detail(session, service.close_directive(session, directive))


# ------------------------------------------------------------------------------------------------- tasks


@api.get("/command/tasks", response_model=TaskPage)
def list_tasks(session: SessionDep, principal: Reader, status: TaskStatus | None = None, under: str | None = None,
               overdue: bool = False, mine: bool = False, directive_id: int | None = None, page: int = 1,
               size: int = 50) -> TaskPage:
    """The tasks in your jurisdiction, earliest deadline first: by status, under an area, only overdue ones,
    only yours and your units' (``mine``), or of one directive."""
    found = service.page_of_tasks(session, task_list(session, status=status, under=under, overdue=overdue,
                                                     my_units=mine, directive_id=directive_id), page=page, size=size)
    return TaskPage(items=[TaskOut.model_validate(t) for t in found.items], total=found.total, page=found.page,
                    size=found.size)


@api.post("/command/tasks", response_model=TaskDetailOut, status_code=201)
def create_task(session: SessionDep, principal: Writer, data: TaskIn,
                idempotency_key: IdempotencyKey = None) -> TaskDetailOut:
    """A task: in a directive's plan, under a parent task, or on its own. It is assigned at once when it names
    a responsible unit or person and has a deadline (unless its directive is still a draft)."""
    return task_detail(session, once(session, idempotency_key, Task, lambda: service.create_task(session, data)))


@api.get("/command/tasks/{task_id}", response_model=TaskDetailOut)
def get_task(session: SessionDep, principal: Reader, task_id: int) -> TaskDetailOut:
    """A task with its responsibilities, milestones, progress reports and sub-tasks."""
    return task_detail(session, service.get_task(session, task_id))


@api.post("/command/tasks/{task_id}/assign", response_model=TaskDetailOut)
def assign_task(session: SessionDep, principal: Writer, task_id: int, data: AssignIn) -> TaskDetailOut:
    """Name who answers for the task (replacing who did) and perhaps its deadline; a draft becomes assigned."""
    task = service.get_task(session, task_id)
    return task_detail(session, service.assign(session, task, data.responsibility, due_at=data.due_at))


@api.post("/command/tasks/{task_id}/start", response_model=TaskDetailOut)
def start_task(session: SessionDep, principal: Writer, task_id: int) -> TaskDetailOut:
    """Work on an assigned task has begun (409 from any other status)."""
    return task_detail(session, service.start(session, service.get_task(session, task_id)))


@api.post("/command/tasks/{task_id}/progress", response_model=ProgressReportOut, status_code=201)
def report_progress(session: SessionDep, principal: Writer, task_id: int, data: ProgressIn,
                    idempotency_key: IdempotencyKey = None) -> ProgressReportOut:
    """A progress report (attachments are uploaded on the task's page); ``problem`` files a problem from it."""
    task = service.get_task(session, task_id)
    return ProgressReportOut.model_validate(once(session, idempotency_key, ProgressReport,
                                                 lambda: service.report_progress(session, task, data)))


@api.post("/command/tasks/{task_id}/complete", response_model=TaskDetailOut)
def complete_task(session: SessionDep, principal: Writer, task_id: int, data: CompleteIn) -> TaskDetailOut:
    """The task is done, with its outcome; every sub-task must be done or cancelled first."""
    task = service.get_task(session, task_id)
    return task_detail(session, service.complete(session, task, outcome=data.outcome))


@api.post("/command/tasks/{task_id}/cancel", response_model=TaskDetailOut)
def cancel_task(session: SessionDep, principal: Writer, task_id: int, data: CancelIn) -> TaskDetailOut:
    """Withdraw the task and its open sub-tasks."""
    task = service.get_task(session, task_id)
    return task_detail(session, service.cancel(session, task, reason=data.reason))


@api.post("/command/tasks/{task_id}/reschedule", response_model=TaskDetailOut)
def reschedule_task(session: SessionDep, principal: Writer, task_id: int, data: RescheduleIn) -> TaskDetailOut:
    """A new deadline, set by the level above the task's; an overdue task's clock runs again."""
    task = service.get_task(session, task_id)
    return task_detail(session, service.reschedule(session, task, data.due_at))


@api.post("/command/tasks/{task_id}/hand-down", response_model=TaskDetailOut, status_code=201)
def hand_down(session: SessionDep, principal: Writer, task_id: int, data: HandDownIn,
              idempotency_key: IdempotencyKey = None) -> TaskDetailOut:
    """Hand the task down to a level below: answers the child task, linked to this one."""
    task = service.get_task(session, task_id)
    return task_detail(session, once(session, idempotency_key, Task, lambda: service.hand_down(session, task, data)))


# ---------------------------------------------------------------------------------------------- problems


@api.get("/command/problems", response_model=ProblemPage)
def list_problems(session: SessionDep, principal: Reader, status: ProblemStatus | None = None,
                  source: ProblemSource | None = None, under: str | None = None, overdue: bool = False,
                  page: int = 1, size: int = 50) -> ProblemPage:
    """The problems in your jurisdiction, earliest deadline first."""
    found = paginate(session, problems.problems(status=status, source=source, under=under or None,
                                                overdue=overdue), page=page, size=size)
    return ProblemPage(items=[ProblemOut.model_validate(p) for p in found.items], total=found.total,
                       page=found.page, size=found.size)


@api.post("/command/problems", response_model=ProblemDetailOut, status_code=201)
def file_problem(session: SessionDep, principal: Writer, data: ProblemIn,
                 idempotency_key: IdempotencyKey = None) -> ProblemDetailOut:
    """File a problem; it is open until it has a measure and due by the standard clock unless given a deadline."""
    return problem_detail(once(session, idempotency_key, Problem, lambda: problems.file_problem(session, data)))


@api.get("/command/problems/{problem_id}", response_model=ProblemDetailOut)
def get_problem(session: SessionDep, principal: Reader, problem_id: int) -> ProblemDetailOut:
    """A problem with its measures and their rectifications."""
    return problem_detail(problems.get_problem(session, problem_id))


@api.post("/command/problems/{problem_id}/measures", response_model=MeasureDetailOut, status_code=201)
def add_measure(session: SessionDep, principal: Writer, problem_id: int, data: MeasureIn,
                idempotency_key: IdempotencyKey = None) -> MeasureDetailOut:
    """A measure against the problem, owned by a unit and/or a person."""
    problem = problems.get_problem(session, problem_id)
    measure = once(session, idempotency_key, Measure, lambda: problems.add_measure(session, problem, data))
    return problem_detail(problem).measures[[m.id for m in problem.measures].index(measure.id)]


@api.post("/command/measures/{measure_id}/rectifications", response_model=RectificationDetailOut,
          status_code=201)
def submit_rectification(session: SessionDep, principal: Writer, measure_id: int, data: RectificationIn,
                         idempotency_key: IdempotencyKey = None) -> RectificationDetailOut:
    """The measure is carried out: the evidence, for someone else to verify (files go through the page)."""
    measure = problems.get_measure(session, measure_id)
    return RectificationDetailOut.model_validate(once(
        session, idempotency_key, Rectification, lambda: problems.submit_rectification(session, measure, data)))


@api.post("/command/rectifications/{rectification_id}/verify", response_model=RectificationDetailOut)
def verify(session: SessionDep, principal: Writer, rectification_id: int, data: VerifyIn) -> RectificationDetailOut:
    """Verify a rectification, as someone other than who did it: passed closes the measure (and the problem with
    its last one); failed needs a verdict and reopens the measure."""
    rect = problems.get_rectification(session, rectification_id)
    return RectificationDetailOut.model_validate(problems.verify(
        session, rect, passed=data.passed, verdict=data.verdict, new_due_at=data.new_due_at))


# ------------------------------------------------------------------------------------------------- inbox


@api.get("/command/inbox", response_model=InboxOut)
def inbox(session: SessionDep, principal: Reader) -> InboxOut:
    """Your work: tasks naming you and your units', measures you own, rectifications you may verify, and the
    overdue work under you."""
    box = inbox_service.inbox(session)
    return InboxOut(my_tasks=[TaskOut.model_validate(t) for t in box.my_tasks],
                    unit_tasks=[TaskOut.model_validate(t) for t in box.unit_tasks],
                    measures=[MeasureOut.model_validate(m) for m in box.measures],
                    to_verify=[RectificationOut.model_validate(r) for r in box.to_verify],
                    overdue_tasks=[TaskOut.model_validate(t) for t in box.overdue_tasks],
                    overdue={"tasks": box.overdue.tasks, "measures": box.overdue.measures,
                             "rectifications": box.overdue.rectifications, "problems": box.overdue.problems})
