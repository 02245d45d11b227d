"""Who carries out the work: units (责任单位) and task forces (专班), and the users behind them.

Units and task forces are not scoped tables: a district's tasks name the city's task forces and units,
so everyone with ``command:read`` inside *or above* an organisation's jurisdiction sees it (like a
testing round). Setting them up takes ``directives:write`` over their jurisdiction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from fangkong.command.models import OrgUnit, OrgUnitKind, OrgUnitMember, TaskForce, TaskForceMember
from fangkong.command.schemas import OrgUnitIn, PartyIn, TaskForceIn
from fangkong.core.auth import Permission
from fangkong.core.errors import N_, Conflict, Invalid, NotFound
from fangkong.core.scope import Principal, principal_of, system_access
from fangkong.users.models import User

# The epidemic's standard task forces (专班), by the key templates assign their tasks through.
STANDARD_TASK_FORCES: dict[str, str] = {
    "testing": N_("Testing task force"),  # 核酸检测专班
    "tracing": N_("Tracing task force"),  # 流调溯源专班
    "isolation_transfer": N_("Isolation and transfer task force"),  # 隔离转运专班
    "community_control": N_("Community control task force"),  # 社区管控专班
    "supply": N_("Supply task force"),  # 物资保障专班
    "treatment": N_("Treatment task force"),  # 医疗救治专班
    "publicity": N_("Publicity task force"),  # 宣传舆情专班
    "coordination": N_("Coordination task force"),  # 综合协调专班
}


def code_visible(principal: Principal, code: str, permission: Permission = Permission.COMMAND_READ) -> bool:
    """Whether an organisation of jurisdiction ``code`` is visible: ``code`` lies inside or above a scope."""
    prefixes = principal.prefixes(permission)
    if prefixes is None:
        return True
    return any(p.startswith(code) or code.startswith(p) for p in prefixes)


def visible(principal: Principal, column: Any) -> ColumnElement[bool]:
    """The filter on an organisation's code ``column`` for what ``principal`` sees (inside or above)."""
    prefixes = principal.prefixes(Permission.COMMAND_READ)
    if prefixes is None:
        return true()
    if not prefixes:
        return false()
    above = {p[:n] for p in prefixes for n in (2, 4, 6, 9, 12) if n <= len(p)}
    return or_(column.in_(sorted(above)), *[column.startswith(p, autoescape=True) for p in prefixes])


def get_unit(session: Session, unit_id: int) -> OrgUnit:
    """A unit the principal sees (``NotFound`` otherwise)."""
    unit = session.get(OrgUnit, unit_id)
    if unit is None or not code_visible(principal_of(session), unit.jurisdiction_code):
        raise NotFound(N_("No such unit."))
    return unit


def get_task_force(session: Session, task_force_id: int) -> TaskForce:
    """A task force the principal sees (``NotFound`` otherwise)."""
    force = session.get(TaskForce, task_force_id)
    if force is None or not code_visible(principal_of(session), force.jurisdiction_code):
        raise NotFound(N_("No such task force."))
    return force


def units(session: Session, *, kind: OrgUnitKind | None = None, under: str | None = None) -> list[OrgUnit]:
    """The units the principal sees, by jurisdiction and name."""
    stmt = select(OrgUnit).where(visible(principal_of(session), OrgUnit.jurisdiction_code),
                                 OrgUnit.is_active.is_(True))
    if kind is not None:
        stmt = stmt.where(OrgUnit.kind == kind)
    if under:
        stmt = stmt.where(OrgUnit.jurisdiction_code.startswith(under, autoescape=True))
    return list(session.execute(stmt.order_by(OrgUnit.jurisdiction_code, OrgUnit.name)).scalars())


def task_forces(session: Session, *, under: str | None = None) -> list[TaskForce]:
    """The task forces the principal sees, with their members."""
    stmt = (select(TaskForce).options(selectinload(TaskForce.members))
            .where(visible(principal_of(session), TaskForce.jurisdiction_code), TaskForce.is_active.is_(True)))
    if under:
        stmt = stmt.where(TaskForce.jurisdiction_code.startswith(under, autoescape=True))
    return list(session.execute(stmt.order_by(TaskForce.jurisdiction_code, TaskForce.id)).scalars())


def check_user(session: Session, user_id: int | None, field: str) -> None:
    """``user_id`` names an active user (looked up unscoped: naming someone reveals nothing of them)."""
    if user_id is None:
        return
    with system_access(session):
        found = session.execute(select(User.id).where(User.id == user_id, User.is_active.is_(True))).first()
    if found is None:
        raise Invalid.field(field, N_("No such user."))


