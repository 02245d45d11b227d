"""Scoping with personas: a district commander sees and changes their district's and its communities' work,
never a neighbouring district's; a community worker works on their community's; the level above sees
what it handed down."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.command import inbox, organisation, problems, service
from fangkong.command.models import Problem, Task, TaskStatus
from fangkong.command.schemas import HandDownIn, MeasureIn, ProblemIn, ProgressIn, ResponsibilityIn, TaskIn
from fangkong.core.errors import Forbidden, Invalid, NotFound
from fangkong.core.scope import system_access
from tests.command.conftest import (
    CITY,
    DC,
    DONGTONGHUA,
    EDJ,
    JIANGNAN,
    T0,
    XINZHAN,
    ProblemMaker,
    TaskMaker,
    committee,
    hours,
)


@pytest.fixture
def work(session: Session, make_task: TaskMaker, make_problem: ProblemMaker) -> dict[str, Task | Problem]:
    """A task and a problem at each of: the city, 东昌区, 新站社区, 江南社区, 二道江区, 东通化社区."""
    made: dict[str, Task | Problem] = {}
    for name, code in (("city", CITY), ("dc", DC), ("xinzhan", XINZHAN), ("jiangnan", JIANGNAN), ("edj", EDJ),
                       ("dongtonghua", DONGTONGHUA)):
        made[name] = make_task(code, assignee="city_commander", title=f"{name} task")
        made[f"{name}_problem"] = make_problem(code, title=f"{name} problem")
    return made


def listed(session: Session, stmt) -> set[str]:  # type: ignore[no-untyped-def]
    return {row.title.split()[0] for row in session.execute(stmt).scalars()}


def test_a_district_commander_sees_their_district_and_its_communities(session: Session, as_user, work) -> None:
    as_user("dongchang_commander")
    assert listed(session, service.tasks()) == {"dc", "xinzhan", "jiangnan"}
    assert listed(session, problems.problems()) == {"dc", "xinzhan", "jiangnan"}
    assert service.get_task(session, work["xinzhan"].id) is work["xinzhan"]
    with pytest.raises(NotFound):
        service.get_task(session, work["edj"].id)
    with pytest.raises(NotFound):
        service.get_task(session, work["city"].id)
    with pytest.raises(NotFound):
        problems.get_problem(session, work["dongtonghua_problem"].id)


def test_a_district_commander_cannot_change_a_neighbour_s_work(session: Session, as_user, work) -> None:
    theirs, their_problem = work["edj"], work["edj_problem"]
    as_user("dongchang_commander")
    # Each refused write inside a savepoint, so the test's own data survives the refusal.
    with pytest.raises(Forbidden), session.begin_nested():
        service.report_progress(session, theirs, ProgressIn(text="越权填报"), now=hours(1))
    with pytest.raises(Forbidden), session.begin_nested():
        problems.add_measure(session, their_problem, MeasureIn(title="x", owner_name="y"), now=T0)
    with pytest.raises(Forbidden):
        service.create_task(session, TaskIn(jurisdiction_code=EDJ, title="x"))
    with pytest.raises(Forbidden):
        problems.file_problem(session, ProblemIn(jurisdiction_code=DONGTONGHUA, title="x"))
    session.expire_all()
    with system_access(session):
        assert session.execute(select(Task).where(Task.id == theirs.id)).scalar_one().status is TaskStatus.ASSIGNED
        assert session.execute(select(Problem).where(Problem.id == their_problem.id)).scalar_one().measures == []


def test_a_district_commander_cannot_hand_down_into_a_neighbour(session: Session, as_user, work) -> None:
    as_user("dongchang_commander")
    with pytest.raises(Invalid):  # 东通化社区 is no level below 东昌区
        service.hand_down(session, work["dc"], HandDownIn(jurisdiction_code=DONGTONGHUA))


def test_a_community_worker_works_on_their_community_s_lists(session: Session, as_user, work) -> None:
    as_user("dongchang_worker")
    assert listed(session, service.tasks()) == {"xinzhan"}
    assert listed(session, problems.problems()) == {"xinzhan"}
    with pytest.raises(NotFound):
        service.get_task(session, work["jiangnan"].id)
    service.report_progress(session, work["xinzhan"], ProgressIn(text="入户排查中", percent=30), now=hours(1))
    problems.add_measure(session, work["xinzhan_problem"], MeasureIn(title="增派人手", owner_name="网格长"), now=T0)
    with pytest.raises(Forbidden):
        service.create_task(session, TaskIn(jurisdiction_code=JIANGNAN, title="x"))
    as_user("erdaojiang_worker")
    assert listed(session, service.tasks()) == {"dongtonghua"}


def test_a_task_handed_down_to_a_community_is_seen_from_the_district(session: Session, as_user,
                                                                     make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    parent = make_task(DC, assignee="dongchang_commander", title="district")
    child = service.hand_down(session, parent, HandDownIn(
        jurisdiction_code=XINZHAN, title="community",
        responsibility=ResponsibilityIn(unit_id=committee(session, XINZHAN).id)), now=T0)
    as_user("dongchang_worker")
    assert listed(session, service.tasks()) == {"community"}
    service.report_progress(session, child, ProgressIn(text="进展", percent=50), now=hours(1))
    as_user("dongchang_commander")
    assert listed(session, service.tasks(parent_id=parent.id)) == {"community"}
    assert service.get_task(session, child.id).progress == 50
    as_user("city_commander")
    assert listed(session, service.tasks(under=DC)) == {"district", "community"}


def test_a_viewer_counts_but_reads_no_task(session: Session, as_user, work) -> None:
    as_user("viewer")
    assert session.execute(service.tasks()).first() is None
    board = inbox.dashboard(session, DC, now=hours(1))
    assert board.tasks[TaskStatus.ASSIGNED] == 3


def test_a_lab_account_reads_nothing_of_the_lists(session: Session, as_user, work) -> None:
    as_user("lab")
    assert session.execute(service.tasks()).first() is None
    assert session.execute(problems.problems()).first() is None


def test_organisations_are_seen_from_inside_and_below(session: Session, as_user) -> None:
    as_user("dongchang_commander")
    forces = {(f.jurisdiction_code, f.key) for f in organisation.task_forces(session)}
    assert (CITY, "testing") in forces and (DC, "tracing") in forces
    units = {u.jurisdiction_code for u in organisation.units(session)}
    assert EDJ not in units and DONGTONGHUA not in units and {CITY, DC, XINZHAN} <= units
    edj_hq = next(u for u in _all_units(session) if u.jurisdiction_code == EDJ)
    with pytest.raises(NotFound):
        organisation.get_unit(session, edj_hq.id)
    with pytest.raises(Forbidden):
        organisation.create_task_force(session, organisation.TaskForceIn(jurisdiction_code=EDJ, name="x"))


def _all_units(session: Session) -> list:  # type: ignore[type-arg]
    from fangkong.command.models import OrgUnit

    return list(session.execute(select(OrgUnit)).scalars())
