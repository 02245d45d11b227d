"""Fixtures of the command module: the demo city's organisation, fixed times, and makers of tasks and problems.

Services take ``now``: the tests pass fixed times, so nothing depends on the clock of the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import fangkong.command.reactions  # noqa: F401  (the subscribers under test)
from fangkong.command import organisation, problems, service
from fangkong.command.models import Measure, OrgUnit, OrgUnitKind, Problem, Task, TaskForce
from fangkong.command.schemas import MeasureIn, OrgUnitIn, PartyIn, ProblemIn, ResponsibilityIn, TaskIn
from fangkong.core.scope import system_access
from fangkong.users.models import User

CITY = "2205"
DC = "220502"  # 东昌区
EDJ = "220503"  # 二道江区
XINZHAN_STREET = "220502001"  # 新站街道
XINZHAN = "220502001001"  # 新站社区, the dongchang worker's community
JIANGNAN = "220502001002"  # 江南社区, its neighbour
DONGTONGHUA = "220503001001"  # 东通化社区, 二道江区, the erdaojiang worker's community

T0 = datetime(2021, 1, 20, 8, 0, tzinfo=UTC)  # "now" of the tests


def hours(n: float) -> datetime:
    """``n`` hours after ``T0``."""
    return T0 + timedelta(hours=n)


def user_id(session: Session, username: str) -> int:
    """A demo user's id."""
    with system_access(session):
        return session.execute(select(User.id).where(User.username == username)).scalar_one()


def committee(session: Session, code: str) -> OrgUnit:
    """The demo's community committee of ``code``."""
    with system_access(session):
        return session.execute(select(OrgUnit).where(OrgUnit.jurisdiction_code == code,
                                                     OrgUnit.kind == OrgUnitKind.COMMUNITY_COMMITTEE)).scalar_one()


def task_force(session: Session, code: str, key: str) -> TaskForce:
    """The demo's task force of ``key`` at ``code``."""
    with system_access(session):
        return session.execute(select(TaskForce).where(TaskForce.jurisdiction_code == code,
                                                       TaskForce.key == key)).scalar_one()


@pytest.fixture
def make_unit(session: Session) -> Callable[..., OrgUnit]:
    """A new unit (made as the system): ``make_unit(DC, "卫健局", OrgUnitKind.DEPARTMENT, "dongchang_tracer")``."""

    def make(code: str, name: str, kind: OrgUnitKind = OrgUnitKind.DEPARTMENT, *members: str) -> OrgUnit:
        with system_access(session):
            return organisation.create_unit(session, OrgUnitIn(
                jurisdiction_code=code, name=name, kind=kind,
                member_user_ids=[user_id(session, m) for m in members]))

    return make


TaskMaker = Callable[..., Task]


@pytest.fixture
def make_task(session: Session) -> TaskMaker:
    """An assigned task (made as whoever the session acts as): ``make_task(XINZHAN, due=4, unit=u)``."""

    def make(code: str, *, due: float | None = 24, unit: OrgUnit | None = None, assignee: str | None = None,
             title: str = "摸排辖区内返乡人员", parent: Task | None = None, task_force_id: int | None = None) -> Task:
        responsibility = None
        if unit is not None or assignee is not None:
            responsibility = ResponsibilityIn(
                unit_id=unit.id if unit else None,
                assignee=PartyIn(user_id=user_id(session, assignee)) if assignee else None)
        return service.create_task(session, TaskIn(
            jurisdiction_code=code, title=title, due_at=hours(due) if due is not None else None,
            responsibility=responsibility, parent_id=parent.id if parent else None,
            task_force_id=task_force_id), now=T0)

    return make


ProblemMaker = Callable[..., Problem]


@pytest.fixture
def make_problem(session: Session) -> ProblemMaker:
    """A problem found at ``T0``: ``make_problem(XINZHAN, title=…)``."""

    def make(code: str, *, title: str = "核酸采样点排队过长", unit: OrgUnit | None = None,
             due: float | None = None) -> Problem:
        return problems.file_problem(session, ProblemIn(
            jurisdiction_code=code, title=title, unit_id=unit.id if unit else None,
            due_at=hours(due) if due is not None else None), now=T0)

    return make


@pytest.fixture
def make_measure(session: Session) -> Callable[..., Measure]:
    """A measure against a problem, owned by a unit and/or a user, due ``due`` hours after ``T0``."""

    def make(problem: Problem, *, unit: OrgUnit | None = None, owner: str | None = None, due: float = 24,
             title: str = "增设采样台并延长采样时间") -> Measure:
        return problems.add_measure(session, problem, MeasureIn(
            title=title, owner_unit_id=unit.id if unit else None,
            owner_user_id=user_id(session, owner) if owner else None, due_at=hours(due)), now=T0)

    return make


@pytest.fixture
def files_root(tmp_path: Path) -> Path:
    """The data directory attachments are written under."""
    return tmp_path / "data"