def check_party(session: Session, party: PartyIn | None, field: str) -> None:
    """A party names an existing user, or at least a name."""
    if party is None:
        return
    check_user(session, party.user_id, field)


def create_unit(session: Session, data: OrgUnitIn) -> OrgUnit:
    """A new unit, with the users who work for it."""
    principal_of(session).require(Permission.DIRECTIVES_WRITE, data.jurisdiction_code)
    if data.parent_id is not None:
        get_unit(session, data.parent_id)
    for user_id in data.member_user_ids:
        check_user(session, user_id, "member_user_ids")
    unit = OrgUnit(jurisdiction_code=data.jurisdiction_code, name=data.name.strip(), kind=data.kind,
                   parent_id=data.parent_id,
                   members=[OrgUnitMember(user_id=u) for u in dict.fromkeys(data.member_user_ids)])
    session.add(unit)
    session.flush()
    return unit


def add_unit_member(session: Session, unit: OrgUnit, user_id: int) -> OrgUnitMember:
    """Make a user a member of a unit (their inbox then holds the unit's work)."""
    principal_of(session).require(Permission.DIRECTIVES_WRITE, unit.jurisdiction_code)
    check_user(session, user_id, "user_id")
    if any(m.user_id == user_id for m in unit.members):
        raise Conflict(N_("This user already works for this unit."))
    member = OrgUnitMember(user_id=user_id)
    unit.members.append(member)
    session.flush()
    return member


def create_task_force(session: Session, data: TaskForceIn) -> TaskForce:
    """A new task force: its leaders, office and members."""
    principal_of(session).require(Permission.DIRECTIVES_WRITE, data.jurisdiction_code)
    check_party(session, data.lead_leader, "lead_leader")
    check_party(session, data.leader_in_charge, "leader_in_charge")
    if data.office_unit_id is not None:
        get_unit(session, data.office_unit_id)
    if data.key is not None and session.execute(select(TaskForce.id).where(
            TaskForce.jurisdiction_code == data.jurisdiction_code, TaskForce.key == data.key)).first():
        raise Conflict(N_("This jurisdiction already has this task force."))
    members = _members(session, data)
    lead = data.lead_leader or PartyIn()
    in_charge = data.leader_in_charge or PartyIn()
    force = TaskForce(jurisdiction_code=data.jurisdiction_code, key=data.key, name=data.name.strip(),
                      lead_leader_user_id=lead.user_id, lead_leader_name=lead.name,
                      in_charge_user_id=in_charge.user_id, in_charge_name=in_charge.name,
                      office_unit_id=data.office_unit_id, members=members)
    session.add(force)
    session.flush()
    return force


def _members(session: Session, data: TaskForceIn) -> list[TaskForceMember]:
    """The task force's members from ``data``, each a unit, a user or a name, checked."""
    members = []
    for m in data.members:
        if m.unit_id is None and m.user_id is None and not m.name.strip():
            raise Invalid.field("members", N_("Name the member: a unit, a user or a name."))
        if m.unit_id is not None:
            get_unit(session, m.unit_id)
        check_user(session, m.user_id, "members")
        members.append(TaskForceMember(unit_id=m.unit_id, user_id=m.user_id, name=m.name.strip(), duty=m.duty))
    return members


def update_task_force(session: Session, force: TaskForce, data: TaskForceIn) -> TaskForce:
    """Change a task force's name, leaders, office and members (its jurisdiction and key stay)."""
    principal_of(session).require(Permission.DIRECTIVES_WRITE, force.jurisdiction_code)
    check_party(session, data.lead_leader, "lead_leader")
    check_party(session, data.leader_in_charge, "leader_in_charge")
    if data.office_unit_id is not None:
        get_unit(session, data.office_unit_id)
    members = _members(session, data)
    lead = data.lead_leader or PartyIn()
    in_charge = data.leader_in_charge or PartyIn()
    force.name = data.name.strip()
    force.lead_leader_user_id, force.lead_leader_name = lead.user_id, lead.name.strip()
    force.in_charge_user_id, force.in_charge_name = in_charge.user_id, in_charge.name.strip()
    force.office_unit_id = data.office_unit_id
    force.members = members
    session.flush()
    return force


def nearest_task_force(session: Session, key: str, code: str) -> TaskForce | None:
    """The task force of ``key`` at ``code`` or the nearest level above it (a district's own, else the city's)."""
    above = [code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)]
    return session.execute(select(TaskForce).where(
        TaskForce.key == key, TaskForce.jurisdiction_code.in_(above), TaskForce.is_active.is_(True))
        .order_by(func.length(TaskForce.jurisdiction_code).desc()).limit(1)).scalar_one_or_none()


