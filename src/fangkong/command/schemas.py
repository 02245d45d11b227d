"""Request bodies of the command module's services (and, later, of its pages and API)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from fangkong.command.models import (
    DirectiveStatus,
    MeasureStatus,
    OrgUnitKind,
    ProblemSource,
    ProblemStatus,
    RectificationStatus,
    ResponsibilityRole,
    TaskOrigin,
    TaskStatus,
)

CODE = r"^\d{2}(\d{2}(\d{2}(\d{3}(\d{3})?)?)?)?$"


class PartyIn(BaseModel):
    """A person: a user with a login, or a name only (a leader without one)."""

    user_id: int | None = None
    name: str = Field(default="", max_length=60)


class ResponsibilityIn(BaseModel):
    """Who answers for a task (责任): leaders, units and the named person who does it."""

    lead_leader: PartyIn | None = None  # 牵头领导
    leader_in_charge: PartyIn | None = None  # 分管领导
    unit_id: int | None = None  # 责任单位
    co_unit_ids: list[int] = Field(default_factory=list, max_length=50)  # 配合单位
    assignee: PartyIn | None = None  # 专人

    @property
    def is_assigned(self) -> bool:
        """Whether someone is named to carry the task: a responsible unit or a person."""
        return self.unit_id is not None or (self.assignee is not None
                                            and (self.assignee.user_id is not None or bool(self.assignee.name)))


class MilestoneIn(BaseModel):
    """A milestone of a task."""

    title: str = Field(min_length=1, max_length=200)
    due_at: datetime


class DirectiveIn(BaseModel):
    """A directive of a headquarters."""

    jurisdiction_code: str = Field(pattern=CODE)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=20000)


class TaskIn(BaseModel):
    """A task: in a directive's plan, or on its own; assigned at once when it names a responsibility."""

    jurisdiction_code: str = Field(pattern=CODE)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    directive_id: int | None = None
    parent_id: int | None = None
    task_force_id: int | None = None
    starts_at: datetime | None = None
    due_at: datetime | None = None
    responsibility: ResponsibilityIn | None = None
    milestones: list[MilestoneIn] = Field(default_factory=list, max_length=50)


class HandDownIn(BaseModel):
    """A task handed down to a level below: by default the parent's title and deadline."""

    jurisdiction_code: str = Field(pattern=CODE)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    task_force_id: int | None = None
    due_at: datetime | None = None
    responsibility: ResponsibilityIn | None = None


class ProgressIn(BaseModel):
    """A progress report; ``problem`` raises a problem from it (its title)."""

    text: str = Field(default="", max_length=20000)
    percent: int = Field(default=0, ge=0, le=100)
    problem: str | None = Field(default=None, min_length=1, max_length=200)


class AttachmentIn(BaseModel):
    """A file to attach (its bytes are stored under the data directory)."""

    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(default="application/octet-stream", max_length=100)
    data: bytes


class ProblemIn(BaseModel):
    """A problem, however it was found."""

    jurisdiction_code: str = Field(pattern=CODE)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    source: ProblemSource = ProblemSource.MANUAL
    task_id: int | None = None
    unit_id: int | None = None
    task_force_id: int | None = None
    found_at: datetime | None = None  # default: now
    due_at: datetime | None = None  # default: the standard clock


class MeasureIn(BaseModel):
    """A measure against a problem: its owner (a unit, a person, or both) and its deadline."""

    title: str = Field(min_length=1, max_length=200)
    owner_unit_id: int | None = None
    owner_user_id: int | None = None
    owner_name: str = Field(default="", max_length=60)
    due_at: datetime | None = None  # default: the standard clock


class RectificationIn(BaseModel):
    """What was done, as evidence for the verifier."""

    evidence: str = Field(default="", max_length=20000)


class OrgUnitIn(BaseModel):
    """A unit and the users who work for it."""

    jurisdiction_code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=80)
    kind: OrgUnitKind
    parent_id: int | None = None
    member_user_ids: list[int] = Field(default_factory=list, max_length=500)


class TaskForceMemberIn(BaseModel):
    """A member of a task force: a unit, a user, or a name."""

    unit_id: int | None = None
    user_id: int | None = None
    name: str = Field(default="", max_length=60)
    duty: str = Field(default="", max_length=80)


