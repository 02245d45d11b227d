"""Coverage (应检尽检): who of a round's target has been sampled, who has a result, who is missing.

Every count is made per community in the database and rolled up here, so a city-wide view of
1.8 million people is a handful of grouped queries, not a walk over persons.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, case, exists, func, select
from sqlalchemy.orm import Session

from fangkong.core import audit
from fangkong.core.auth import Permission
from fangkong.core.db import utcnow
from fangkong.core.errors import N_, Conflict, Invalid, NotFound
from fangkong.core.i18n import local_time, translate
from fangkong.core.paging import Page, paginate
from fangkong.core.scope import AGGREGATE_OPTION, get_or_404, prefix_range, principal_of
from fangkong.geo.models import Building, Compound, Facility, Jurisdiction, Level, Unit
from fangkong.people.models import Household, Person, Whereabouts
from fangkong.testing.models import (
    Control,
    ControlState,
    DoorMark,
    DoorVisit,
    Outcome,
    Purpose,
    Round,
    Sample,
    Tube,
    TubeResult,
)
from fangkong.testing.schemas import DoorVisitIn

# Samples that count towards coverage: the round's sampling or a re-sampling, not voided by an
# invalid tube (see ``Sample.once_key``); single-tube re-tests are not counted again.
STANDING = and_(Sample.once_key.is_not(None), Sample.purpose != Purpose.RETEST)


@dataclass
class CoverageRow:
    """The testing funnel of one jurisdiction in one round."""

    code: str
    name: str
    target: int = 0  # living there, at home
    sampled: int = 0
    resulted: int = 0  # with a valid result back
    controlled: int = 0  # under temporary control now (a positive or inconclusive tube)
    positives: int = 0  # reported positive

    @property
    def sampled_share(self) -> float:
        """Sampled as a share of the target."""
        return self.sampled / self.target if self.target else 0.0

    @property
    def missing(self) -> int:
        """Target persons not yet sampled."""
        return max(self.target - self.sampled, 0)

    def add(self, other: CoverageRow) -> None:
        """Add another row's counts to this one."""
        for name in ("target", "sampled", "resulted", "controlled", "positives"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Coverage:
    """A round's funnel for one jurisdiction, and for each of its children."""

    total: CoverageRow
    children: list[CoverageRow] = field(default_factory=list)
    positive_pools: int = 0


def _by_community(session: Session, stmt: Any) -> dict[str, int]:
    return {row[0]: row[1] for row in session.execute(stmt.execution_options(**{AGGREGATE_OPTION: True}))}


def _sampled_and_resulted(session: Session, round_: Round, lo: str, hi: str) -> tuple[dict[str, int], dict[str, int]]:
    """Per community in [lo, hi): the standing samples, and those of them whose tube has a valid result.

    One pass over the samples, read from ``ix_samples_round_jurisdiction`` alone (it holds every
    column used here). Samples are counted per community and tube first, so that the results are
    looked up once per tube rather than once per sample (a tenth as often for pools of 10).
    """
    per_tube = (select(Sample.jurisdiction_code.label("code"), Sample.tube_id.label("tube_id"),
                       func.count().label("n"))
                .where(Sample.round_id == round_.id, Sample.jurisdiction_code >= lo, Sample.jurisdiction_code < hi,
                       STANDING)
                .group_by(Sample.jurisdiction_code, Sample.tube_id)
                .subquery())
    valid = and_(TubeResult.tube_id == per_tube.c.tube_id, TubeResult.outcome != Outcome.INVALID)
    stmt = (select(per_tube.c.code, func.sum(per_tube.c.n),
                   func.sum(case((TubeResult.tube_id.is_not(None), per_tube.c.n), else_=0)))
            .select_from(per_tube).outerjoin(TubeResult, valid)
            .group_by(per_tube.c.code))
    sampled: dict[str, int] = {}
    resulted: dict[str, int] = {}
    for code, n, with_result in session.execute(stmt.execution_options(**{AGGREGATE_OPTION: True})):
        sampled[code] = int(n)
        if with_result:
            resulted[code] = int(with_result)
    return sampled, resulted


def coverage(session: Session, round_: Round, under: str | None = None) -> Coverage:
    """The funnel of ``round_`` under ``under`` (the round's area by default), per child jurisdiction."""
    under = under or round_.jurisdiction_code
    if not (under.startswith(round_.jurisdiction_code) or round_.jurisdiction_code.startswith(under)):
        raise Invalid.field("under", N_("This area lies outside the round."))
    # Counting reaches no further than the round's area, nor the user's.
    code = under if len(under) >= len(round_.jurisdiction_code) else round_.jurisdiction_code
    lo, hi = prefix_range(code)
    target = _by_community(session, select(Person.jurisdiction_code, func.count())
                           .where(Person.jurisdiction_code >= lo, Person.jurisdiction_code < hi,
                                  Person.whereabouts == Whereabouts.AT_HOME)
                           .group_by(Person.jurisdiction_code))
    sampled, resulted = _sampled_and_resulted(session, round_, lo, hi)
    control_range = and_(Control.round_id == round_.id, Control.jurisdiction_code >= lo, Control.jurisdiction_code < hi)
    controlled = _by_community(session, select(Control.jurisdiction_code, func.count())
                               .where(control_range, Control.state == ControlState.CONTROLLED)
                               .group_by(Control.jurisdiction_code))
    positives = _by_community(session, select(Control.jurisdiction_code, func.count())
                              .where(control_range, Control.state == ControlState.CASE)
                              .group_by(Control.jurisdiction_code))
    pools = session.execute(
        select(func.count()).select_from(Tube).join(TubeResult, TubeResult.tube_id == Tube.id)
        .where(Tube.round_id == round_.id, Tube.pool_size > 1,
               Tube.jurisdiction_code >= lo, Tube.jurisdiction_code < hi,
               TubeResult.outcome.in_([Outcome.POSITIVE, Outcome.INCONCLUSIVE]))
        .execution_options(**{AGGREGATE_OPTION: True})).scalar_one()

    node = session.get(Jurisdiction, code)
    total = CoverageRow(code, node.name if node else code)
    level = Level.of(code)
    child_len = level.child.value if level.child is not None else len(code)
    names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name).where(
        Jurisdiction.code >= lo, Jurisdiction.code < hi, func.length(Jurisdiction.code) == child_len)).all())
    children: dict[str, CoverageRow] = {c: CoverageRow(c, n) for c, n in sorted(names.items())}
    for figures, name in ((target, "target"), (sampled, "sampled"), (resulted, "resulted"),
                          (controlled, "controlled"), (positives, "positives")):
        for community, n in figures.items():
            setattr(total, name, getattr(total, name) + n)
            key = community[:child_len]
            row = children.setdefault(key, CoverageRow(key, key))
            setattr(row, name, getattr(row, name) + n)
    listed = [] if child_len == len(code) else list(children.values())
    return Coverage(total=total, children=listed, positive_pools=int(pools))