def unit_ids_of(session: Session, user_id: int | None) -> list[int]:
    """The units a user works for: through membership, or as a task force's member or leader."""
    if user_id is None:
        return []
    found = set(session.execute(select(OrgUnitMember.unit_id).where(OrgUnitMember.user_id == user_id)).scalars())
    offices = select(TaskForce.office_unit_id).where(
        TaskForce.office_unit_id.is_not(None),
        or_(TaskForce.lead_leader_user_id == user_id, TaskForce.in_charge_user_id == user_id,
            TaskForce.id.in_(select(TaskForceMember.task_force_id).where(TaskForceMember.user_id == user_id))))
    found.update(u for u in session.execute(offices).scalars() if u is not None)
    return sorted(found)


def task_force_ids_of(session: Session, user_id: int | None) -> list[int]:
    """The task forces a user leads or belongs to."""
    if user_id is None:
        return []
    return list(session.execute(select(TaskForce.id).where(or_(
        TaskForce.lead_leader_user_id == user_id, TaskForce.in_charge_user_id == user_id,
        TaskForce.id.in_(select(TaskForceMember.task_force_id).where(TaskForceMember.user_id == user_id)))))
        .scalars())


# -------------------------------------------------------------------------------------- the demo's setup

# The demo's standard task forces of 通化市: key → (name, the demo login that runs it).
DEMO_TASK_FORCES: dict[str, tuple[str, str | None]] = {
    "testing": ("核酸检测专班", "testing"),
    "tracing": ("流调溯源专班", "tracer"),
    "isolation_transfer": ("隔离转运专班", "isolation"),
    "community_control": ("社区管控专班", None),
    "supply": ("物资保障专班", "supply"),
    "treatment": ("医疗救治专班", "care"),
    "publicity": ("宣传舆情专班", "publicity"),
    "coordination": ("综合协调专班", None),
}
# The district's own task forces in the demo: 东昌区 runs testing and tracing itself.
DEMO_DISTRICT_FORCES: dict[str, dict[str, tuple[str, str | None]]] = {
    "220502": {"testing": ("东昌区核酸检测专班", "dongchang_testing"),
               "tracing": ("东昌区流调溯源专班", "dongchang_tracer")},
}
# Community committees with their demo workers.
DEMO_COMMITTEES = {"220502001001": ("新站社区居委会", "dongchang_worker"),
                   "220503001001": ("东通化社区居委会", "erdaojiang_worker")}


def seed_demo(session: Session, *, city: str = "2205", city_name: str = "通化市",
              districts: Iterable[tuple[str, str]] = (),
              committees: Mapping[str, tuple[str, str]] | None = None) -> dict[str, int]:
    """The demo's organisation: headquarters, the standard task forces with their offices, committees.

    ``committees``: community code → (committee name, the worker's login); the demo's two by default.
    """
    with system_access(session):
        users = {u.username: u.id for u in session.execute(select(User)).scalars()}
        counts = {"units": 0, "task_forces": 0}

        def unit(code: str, name: str, kind: OrgUnitKind, parent: OrgUnit | None, *members: str | None) -> OrgUnit:
            made = OrgUnit(jurisdiction_code=code, name=name, kind=kind, parent=parent,
                           members=[OrgUnitMember(user_id=users[m]) for m in members if m in users])
            session.add(made)
            counts["units"] += 1
            return made

        def force(code: str, key: str, name: str, hq: OrgUnit, commander: str, login: str | None) -> None:
            office = unit(code, name + "办公室", OrgUnitKind.TASK_FORCE_OFFICE, hq, login)
            session.add(TaskForce(
                jurisdiction_code=code, key=key, name=name, office=office,
                lead_leader_user_id=users.get(commander), lead_leader_name="",
                in_charge_name="", members=[TaskForceMember(user_id=users[login])] if login in users else []))
            counts["task_forces"] += 1

        hq = unit(city, city_name + "疫情防控指挥部", OrgUnitKind.HEADQUARTERS, None, "city_commander")
        for key, (name, login) in DEMO_TASK_FORCES.items():
            force(city, key, name, hq, "city_commander", login)
        for code, name in districts:
            district_hq = unit(code, name + "疫情防控指挥部", OrgUnitKind.HEADQUARTERS, hq,
                               "dongchang_commander" if code == "220502" else None)
            for key, (force_name, login) in DEMO_DISTRICT_FORCES.get(code, {}).items():
                force(code, key, force_name, district_hq, "dongchang_commander", login)
        for code, (name, login) in (DEMO_COMMITTEES if committees is None else committees).items():
            unit(code, name, OrgUnitKind.COMMUNITY_COMMITTEE, None, login)
        session.flush()
    return counts