class TaskForceIn(BaseModel):
    """A task force (专班)."""

    jurisdiction_code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=80)
    key: str | None = Field(default=None, max_length=40)
    lead_leader: PartyIn | None = None
    leader_in_charge: PartyIn | None = None
    office_unit_id: int | None = None
    members: list[TaskForceMemberIn] = Field(default_factory=list, max_length=500)


class TaskOut(BaseModel):
    """A task as the API shows it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    jurisdiction_code: str
    title: str
    status: TaskStatus
    origin: TaskOrigin
    directive_id: int | None
    parent_id: int | None
    task_force_id: int | None
    unit_id: int | None
    due_at: datetime | None
    done_at: datetime | None
    progress: int
    escalated_at: datetime | None


class ResponsibilityOut(BaseModel):
    """A line of the responsibility list."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    task_id: int
    role: ResponsibilityRole
    unit_id: int | None
    user_id: int | None
    name: str


class ProblemOut(BaseModel):
    """A problem as the API shows it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    jurisdiction_code: str
    title: str
    source: ProblemSource
    status: ProblemStatus
    task_id: int | None
    unit_id: int | None
    found_at: datetime
    due_at: datetime | None
    closed_at: datetime | None


class MeasureOut(BaseModel):
    """A measure as the API shows it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    problem_id: int
    title: str
    status: MeasureStatus
    owner_unit_id: int | None
    owner_user_id: int | None
    due_at: datetime
    verified_at: datetime | None


class RectificationOut(BaseModel):
    """A rectification as the API shows it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    measure_id: int
    status: RectificationStatus
    evidence: str
    submitted_at: datetime
    verify_due_at: datetime
    verified_at: datetime | None


# ------------------------------------------------------------------------------- bodies and answers of the API


class AssignIn(BaseModel):
    """Who answers for a task, and (optionally) its deadline."""

    responsibility: ResponsibilityIn
    due_at: datetime | None = None


class CompleteIn(BaseModel):
    """The final report of a task: what was achieved."""

    outcome: str = Field(min_length=1, max_length=20000)


class CancelIn(BaseModel):
    """Why a task is withdrawn."""

    reason: str = Field(min_length=1, max_length=2000)


class RescheduleIn(BaseModel):
    """A new deadline, set by the level above."""

    due_at: datetime


class VerifyIn(BaseModel):
    """A verification (验收): passed, or failed with a verdict and perhaps a new deadline for the measure."""

    passed: bool
    verdict: str = Field(default="", max_length=20000)
    new_due_at: datetime | None = None


class DirectiveOut(BaseModel):
    """A directive as the API shows it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    jurisdiction_code: str
    title: str
    body: str
    status: DirectiveStatus
    created_at: datetime
    issued_at: datetime | None


class PlanLineOut(BaseModel):
    """One task of a directive's plan, with its depth in the tree as the reader sees it."""

    depth: int
    task: TaskOut


class DirectiveDetailOut(DirectiveOut):
    """A directive with its plan."""

    plan: list[PlanLineOut]


class MilestoneOut(BaseModel):
    """A milestone of a task."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    due_at: datetime
    reached_at: datetime | None


class AttachmentOut(BaseModel):
    """A file's metadata (its bytes are served by the pages, audited)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str


class ProgressReportOut(BaseModel):
    """A progress report on a task."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    task_id: int
    at: datetime
    author_name: str
    percent: int
    text: str
    is_final: bool
    attachments: list[AttachmentOut]


class TaskDetailOut(TaskOut):
    """A task with its responsibilities, milestones, reports and sub-tasks."""

    description: str
    starts_at: datetime | None
    outcome: str
    responsibilities: list[ResponsibilityOut]
    milestones: list[MilestoneOut]
    reports: list[ProgressReportOut]
    children: list[TaskOut]


class RectificationDetailOut(RectificationOut):
    """A rectification with its verdict and files."""

    submitted_by_name: str
    verified_by_name: str
    verdict: str
    attachments: list[AttachmentOut]


class MeasureDetailOut(MeasureOut):
    """A measure with its rectifications."""

    owner_name: str
    times_reopened: int
    rectifications: list[RectificationDetailOut]


class ProblemDetailOut(ProblemOut):
    """A problem with its measures."""

    description: str
    task_force_id: int | None
    measures: list[MeasureDetailOut]


class InboxOut(BaseModel):
    """A user's inbox."""

    my_tasks: list[TaskOut]
    unit_tasks: list[TaskOut]
    measures: list[MeasureOut]
    to_verify: list[RectificationOut]
    overdue_tasks: list[TaskOut]
    overdue: dict[str, int]