# ------------------------------------------------------------------------------ the door-to-door list


@dataclass(frozen=True)
class MissingPerson:
    """A target person not yet sampled, where to find them, and the last door mark."""

    person: Person
    compound: str
    building: str
    unit: str
    door: str
    visit: DoorVisit | None


def _untested_statement(round_: Round, community: str) -> Select[*tuple[Any, ...]]:
    lo, hi = prefix_range(community)
    # ``round_id + 0`` keeps SQLite, which plans without statistics, off the (round, jurisdiction)
    # index here: through it, the check read every sample of the community once per person (a
    # minute for a community of 8,000); through the person's index it is a lookup.
    sampled = exists().where(Sample.person_id == Person.id, Sample.round_id + 0 == round_.id, STANDING)
    return (
        select(Person, func.coalesce(Compound.name, ""), func.coalesce(Building.number, ""),
               func.coalesce(Unit.number, ""), func.coalesce(Household.door, ""), DoorVisit)
        .outerjoin(Household, Household.id == Person.household_id)
        .outerjoin(Unit, Unit.id == Household.unit_id)
        .outerjoin(Building, Building.id == Unit.building_id)
        .outerjoin(Compound, Compound.id == Building.compound_id)
        .outerjoin(DoorVisit, and_(DoorVisit.person_id == Person.id, DoorVisit.round_id == round_.id))
        .where(Person.jurisdiction_code >= lo, Person.jurisdiction_code < hi,
               Person.whereabouts == Whereabouts.AT_HOME, ~sampled)
        .order_by(Compound.name, Building.number, Unit.number, Household.door, Person.id)
    )


def _check_area(round_: Round, community: str) -> None:
    if not (community.startswith(round_.jurisdiction_code) and len(community) == Level.COMMUNITY.value):
        raise Invalid.field("community", N_("Choose a community inside the round's area."))


def require_reach(session: Session, permission: Permission, code: str) -> None:
    """Refuse a jurisdiction the user cannot reach with ``permission`` as if it did not exist (audited)."""
    if principal_of(session).can(permission, code):
        return
    audit.record(session, audit.Action.ACCESS_DENIED, entity_name="jurisdictions", entity_id=code,
                 jurisdiction_code=code, detail={"reason": "outside scope"}, survive_rollback=True)
    raise NotFound(N_("No such jurisdiction."))


def _require_list(session: Session, round_: Round, community: str) -> None:
    """The door-to-door list names persons and says who is untested: it needs both reads there."""
    _check_area(round_, community)
    require_reach(session, Permission.PEOPLE_READ, community)
    principal_of(session).require(Permission.TESTING_READ, community)


def untested(session: Session, round_: Round, community: str, *, page: int = 1, size: int = 100) -> Page[MissingPerson]:
    """The target persons of ``community`` not yet sampled in ``round_``, by compound, building and door."""
    _require_list(session, round_, community)
    result = paginate(session, _untested_statement(round_, community), page=page, size=size, scalars=False)
    result.items = [MissingPerson(*row) for row in result.items]
    return result


def iter_untested(session: Session, round_: Round, community: str) -> Iterator[MissingPerson]:
    """Every target person of ``community`` not yet sampled (for the export)."""
    _require_list(session, round_, community)
    for row in session.execute(_untested_statement(round_, community).execution_options(yield_per=1000)):
        yield MissingPerson(*row)


