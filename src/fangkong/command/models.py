"""Tables of the command module: the five lists (五张清单) and who carries them out.

* a **directive** (指令) of a headquarters breaks down into a tree of **tasks** (任务清单); a task can be
  handed down a level and stays linked to its parent; a set of tasks can also be made from a
  **template** when another module's event arrives (a new local case, a positive pool);
* each task names its **responsibilities** (责任清单): leading leader, leader in charge, responsible
  unit, co-operating units and the named person who does it;
* a **problem** (问题清单) comes from an inspection, the direct channel, a progress report, another
  module's alert or by hand; it gets **measures** (举措清单), each of which ends in a **rectification**
  (整改清单) with evidence, verified by someone other than who did it;
* every task, measure, rectification and problem has a clock; an item whose clock runs out is
  escalated once to the superior level (an ``Escalation``).

Every row belongs to a jurisdiction: a task to the level that does it, a problem to where it was
found, a measure and a rectification to their problem's. The tables avoid foreign-key cycles: links
point from the later thing to the earlier one (problem → progress report → task → directive).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangkong.core.auth import Permission
from fangkong.core.db import Base, code_column_type, utcnow
from fangkong.core.errors import N_, Conflict
from fangkong.core.scope import Scoped


class CommandScoped(Scoped):
    """Work of the lists: read and written by every working role in its jurisdiction."""

    read_permission = Permission.COMMAND_READ
    write_permission = Permission.COMMAND_WRITE


class Organisation:
    """Who works: units and task forces, set up by commanders (``directives:write``).

    Not scoped tables: a district must see the city's task forces and units that its tasks name, so
    everyone with ``command:read`` inside or above an organisation's jurisdiction sees it (see
    ``organisation.visible``); the services check writes.
    """

    jurisdiction_code: Mapped[str] = mapped_column(code_column_type(), index=True)


# ------------------------------------------------------------------------------------------ organisation


class OrgUnitKind(StrEnum):
    """What kind of body a unit is."""

    HEADQUARTERS = "headquarters"  # 指挥部
    TASK_FORCE_OFFICE = "task_force_office"  # 专班办公室
    DEPARTMENT = "department"  # 部门（厅局、委办局）
    STREET_OFFICE = "street_office"  # 街道办事处 / 乡镇政府
    COMMUNITY_COMMITTEE = "community_committee"  # 社区居委会 / 村委会
    FACILITY = "facility"  # 医院、隔离点、实验室
    OTHER = "other"

    @property
    def label(self) -> str:
        """The kind in the interface (an msgid)."""
        return ORG_UNIT_KIND_LABELS[self]


ORG_UNIT_KIND_LABELS = {
    OrgUnitKind.HEADQUARTERS: N_("Command headquarters"),
    OrgUnitKind.TASK_FORCE_OFFICE: N_("Task force office"),
    OrgUnitKind.DEPARTMENT: N_("Department"),
    OrgUnitKind.STREET_OFFICE: N_("Street office"),
    OrgUnitKind.COMMUNITY_COMMITTEE: N_("Community committee"),
    OrgUnitKind.FACILITY: N_("Facility"),
    OrgUnitKind.OTHER: N_("Other unit"),
}


class OrgUnit(Organisation, Base):
    """A responsible or co-operating unit (责任单位 / 配合单位) of some jurisdiction."""

    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[OrgUnitKind] = mapped_column()
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])
    members: Mapped[list[OrgUnitMember]] = relationship(back_populates="unit", cascade="all, delete-orphan",
                                                        order_by="OrgUnitMember.id")


class OrgUnitMember(Base):
    """A user who works for a unit: the unit's tasks and measures are in their inbox."""

    __tablename__ = "org_unit_members"
    __table_args__ = (UniqueConstraint("unit_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    unit: Mapped[OrgUnit] = relationship(back_populates="members")


class TaskForce(Organisation, Base):
    """A task force (专班): led by a leading leader, run by a leader in charge, made of units and people.

    ``key`` names one of the epidemic's standard task forces (see ``organisation.STANDARD_TASK_FORCES``),
    through which templates assign their tasks; a jurisdiction has at most one of each.
    """

    __tablename__ = "task_forces"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    lead_leader_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lead_leader_name: Mapped[str] = mapped_column(String(60), default="")  # 牵头领导
    in_charge_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    in_charge_name: Mapped[str] = mapped_column(String(60), default="")  # 分管领导
    office_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    office: Mapped[OrgUnit | None] = relationship()
    members: Mapped[list[TaskForceMember]] = relationship(back_populates="task_force", cascade="all, delete-orphan",
                                                          order_by="TaskForceMember.id")


class TaskForceMember(Base):
    """A member unit or person of a task force (a person without a login by name only)."""

    __tablename__ = "task_force_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_force_id: Mapped[int] = mapped_column(ForeignKey("task_forces.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(60), default="")
    duty: Mapped[str] = mapped_column(String(80), default="")

    task_force: Mapped[TaskForce] = relationship(back_populates="members")


# ------------------------------------------------------------------------------------------------- tasks


class DirectiveStatus(StrEnum):
    """Where a directive is."""

    DRAFT = "draft"
    ISSUED = "issued"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """The status in the interface (an msgid)."""
        return DIRECTIVE_STATUS_LABELS[self]


DIRECTIVE_STATUS_LABELS = {
    DirectiveStatus.DRAFT: N_("Draft"),
    DirectiveStatus.ISSUED: N_("Issued"),
    DirectiveStatus.CLOSED: N_("Closed"),
}


class Directive(Scoped, Base):
    """A directive of a headquarters (指挥部指令), the root of a plan (总施工图) of tasks."""

    __tablename__ = "directives"
    read_permission = Permission.COMMAND_READ
    write_permission = Permission.DIRECTIVES_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[DirectiveStatus] = mapped_column(default=DirectiveStatus.DRAFT, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column()
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    tasks: Mapped[list[Task]] = relationship(back_populates="directive", order_by="Task.id")


class TaskStatus(StrEnum):
    """The task loop: draft → assigned → in progress → done, with overdue when the clock runs out."""

    DRAFT = "draft"  # 待分派
    ASSIGNED = "assigned"  # 已分派
    IN_PROGRESS = "in_progress"  # 推进中
    OVERDUE = "overdue"  # 已超期
    DONE = "done"  # 已完成
    CANCELLED = "cancelled"  # 已撤销

    @property
    def label(self) -> str:
        """The status in the interface (an msgid)."""
        return TASK_STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        """Whether the task still has work (and a running clock)."""
        return self in OPEN_TASK_STATUSES


TASK_STATUS_LABELS = {
    TaskStatus.DRAFT: N_("Draft"),
    TaskStatus.ASSIGNED: N_("Assigned"),
    TaskStatus.IN_PROGRESS: N_("In progress"),
    TaskStatus.OVERDUE: N_("Overdue"),
    TaskStatus.DONE: N_("Done"),
    TaskStatus.CANCELLED: N_("Cancelled"),
}
# Statuses whose clock runs: a draft has no one to answer for it yet.
OPEN_TASK_STATUSES = frozenset({TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE})
# The task loop: which status may follow which.
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.DRAFT: frozenset({TaskStatus.ASSIGNED, TaskStatus.CANCELLED}),
    TaskStatus.ASSIGNED: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE, TaskStatus.DONE,
                                    TaskStatus.CANCELLED}),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.OVERDUE, TaskStatus.DONE, TaskStatus.CANCELLED}),
    # Back from overdue only when the level above sets a new deadline (``service.reschedule``).
    TaskStatus.OVERDUE: frozenset({TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.DONE,
                                   TaskStatus.CANCELLED}),
    TaskStatus.DONE: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}