def door_visit(session: Session, round_: Round, person_id: int) -> DoorVisit | None:
    """The standing mark on a person's door in a round, if any."""
    return session.execute(select(DoorVisit).where(DoorVisit.round_id == round_.id,
                                                   DoorVisit.person_id == person_id)).scalar_one_or_none()


def mark_door(session: Session, round_: Round, person_id: int, data: DoorVisitIn, *,
              now: datetime | None = None) -> DoorVisit:
    """Record a community worker's visit to a person not yet sampled (the latest mark stands)."""
    person = get_or_404(session, Person, person_id, what=N_("No such person."))
    principal_of(session).require(Permission.TESTING_MARK, person.jurisdiction_code)
    _check_area(round_, person.jurisdiction_code)
    if session.execute(select(Sample.id).where(Sample.person_id == person.id, Sample.round_id == round_.id,
                                               STANDING)).first() is not None:
        raise Conflict(N_("This person has been sampled in this round already."))
    visit = door_visit(session, round_, person.id)
    if visit is None:
        visit = DoorVisit(round_id=round_.id, person_id=person.id, jurisdiction_code=person.jurisdiction_code)
        session.add(visit)
    visit.mark = data.mark
    visit.reason = data.reason if data.mark is DoorMark.CANNOT_BE_SAMPLED else None
    visit.note = data.note
    visit.marked_at = now or utcnow()
    visit.marked_by_id = principal_of(session).user_id
    session.flush()
    return visit


EXPORT_HEADERS = (N_("Compound"), N_("Building"), N_("Unit"), N_("Door"), N_("Name"), N_("Sex"), N_("Age"),
                  N_("Phone"), N_("Door visit"), N_("Reason"), N_("Note"))


def export_untested(session: Session, round_: Round, community: str, *, now: datetime | None = None) -> bytes:
    """The door-to-door list of ``community`` as ``.xlsx``: masked, watermarked, and audited."""
    from openpyxl import Workbook

    now = now or utcnow()
    principal = principal_of(session)
    # Refuse before a workbook exists: an abandoned write-only workbook leaves a temporary file behind.
    _require_list(session, round_, community)
    node = session.get(Jurisdiction, community)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(translate(N_("Not yet sampled"))[:31])
    mark = translate(N_("Exported by {user} at {time}; for door-to-door work in this community only."),
                     {"user": principal.username, "time": local_time(now)})
    sheet.append([f"{round_.name} · {node.name if node else community}"])
    sheet.append([mark])
    sheet.append([translate(h) for h in EXPORT_HEADERS])
    count = 0
    today = now.date()
    for m in iter_untested(session, round_, community):
        p, v = m.person, m.visit
        sheet.append([m.compound, m.building, m.unit, m.door, p.masked_name, translate(p.sex.label), p.age_on(today),
                      p.masked_phone, translate(v.mark.label) if v else "",
                      translate(v.reason.label) if v and v.reason else "", v.note if v else ""])
        count += 1
    sheet.append([mark])
    buffer = io.BytesIO()
    book.save(buffer)
    audit.record(session, audit.Action.EXPORT, entity_name="untested", entity_id=round_.id, jurisdiction_code=community,
                 detail={"round_id": round_.id, "rows": count, "format": "xlsx"})
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------- turnaround


@dataclass(frozen=True)
class Turnaround:
    """Hours from sampling to result at one lab: how many tubes, the median and the 95th percentile."""

    lab_id: int | None
    lab_name: str
    tubes: int
    median_hours: float
    p95_hours: float


def turnaround(session: Session, round_: Round) -> list[Turnaround]:
    """Sampling-to-result time per lab in ``round_`` (from a tube's last sample to its test)."""
    last_sample = (select(Sample.tube_id, func.max(Sample.sampled_at).label("sampled_at"))
                   .where(Sample.round_id == round_.id).group_by(Sample.tube_id).subquery())
    rows = session.execute(
        select(TubeResult.lab_id, TubeResult.tested_at, last_sample.c.sampled_at)
        .join(last_sample, last_sample.c.tube_id == TubeResult.tube_id)
        .execution_options(**{AGGREGATE_OPTION: True})).all()
    hours: dict[int | None, list[float]] = defaultdict(list)
    for lab_id, tested_at, sampled_at in rows:
        if isinstance(sampled_at, str):  # SQLite returns max() of a timestamp as its stored text
            sampled_at = datetime.fromisoformat(sampled_at).replace(tzinfo=tested_at.tzinfo)
        hours[lab_id].append((tested_at - sampled_at).total_seconds() / 3600)
    # .all(): dict() of a Result itself takes it for a mapping (it has keys()) and fails.
    names = dict(session.execute(select(Facility.id, Facility.name).where(Facility.id.in_(
        [k for k in hours if k is not None]))).all()) if hours else {}
    found = []
    for lab_id, values in sorted(hours.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        arr = np.asarray(values)
        found.append(Turnaround(lab_id, names.get(lab_id, "-") if lab_id is not None else "-", len(values),
                                float(np.median(arr)), float(np.percentile(arr, 95))))
    return found