class TaskOrigin(StrEnum):
    """Where a task came from."""

    DIRECTIVE = "directive"  # part of a directive's plan
    HANDED_DOWN = "handed_down"  # handed down from a task of the level above
    TEMPLATE = "template"  # made from a template by another module's event
    MANUAL = "manual"  # entered on its own

    @property
    def label(self) -> str:
        """The origin in the interface (an msgid)."""
        return TASK_ORIGIN_LABELS[self]


TASK_ORIGIN_LABELS = {
    TaskOrigin.DIRECTIVE: N_("From a directive"),
    TaskOrigin.HANDED_DOWN: N_("Handed down"),
    TaskOrigin.TEMPLATE: N_("From a template"),
    TaskOrigin.MANUAL: N_("Entered by hand"),
}


class TemplateRun(CommandScoped, Base):
    """One instantiation of a template for one event: the unique key makes a redelivered event a no-op."""

    __tablename__ = "template_runs"
    __table_args__ = (UniqueConstraint("template_key", "event_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_key: Mapped[str] = mapped_column(String(60))
    event_name: Mapped[str] = mapped_column(String(80))
    event_key: Mapped[str] = mapped_column(String(120))  # e.g. "case:42", "tube:7"
    event_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(CommandScoped, Base):
    """A task (任务): who must do what by when, in one jurisdiction, with its loop and clock."""

    __tablename__ = "tasks"
    __table_args__ = (
        # The task lists' totals: a status within a jurisdiction subtree, counted in the index alone. Status
        # first, as the equality, then the code range.
        Index("ix_tasks_status_jurisdiction_code_due_at", "status", "jurisdiction_code", "due_at"),
        # The task lists' pages, earliest deadline first: read in the order of the page, the code range
        # checked in the index, so the first page of a district's 100,000 tasks reads about 50 rows instead
        # of sorting them all. One for a status, one for every status and the overdue filter.
        Index("ix_tasks_status_due_at_id_jurisdiction_code", "status", "due_at", "id", "jurisdiction_code"),
        Index("ix_tasks_due_at_id_status_jurisdiction_code", "due_at", "id", "status", "jurisdiction_code"),
        # The assessment groups by unit and by task force: these cover it, the scope's code included
        # (no row is read, only the index).
        Index("ix_tasks_unit_id_status_due_at_done_at_jurisdiction_code",
              "unit_id", "status", "due_at", "done_at", "jurisdiction_code"),
        Index("ix_tasks_task_force_id_status_due_at_done_at_jurisdiction_code",
              "task_force_id", "status", "due_at", "done_at", "jurisdiction_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TaskStatus] = mapped_column(default=TaskStatus.DRAFT)
    origin: Mapped[TaskOrigin] = mapped_column(default=TaskOrigin.MANUAL)
    directive_id: Mapped[int | None] = mapped_column(ForeignKey("directives.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    task_force_id: Mapped[int | None] = mapped_column(ForeignKey("task_forces.id"))
    # The responsible unit, copied from the responsibilities so the assessment groups one table.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    template_run_id: Mapped[int | None] = mapped_column(ForeignKey("template_runs.id"), index=True)
    template_key: Mapped[str | None] = mapped_column(String(80))  # "<template>/<task>": the title is an msgid
    source_key: Mapped[str | None] = mapped_column(String(120))  # the event behind a template's task
    starts_at: Mapped[datetime | None] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    overdue_at: Mapped[datetime | None] = mapped_column()
    done_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    progress: Mapped[int] = mapped_column(default=0)  # percent, from the latest report
    outcome: Mapped[str] = mapped_column(Text, default="")

    directive: Mapped[Directive | None] = relationship(back_populates="tasks")
    parent: Mapped[Task | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Task]] = relationship(back_populates="parent", order_by="Task.id")
    task_force: Mapped[TaskForce | None] = relationship()
    unit: Mapped[OrgUnit | None] = relationship()
    responsibilities: Mapped[list[Responsibility]] = relationship(
        back_populates="task", cascade="all, delete-orphan", order_by="Responsibility.id")
    milestones: Mapped[list[Milestone]] = relationship(back_populates="task", cascade="all, delete-orphan",
                                                       order_by="Milestone.due_at")
    reports: Mapped[list[ProgressReport]] = relationship(back_populates="task", order_by="ProgressReport.id")

    @property
    def title_is_msgid(self) -> bool:
        """Whether the title is a template's msgid, to be translated when shown."""
        return self.template_key is not None

    def is_overdue(self, now: datetime) -> bool:
        """Whether the clock has run out on unfinished work."""
        return self.status.is_open and self.due_at is not None and self.due_at < now

    def move_to(self, to: TaskStatus, now: datetime) -> None:
        """Change the status if the loop allows it (``Conflict`` otherwise), recording when."""
        if to not in TASK_TRANSITIONS[self.status]:
            raise Conflict(N_("A task cannot go from {before} to {after}."), before=self.status.label,
                           after=to.label)
        self.status = to
        if to is TaskStatus.ASSIGNED:
            self.assigned_at = self.assigned_at or now
        elif to is TaskStatus.IN_PROGRESS:
            self.started_at = self.started_at or now
        elif to is TaskStatus.OVERDUE:
            self.overdue_at = now
        elif to is TaskStatus.DONE:
            self.done_at = now
        elif to is TaskStatus.CANCELLED:
            self.cancelled_at = now


class ResponsibilityRole(StrEnum):
    """The part a unit or person plays in a task.

    专班机制化: 主要领导牵头抓、分管领导具体抓、责任部门协同抓, 专人盯、专人管、专人干.
    """

    LEAD_LEADER = "lead_leader"  # 牵头领导
    LEADER_IN_CHARGE = "leader_in_charge"  # 分管领导
    RESPONSIBLE_UNIT = "responsible_unit"  # 责任单位
    CO_UNIT = "co_unit"  # 配合单位
    ASSIGNEE = "assignee"  # 专人

    @property
    def label(self) -> str:
        """The role in the interface (an msgid)."""
        return RESPONSIBILITY_ROLE_LABELS[self]


RESPONSIBILITY_ROLE_LABELS = {
    ResponsibilityRole.LEAD_LEADER: N_("Leading leader"),
    ResponsibilityRole.LEADER_IN_CHARGE: N_("Leader in charge"),
    ResponsibilityRole.RESPONSIBLE_UNIT: N_("Responsible unit"),
    ResponsibilityRole.CO_UNIT: N_("Co-operating unit"),
    ResponsibilityRole.ASSIGNEE: N_("Named person"),
}


class Responsibility(CommandScoped, Base):
    """One line of the responsibility list (责任清单): a unit or a person, and their part in a task."""

    __tablename__ = "responsibilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    role: Mapped[ResponsibilityRole] = mapped_column()
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(60), default="")  # a leader without a login, or the person's name

    task: Mapped[Task] = relationship(back_populates="responsibilities")
    unit: Mapped[OrgUnit | None] = relationship()


class Milestone(CommandScoped, Base):
    """A milestone (节点) of a task, with its own date."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column()
    reached_at: Mapped[datetime | None] = mapped_column()

    task: Mapped[Task] = relationship(back_populates="milestones")


class ProgressReport(CommandScoped, Base):
    """A progress report (进展) on a task, with its attachments; it may raise a problem."""

    __tablename__ = "progress_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(80), default="")
    percent: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text, default="")
    is_final: Mapped[bool] = mapped_column(default=False)

    task: Mapped[Task] = relationship(back_populates="reports")
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id")


# ---------------------------------------------------------------------------------------------- problems


class ProblemSource(StrEnum):
    """Where a problem was found."""

    INSPECTION = "inspection"  # 四不两直
    DIRECT_CHANNEL = "direct_channel"  # 厅局长直通车
    PROGRESS_REPORT = "progress_report"  # raised in a task's progress report
    ALERT = "alert"  # another module's clock ran out
    MANUAL = "manual"  # entered by hand

    @property
    def label(self) -> str:
        """The source in the interface (an msgid)."""
        return PROBLEM_SOURCE_LABELS[self]


PROBLEM_SOURCE_LABELS = {
    ProblemSource.INSPECTION: N_("Inspection"),
    ProblemSource.DIRECT_CHANNEL: N_("Direct channel"),
    ProblemSource.PROGRESS_REPORT: N_("Progress report"),
    ProblemSource.ALERT: N_("Alert"),
    ProblemSource.MANUAL: N_("Entered by hand"),
}


class ProblemStatus(StrEnum):
    """The problem loop: open → measures under way → closed (only by verified rectifications)."""

    OPEN = "open"  # 待整改: no measure yet
    RECTIFYING = "rectifying"  # 整改中: measures under way
    CLOSED = "closed"  # 已销号: every measure's rectification verified

    @property
    def label(self) -> str:
        """The status in the interface (an msgid)."""
        return PROBLEM_STATUS_LABELS[self]


PROBLEM_STATUS_LABELS = {
    ProblemStatus.OPEN: N_("Open"),
    ProblemStatus.RECTIFYING: N_("Being rectified"),
    ProblemStatus.CLOSED: N_("Closed"),
}


class Problem(CommandScoped, Base):
    """A problem (问题) found somewhere in the response, to be rectified and closed.

    An alert's problem has an msgid for a title and its values in ``params``.
    """

    __tablename__ = "problems"
    __table_args__ = (
        Index("ix_problems_status_jurisdiction_code_due_at", "status", "jurisdiction_code", "due_at"),
        # The assessment's counts, the scope's code included so that only the index is read.
        Index("ix_problems_unit_id_status_jurisdiction_code", "unit_id", "status", "jurisdiction_code"),
        Index("ix_problems_task_force_id_status_jurisdiction_code", "task_force_id", "status", "jurisdiction_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[ProblemSource] = mapped_column()
    # What raised it, unique so the same alert delivered twice files one problem ("tracing.control_overdue:7").
    source_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[ProblemStatus] = mapped_column(default=ProblemStatus.OPEN)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("progress_reports.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))  # the unit that must rectify
    task_force_id: Mapped[int | None] = mapped_column(ForeignKey("task_forces.id"))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    found_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()  # rectified by then (整改时限)
    closed_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    measures: Mapped[list[Measure]] = relationship(back_populates="problem", order_by="Measure.id")
    task: Mapped[Task | None] = relationship()
    unit: Mapped[OrgUnit | None] = relationship()

    @property
    def title_is_msgid(self) -> bool:
        """Whether the title is an alert's msgid (with ``params``), to be translated when shown."""
        return self.source is ProblemSource.ALERT


class MeasureStatus(StrEnum):
    """The measure loop: open → rectification submitted → verified; a failed verification reopens it."""

    OPEN = "open"  # 落实中
    OVERDUE = "overdue"  # 已超期
    SUBMITTED = "submitted"  # 整改待验收
    VERIFIED = "verified"  # 已验收

    @property
    def label(self) -> str:
        """The status in the interface (an msgid)."""
        return MEASURE_STATUS_LABELS[self]


# The measure loop: which status may follow which.
MEASURE_TRANSITIONS: dict[MeasureStatus, frozenset[MeasureStatus]] = {
    MeasureStatus.OPEN: frozenset({MeasureStatus.OVERDUE, MeasureStatus.SUBMITTED}),
    MeasureStatus.OVERDUE: frozenset({MeasureStatus.SUBMITTED}),
    # A failed verification sends the measure back to its owner, overdue if its deadline has passed.
    MeasureStatus.SUBMITTED: frozenset({MeasureStatus.VERIFIED, MeasureStatus.OPEN, MeasureStatus.OVERDUE}),
    MeasureStatus.VERIFIED: frozenset(),
}

MEASURE_STATUS_LABELS = {
    MeasureStatus.OPEN: N_("Under way"),
    MeasureStatus.OVERDUE: N_("Overdue"),
    MeasureStatus.SUBMITTED: N_("Awaiting verification"),
    MeasureStatus.VERIFIED: N_("Verified"),
}


class Measure(CommandScoped, Base):
    """A measure (举措) against a problem: an owner, a deadline, and in the end a verified rectification."""

    __tablename__ = "measures"
    __table_args__ = (
        Index("ix_measures_status_jurisdiction_code_due_at", "status", "jurisdiction_code", "due_at"),
        Index("ix_measures_owner_unit_id_status", "owner_unit_id", "status"),
        # The assessment's medians: verified measures by owner, in order of their time to verification,
        # with the scope's code (only the index is read).
        Index("ix_measures_status_owner_unit_id_seconds_to_verified_code", "status", "owner_unit_id",
              "seconds_to_verified", "jurisdiction_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[MeasureStatus] = mapped_column(default=MeasureStatus.OPEN)
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    owner_name: Mapped[str] = mapped_column(String(60), default="")
    due_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    overdue_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()
    # From the measure's creation to its verified rectification: the assessment's median, kept as a
    # number so both databases take it with the same grouped SQL.
    seconds_to_verified: Mapped[int | None] = mapped_column()
    times_reopened: Mapped[int] = mapped_column(default=0)

    problem: Mapped[Problem] = relationship(back_populates="measures")
    owner_unit: Mapped[OrgUnit | None] = relationship()
    rectifications: Mapped[list[Rectification]] = relationship(back_populates="measure", order_by="Rectification.id")

    @property
    def is_open(self) -> bool:
        """Whether the owner still has to act (not waiting for verification, not verified)."""
        return self.status in (MeasureStatus.OPEN, MeasureStatus.OVERDUE)

    def move_to(self, to: MeasureStatus, now: datetime) -> None:
        """Change the status if the loop allows it (``Conflict`` otherwise), recording when."""
        if to not in MEASURE_TRANSITIONS[self.status]:
            raise Conflict(N_("A measure cannot go from {before} to {after}."), before=self.status.label,
                           after=to.label)
        self.status = to
        if to is MeasureStatus.OVERDUE:
            self.overdue_at = now
        elif to is MeasureStatus.VERIFIED:
            self.verified_at = now
            self.seconds_to_verified = max(0, int((now - self.created_at).total_seconds()))


class RectificationStatus(StrEnum):
    """A rectification's verification."""

    SUBMITTED = "submitted"  # 待验收
    VERIFIED = "verified"  # 验收通过
    REJECTED = "rejected"  # 验收未通过

    @property
    def label(self) -> str:
        """The status in the interface (an msgid)."""
        return RECTIFICATION_STATUS_LABELS[self]


RECTIFICATION_STATUS_LABELS = {
    RectificationStatus.SUBMITTED: N_("Awaiting verification"),
    RectificationStatus.VERIFIED: N_("Verified"),
    RectificationStatus.REJECTED: N_("Failed verification"),
}


class Rectification(CommandScoped, Base):
    """A rectification (整改) of a measure, with its evidence, awaiting or past its verification."""

    __tablename__ = "rectifications"
    __table_args__ = (Index("ix_rectifications_status_jurisdiction_code_verify_due_at",
                            "status", "jurisdiction_code", "verify_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id"), index=True)
    status: Mapped[RectificationStatus] = mapped_column(default=RectificationStatus.SUBMITTED)
    evidence: Mapped[str] = mapped_column(Text, default="")
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    submitted_by_name: Mapped[str] = mapped_column(String(80), default="")
    submitted_at: Mapped[datetime] = mapped_column()
    verify_due_at: Mapped[datetime] = mapped_column()
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_by_name: Mapped[str] = mapped_column(String(80), default="")
    verified_at: Mapped[datetime | None] = mapped_column()
    verdict: Mapped[str] = mapped_column(Text, default="")
    escalated_at: Mapped[datetime | None] = mapped_column()

    measure: Mapped[Measure] = relationship(back_populates="rectifications")
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id")


class Attachment(CommandScoped, Base):
    """A file attached to a progress report or to a rectification's evidence.

    The file lives under the data directory, named by its SHA-256 (the same file twice is stored once);
    the row keeps what a page needs to list and serve it.
    """

    __tablename__ = "command_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("progress_reports.id"), index=True)
    rectification_id: Mapped[int | None] = mapped_column(ForeignKey("rectifications.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(200))  # relative to the data directory
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


# -------------------------------------------------------------------------------------------- escalation


class ItemKind(StrEnum):
    """The kinds of clocked item in the lists."""

    TASK = "task"
    MEASURE = "measure"
    RECTIFICATION = "rectification"
    PROBLEM = "problem"

    @property
    def label(self) -> str:
        """The kind in the interface (an msgid)."""
        return ITEM_KIND_LABELS[self]


ITEM_KIND_LABELS = {
    ItemKind.TASK: N_("Task"),
    ItemKind.MEASURE: N_("Measure"),
    ItemKind.RECTIFICATION: N_("Rectification"),
    ItemKind.PROBLEM: N_("Problem"),
}


class Escalation(CommandScoped, Base):
    """An overdue item brought to the superior level (督办), once per item.

    ``jurisdiction_code`` is the item's, so the level that owns it and every level above see it;
    ``to_code`` is the superior level whose dashboard lists it.
    """

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("item_kind", "item_id"),
                      Index("ix_escalations_to_code_at", "to_code", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_kind: Mapped[ItemKind] = mapped_column()
    item_id: Mapped[int] = mapped_column()
    to_code: Mapped[str] = mapped_column(code_column_type())
    due_at: Mapped[datetime] = mapped_column()
    at: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()  # the item got done after all
