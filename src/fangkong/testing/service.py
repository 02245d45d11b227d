"""Rounds, sampling sites, tubes and sampling registration, and the pool loop that results drive."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ARRAY, Integer, Row, any_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from fangkong import rulesets
from fangkong.core import audit, events
from fangkong.core.auth import Permission
from fangkong.core.db import bulk_insert, utcnow
from fangkong.core.errors import N_, Conflict, FieldError, Invalid, NotFound
from fangkong.core.events import DomainEvent
from fangkong.core.scope import get_or_404, principal_of, system_access
from fangkong.geo import service as geo
from fangkong.geo.models import Facility, FacilityKind, Jurisdiction
from fangkong.people.models import Person
from fangkong.testing.events import ControlReleased, PoolPositive, PositiveFound, ResamplingOrdered, ResamplingOverdue
from fangkong.testing.models import (
    Control,
    ControlReason,
    ControlState,
    OrderKind,
    OrderMember,
    Outcome,
    Purpose,
    ResampleOrder,
    Risk,
    Round,
    RoundArea,
    Sample,
    SamplingSite,
    Tube,
    TubeResult,
    TubeState,
)
from fangkong.testing.schemas import (
    BatchResult,
    EntryResult,
    EntryStatus,
    RoundIn,
    SampleBatch,
    SampleEntry,
    SiteIn,
)

# ---------------------------------------------------------------------------------------------- rounds


def rules_of(round_: Round) -> rulesets.TestingRules:
    """The testing rules the round runs under."""
    return rulesets.load(round_.ruleset).testing


def pool_size_for_risk(rules: rulesets.TestingRules, risk: Risk) -> int:
    """The rule set's pool size for an area of ``risk``."""
    return {Risk.LOW: rules.pool_size_low, Risk.MEDIUM: rules.pool_size_medium,
            Risk.HIGH: rules.pool_size_high}[risk]


def rounds(session: Session, *, permission: Permission = Permission.TESTING_READ) -> list[Round]:
    """The rounds the user's ``permission`` reaches: those over, under or at their jurisdictions."""
    principal = principal_of(session)
    stmt = select(Round).order_by(Round.starts_at.desc(), Round.id.desc())
    prefixes = principal.prefixes(permission)
    if prefixes is None:
        return list(session.execute(stmt).scalars())
    if not prefixes:
        return []
    found = session.execute(stmt).scalars().all()
    return [r for r in found if any(p.startswith(r.jurisdiction_code) or r.jurisdiction_code.startswith(p)
                                    for p in prefixes)]


def get_round(session: Session, round_id: int) -> Round:
    """One round the user may see; ``NotFound`` otherwise (audited when the round exists)."""
    for r in rounds(session):
        if r.id == round_id:
            return r
    hidden = session.get(Round, round_id)  # rounds are not scoped: this only tells hidden from missing
    if hidden is not None:
        audit.record(session, audit.Action.ACCESS_DENIED, entity=hidden, detail={"reason": "outside scope"},
                     survive_rollback=True)
    raise NotFound(N_("No such round."))


def create_round(session: Session, data: RoundIn) -> Round:
    """Open a round over a jurisdiction subtree under the deployment's rule set."""
    principal = principal_of(session)
    # An area the user cannot see is a wrong input (422); one they see but may not write, a refusal.
    geo.require_jurisdiction(session, data.jurisdiction_code)
    principal.require(Permission.TESTING_WRITE, data.jurisdiction_code)
    ruleset = rulesets.current()
    rules = ruleset.testing
    deadline = data.deadline or data.starts_at + timedelta(hours=rules.round_hours)
    if deadline <= data.starts_at:
        raise Invalid.field("deadline", N_("The deadline must come after the start."))
    round_ = Round(name=data.name, jurisdiction_code=data.jurisdiction_code, ruleset=ruleset.name,
                   default_risk=data.default_risk, starts_at=data.starts_at, deadline=deadline,
                   created_by_id=principal.user_id)
    errors: list[FieldError] = []
    for i, area in enumerate(data.areas):
        field = f"areas.{i}"
        if not area.jurisdiction_code.startswith(data.jurisdiction_code):
            errors.append(FieldError(f"{field}.jurisdiction_code", N_("This area lies outside the round.")))
            continue
        size = area.pool_size or pool_size_for_risk(rules, area.risk)
        if size not in rules.allowed_pool_sizes:
            errors.append(FieldError(f"{field}.pool_size", N_("Pool size {size} is not allowed by the rule set."),
                                     {"size": size}))
            continue
        round_.areas.append(RoundArea(jurisdiction_code=area.jurisdiction_code, risk=area.risk, pool_size=size))
    if errors:
        raise Invalid(N_("Please correct the marked fields."), errors=errors)
    session.add(round_)
    session.flush()
    return round_


def set_area(session: Session, round_: Round, code: str, risk: Risk, pool_size: int | None = None) -> RoundArea:
    """Set (or change) the risk and pool size of an area of a round; later tubes use it."""
    principal_of(session).require(Permission.TESTING_WRITE, code)
    if not code.startswith(round_.jurisdiction_code):
        raise Invalid.field("jurisdiction_code", N_("This area lies outside the round."))
    rules = rules_of(round_)
    size = pool_size or pool_size_for_risk(rules, risk)
    if size not in rules.allowed_pool_sizes:
        raise Invalid.field("pool_size", N_("Pool size {size} is not allowed by the rule set."), size=size)
    area = next((a for a in round_.areas if a.jurisdiction_code == code), None)
    if area is None:
        area = RoundArea(jurisdiction_code=code, risk=risk, pool_size=size)
        round_.areas.append(area)
    else:
        area.risk, area.pool_size = risk, size
    session.flush()
    return area


def area_of(round_: Round, code: str) -> tuple[Risk, int]:
    """The risk and pool size at ``code``: the narrowest area of the round holding it, else the default."""
    best = None
    for area in round_.areas:
        if code.startswith(area.jurisdiction_code) and (best is None or len(area.jurisdiction_code) >
                                                        len(best.jurisdiction_code)):
            best = area
    if best is not None:
        return best.risk, best.pool_size
    return round_.default_risk, pool_size_for_risk(rules_of(round_), round_.default_risk)


def close_round(session: Session, round_: Round, *, now: datetime | None = None) -> Round:
    """End a round's sampling; results and re-tests still come in."""
    principal_of(session).require(Permission.TESTING_WRITE, round_.jurisdiction_code)
    if round_.closed_at is None:
        round_.closed_at = now or utcnow()
        session.flush()
    return round_


# ----------------------------------------------------------------------------------------------- sites


def create_site(session: Session, data: SiteIn) -> SamplingSite:
    """Register a sampling site and the communities it serves."""
    geo.require_jurisdiction(session, data.jurisdiction_code)
    errors = []
    for i, code in enumerate(data.serves):
        # Looked up in scope: a community the user cannot see is reported like an unknown one.
        known = session.execute(select(Jurisdiction.code).where(Jurisdiction.code == code)).first()
        if len(code) != 12 or known is None:
            errors.append(FieldError(f"serves.{i}", N_("No such community: {code}"), {"code": code}))
    if data.closes_at <= data.opens_at:
        errors.append(FieldError("closes_at", N_("The closing time must come after the opening time.")))
    if errors:
        raise Invalid(N_("Please correct the marked fields."), errors=errors)
    site = SamplingSite(name=data.name, jurisdiction_code=data.jurisdiction_code, address=data.address,
                        opens_at=data.opens_at, closes_at=data.closes_at, serves=list(data.serves))
    session.add(site)
    session.flush()
    return site


def sites(session: Session, *, serving: str | None = None) -> list[SamplingSite]:
    """The sampling sites in scope; with ``serving``, those that serve that community."""
    found = session.execute(select(SamplingSite).order_by(SamplingSite.jurisdiction_code, SamplingSite.id)).scalars()
    return [s for s in found if serving is None or serving in s.serves or serving.startswith(s.jurisdiction_code)]


def get_site(session: Session, site_id: int) -> SamplingSite:
    """One sampling site in scope."""
    return get_or_404(session, SamplingSite, site_id, what=N_("No such sampling site."))


# ----------------------------------------------------------------------------------------------- tubes


def get_tube(session: Session, code: str) -> Tube:
    """A tube by its barcode, in scope."""
    tube = session.execute(select(Tube).where(Tube.code == code)).scalar_one_or_none()
    if tube is not None:
        return tube
    with system_access(session):
        hidden = session.execute(select(Tube).where(Tube.code == code)).scalar_one_or_none()
    if hidden is not None:
        # Another lab's or area's tube is answered like a missing one, and the attempt audited.
        audit.record(session, audit.Action.ACCESS_DENIED, entity=hidden, detail={"reason": "outside scope"},
                     survive_rollback=True)
        session.expunge(hidden)
    raise NotFound(N_("No such tube: {code}"), code=code)


def open_tube(session: Session, round_: Round, code: str, *, site: SamplingSite | None,
              pool_size: int | None = None, purpose: Purpose = Purpose.SCREENING,
              jurisdiction_code: str | None = None) -> Tube:
    """Open a tube (scan its barcode) at a site for a round."""
    tube = _new_tube(round_, code, site=site, pool_size=pool_size, purpose=purpose,
                     jurisdiction_code=jurisdiction_code, taken=_codes_taken(session, {code}))
    session.add(tube)
    session.flush()
    return tube


def _codes_taken(session: Session, codes: set[str]) -> set[str]:
    """Which of ``codes`` belong to a tube already, wherever it is."""
    if not codes:
        return set()
    with system_access(session):
        return set(session.execute(select(Tube.code).where(Tube.code.in_(codes))).scalars())


def _new_tube(round_: Round, code: str, *, site: SamplingSite | None, pool_size: int | None, purpose: Purpose,
              jurisdiction_code: str | None, taken: set[str]) -> Tube:
    """A tube to open, not yet added to the session; ``taken`` holds the codes already in use."""
    if not round_.is_open and purpose is Purpose.SCREENING:
        raise Conflict(N_("The round is closed."))
    where = jurisdiction_code or (site.jurisdiction_code if site else round_.jurisdiction_code)
    rules = rules_of(round_)
    size = 1 if purpose is Purpose.RETEST else pool_size or area_of(round_, where)[1]
    if size not in rules.allowed_pool_sizes:
        raise Invalid.field("pool_size", N_("Pool size {size} is not allowed by the rule set."), size=size)
    if code in taken:
        raise Conflict(N_("Tube {code} is already in use."), code=code)
    return Tube(code=code, round_id=round_.id, site_id=site.id if site else None, pool_size=size, purpose=purpose,
                state=TubeState.OPEN, filled=0, jurisdiction_code=where)


def close_tube(session: Session, tube: Tube, *, now: datetime | None = None) -> Tube:
    """Close a tube that will take no more persons."""
    if tube.state is TubeState.OPEN:
        tube.state = TubeState.CLOSED
        tube.closed_at = now or utcnow()
        session.flush()
    return tube


def send_tubes(session: Session, codes: Sequence[str], lab_id: int, *, now: datetime | None = None) -> int:
    """Hand closed (or still open) tubes to a lab; returns how many were sent."""
    lab = session.get(Facility, lab_id)
    if lab is None or lab.kind is not FacilityKind.LAB:
        raise Invalid.field("lab_id", N_("No such laboratory."))
    now = now or utcnow()
    tubes = {t.code: t for t in session.execute(select(Tube).where(Tube.code.in_(set(codes)))).scalars()}
    missing = [c for c in codes if c not in tubes]
    if missing:
        raise Invalid(N_("Unknown tubes: {codes}"), codes=", ".join(missing[:20]),
                      errors=[FieldError("tube_codes", N_("No such tube: {code}"), {"code": c}) for c in missing])
    for tube in tubes.values():
        if tube.state is TubeState.OPEN:
            tube.closed_at = now
        tube.state, tube.sent_at, tube.lab_id = TubeState.SENT, now, lab.id
    session.flush()
    return len(tubes)


# -------------------------------------------------------------------------------------------- sampling


def register_batch(session: Session, batch: SampleBatch, *, now: datetime | None = None) -> BatchResult:
    """Store a sampling device's batch; every entry gets its own outcome.

    A retried batch finds its entries by client id and stores nothing twice; a person already
    sampled in the round is reported with their tube. Entries for tubes of other rounds, full
    tubes or persons outside the user's jurisdiction are rejected one by one, the rest stored.
    """
    principal = principal_of(session)
    principal.require(Permission.TESTING_WRITE)
    now = now or utcnow()
    round_ = get_round(session, batch.round_id)
    if batch.purpose is Purpose.SCREENING and not round_.is_open:
        raise Conflict(N_("The round is closed."))
    site = get_site(session, batch.site_id) if batch.site_id is not None else None
    results: dict[int, EntryResult] = {}

    def reject(i: int, entry: SampleEntry, message: str, **params: Any) -> None:
        from fangkong.core.i18n import translate

        results[i] = EntryResult(client_id=entry.client_id, status=EntryStatus.REJECTED,
                                 message=translate(message, params))

    entries = list(enumerate(batch.entries))
    # A retried batch: entries whose client id is on file were stored before.
    with system_access(session):
        known = dict(session.execute(select(Sample.client_id, Sample.id)
                                     .where(Sample.client_id.in_({e.client_id for _, e in entries}))).all())
    seen_ids: set[str] = set()
    fresh = []
    for i, entry in entries:
        if entry.client_id in known:
            results[i] = EntryResult(client_id=entry.client_id, status=EntryStatus.ALREADY_STORED,
                                     sample_id=known[entry.client_id])
        elif entry.client_id in seen_ids:
            reject(i, entry, N_("The client id {client_id} appears twice in the batch."), client_id=entry.client_id)
        else:
            seen_ids.add(entry.client_id)
            fresh.append((i, entry))

    persons = _persons(session, [e for _, e in fresh])
    tubes = {t.code: t for t in session.execute(
        select(Tube).where(Tube.code.in_({e.tube_code for _, e in fresh})).with_for_update()).scalars()}
    orders = _open_orders(session, round_, batch.purpose, [p[0] for p in persons.values()]) \
        if batch.purpose is not Purpose.SCREENING else {}
    wanted: list[tuple[int, SampleEntry, int, str, str, int | None]] = []
    for i, entry in fresh:
        person = persons.get(entry.person_id if entry.person_id is not None else (entry.id_number or "").upper())
        if person is None:
            reject(i, entry, N_("No such person in your jurisdiction."))
            continue
        person_id, community = person
        if not principal.can(Permission.TESTING_WRITE, community):
            reject(i, entry, N_("No such person in your jurisdiction."))
            continue
        if entry.sampled_at > now + timedelta(minutes=10):
            reject(i, entry, N_("The sampling time {value} is in the future."), value=entry.sampled_at.isoformat())
            continue
        order_id = None
        if batch.purpose is not Purpose.SCREENING:
            order_id = orders.get(person_id)
            if order_id is None:
                reject(i, entry, N_("This person has no open re-sampling order in this round."))
                continue
        # The round's sampling and a re-sampling after an invalid tube share one key, so a person
        # holds at most one standing sample of the round; a re-test has its own, per order.
        once = f"o{order_id}:p{person_id}" if batch.purpose is Purpose.RETEST else f"r{round_.id}:p{person_id}"
        wanted.append((i, entry, person_id, community, once, order_id))

    # A person scanned twice (earlier, or twice in this batch) is reported with their tube.
    with system_access(session):
        earlier = dict(session.execute(
            select(Sample.once_key, Tube.code).join(Tube, Tube.id == Sample.tube_id)
            .where(Sample.once_key.in_({w[4] for w in wanted}))).all())
    # The tubes the batch opens are checked for codes in use all at once, and inserted in one flush.
    taken = _codes_taken(session, {w[1].tube_code for w in wanted} - tubes.keys())
    added: dict[str, int] = defaultdict(int)  # persons the batch puts into each tube
    accepted: list[tuple[int, SampleEntry, int, str, str, int | None]] = []
    for i, entry, person_id, community, once, order_id in wanted:
        if once in earlier:
            results[i] = EntryResult(client_id=entry.client_id, status=EntryStatus.ALREADY_SAMPLED,
                                     tube_code=earlier[once])
            continue
        tube = tubes.get(entry.tube_code)
        if tube is None:
            if site is None and batch.purpose is Purpose.SCREENING:
                reject(i, entry, N_("Unknown tube {code}: give the site so that it can be opened."),
                       code=entry.tube_code)
                continue
            tube = _new_tube(round_, entry.tube_code, site=site, pool_size=batch.pool_size, purpose=batch.purpose,
                             jurisdiction_code=None if site else community, taken=taken)
            session.add(tube)
            tubes[tube.code] = tube
        problem = _tube_problem(tube, round_, batch.purpose, adding=added[tube.code])
        if problem:
            reject(i, entry, problem, code=tube.code)
            continue
        earlier[once] = tube.code
        added[tube.code] += 1
        accepted.append((i, entry, person_id, community, once, order_id))
    session.flush()
    for code, n in added.items():
        tube = tubes[code]
        tube.filled += n
        if tube.is_full:
            tube.state, tube.closed_at = TubeState.CLOSED, now
    session.flush()
    rows: list[dict[str, Any]] = []
    stored_index: list[int] = []
    for i, entry, person_id, community, once, order_id in accepted:
        rows.append({"client_id": entry.client_id, "round_id": round_.id, "tube_id": tubes[entry.tube_code].id,
                     "person_id": person_id, "purpose": batch.purpose, "order_id": order_id,
                     "sampled_at": entry.sampled_at, "once_key": once, "recorded_by_id": principal.user_id,
                     "jurisdiction_code": community})
        stored_index.append(i)
    if rows:
        ids = bulk_insert(session, Sample, rows, with_ids=True)
        for i, sample_id, row in zip(stored_index, ids, rows, strict=True):
            results[i] = EntryResult(client_id=row["client_id"], status=EntryStatus.STORED, sample_id=sample_id)
        if batch.purpose is not Purpose.SCREENING:
            _fulfil_orders(session, [(r["order_id"], r["person_id"], sid) for r, sid in zip(rows, ids, strict=True)],
                           now)
        audit.record(session, audit.Action.CREATE, entity_name="samples", entity_id=ids[0],
                     jurisdiction_code=round_.jurisdiction_code,
                     detail={"count": len(ids), "first_id": ids[0], "last_id": ids[-1], "round_id": round_.id})
    ordered = [results[i] for i in range(len(batch.entries))]
    counts = defaultdict(int, {s: 0 for s in EntryStatus})
    for r in ordered:
        counts[r.status] += 1
    return BatchResult(stored=counts[EntryStatus.STORED], already_stored=counts[EntryStatus.ALREADY_STORED],
                       already_sampled=counts[EntryStatus.ALREADY_SAMPLED], rejected=counts[EntryStatus.REJECTED],
                       entries=ordered)


def _persons(session: Session, entries: Iterable[SampleEntry]) -> dict[int | str | None, tuple[int, str]]:
    """The persons named by ``entries`` (by id and by ID number) that the user may see."""
    by_id = {e.person_id for e in entries if e.person_id is not None}
    by_number = {e.id_number.upper() for e in entries if e.id_number is not None}
    found: dict[int | str | None, tuple[int, str]] = {}
    if by_id or by_number:
        conditions = []
        if by_id:
            conditions.append(Person.id.in_(by_id))
        if by_number:
            conditions.append(Person.id_number.in_(by_number))
        for pid, number, code in session.execute(
                select(Person.id, Person.id_number, Person.jurisdiction_code).where(or_(*conditions))):
            found[pid] = found[number] = (pid, code)
    return found


def _tube_problem(tube: Tube, round_: Round, purpose: Purpose, *, adding: int = 0) -> str | None:
    """Why ``tube`` cannot take one more person of ``purpose`` when ``adding`` more are on their way
    into it (an msgid with {code}), or None."""
    if tube.round_id != round_.id:
        return N_("Tube {code} belongs to another round.")
    if tube.purpose is not purpose:
        return N_("Tube {code} is for another purpose.")
    if tube.state is not TubeState.OPEN or tube.filled + adding >= tube.pool_size:
        return N_("Tube {code} is closed or full.")
    return None


def _open_orders(session: Session, round_: Round, purpose: Purpose, person_ids: list[int]) -> dict[int, int]:
    """For each person, the oldest open re-sampling order of ``purpose``'s kind they still await."""
    kind = OrderKind.RETEST if purpose is Purpose.RETEST else OrderKind.RESAMPLE
    rows = session.execute(
        select(OrderMember.person_id, ResampleOrder.id)
        .join(ResampleOrder, ResampleOrder.id == OrderMember.order_id)
        .where(ResampleOrder.round_id == round_.id, ResampleOrder.kind == kind, OrderMember.sample_id.is_(None),
               OrderMember.person_id.in_(person_ids))
        .order_by(ResampleOrder.id.desc())).all()
    return {pid: oid for pid, oid in rows}


def _fulfil_orders(session: Session, done: list[tuple[int, int, int]], now: datetime) -> None:
    """Link re-samples to their orders; an order whose members are all re-sampled is done."""
    touched = set()
    for order_id, person_id, sample_id in done:
        member = session.execute(select(OrderMember).where(OrderMember.order_id == order_id,
                                                           OrderMember.person_id == person_id)).scalar_one()
        member.sample_id = sample_id
        touched.add(order_id)
    session.flush()
    for order_id in touched:
        waiting = session.execute(select(func.count()).select_from(OrderMember).where(
            OrderMember.order_id == order_id, OrderMember.sample_id.is_(None))).scalar_one()
        if not waiting:
            order = session.get_one(ResampleOrder, order_id)
            order.done_at = now
    session.flush()


# -------------------------------------------------------------------------------------------- the loop


def apply_results(session: Session, tube_ids: Sequence[int], *, now: datetime | None = None) -> dict[str, int]:
    """Run the pool loop for new results of ``tube_ids``; returns how many of each reaction.

    - a positive or inconclusive pool (混管阳性/可疑): every member under temporary control, and for
      each member's community a single-tube re-test order with the rule set's clock;
    - a positive single tube: the person is reported positive (an event tracing picks up);
    - an inconclusive single tube: control and a re-test, like a pool;
    - a negative re-test: the person's control ends;
    - an invalid tube: its members are to be sampled again (a re-test tube's as a re-test).

    Tubes react in the order of their ids. A lab file brings a thousand reacting tubes at once, so
    their samples and the controls running are read in a few queries, the new controls, orders and
    their members are inserted in one statement each (audited as one entry per table, with the
    count, like any bulk write), and the events are journalled together, then delivered in order.
    """
    now = now or utcnow()
    counts: dict[str, int] = defaultdict(int)
    if not tube_ids:
        return counts
    with system_access(session):
        # The reactions reach persons of the tube, wherever the importing lab's scope ends.
        tubes: list[_Reacting] = []
        samples: dict[int, list[_Row]] = defaultdict(list)
        for chunk in _chunks(session, sorted(set(tube_ids))):
            # The tubes and their results are read apart, each by its primary key, and put together
            # here: the results were written a moment ago, in this transaction, and the planner's
            # statistics may not know them yet (a table emptied and analysed before counts as empty).
            # Joined, a plan made for an empty table walks every result once for each tube.
            found = {r.tube_id: r for r in session.execute(
                select(TubeResult.tube_id, TubeResult.outcome, TubeResult.tested_at)
                .where(_among(session, TubeResult.tube_id, chunk)))}
            tubes += [_Reacting(*tube, found[tube.id].outcome, found[tube.id].tested_at)
                      for tube in session.execute(select(*_TUBE_FIELDS).where(_among(session, Tube.id, chunk)))
                      if tube.id in found]
            for s in session.execute(select(*_SAMPLE_FIELDS).where(_among(session, Sample.tube_id, chunk))
                                     .order_by(Sample.id)):
                samples[s.tube_id].append(s)
        tubes.sort(key=lambda tube: tube.id)
        loop = _PoolLoop(session, now, counts)
        loop.load_controls({tube.round_id for tube in tubes}, {s.person_id for ss in samples.values() for s in ss})
        for tube in tubes:
            if samples.get(tube.id):
                loop.react(tube, samples[tube.id])
        loop.finish()
    session.flush()
    return counts


_Row = Row[*tuple[Any, ...]]  # a plain row of a query

# What the loop reads of a reacting tube and of its samples: plain rows, not ORM objects, as a file
# brings tens of thousands of them.
_TUBE_FIELDS = (Tube.id, Tube.code, Tube.round_id, Tube.pool_size, Tube.purpose, Tube.jurisdiction_code)
_SAMPLE_FIELDS = (Sample.id, Sample.tube_id, Sample.person_id, Sample.sampled_at, Sample.jurisdiction_code)


class _Reacting(NamedTuple):
    """A tube whose new result the pool loop reacts to (``_TUBE_FIELDS``), with the result."""

    id: int
    code: str
    round_id: int
    pool_size: int
    purpose: Purpose
    jurisdiction_code: str
    outcome: Outcome
    tested_at: datetime


def _chunks(session: Session, ids: Sequence[int], size: int = 5000) -> Iterable[Sequence[int]]:
    """``ids`` in slices small enough for one IN list (all at once on PostgreSQL, which takes an array)."""
    if _takes_arrays(session):
        size = max(len(ids), 1)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _among(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """``column IN ids``; on PostgreSQL ``column = ANY(array)``, one parameter instead of thousands, which
    the driver would otherwise splice into the statement one by one."""
    if _takes_arrays(session):
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(ids)


def _takes_arrays(session: Session) -> bool:
    """Whether the session's database takes an array as one parameter (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"


class _PoolLoop:
    """The reactions to a set of new results, built in memory and written at the end.

    Controls running are kept in a map that reactions update as they start and end them, so a person
    who turns up in two reacting tubes is treated as if the tubes were handled one by one. A control
    started here is a row to insert (a dict) until the end; one found running is the ORM object.
    """

    def __init__(self, session: Session, now: datetime, counts: dict[str, int]) -> None:
        self.session, self.now, self.counts = session, now, counts
        self.controlled: dict[tuple[int, int], Control | dict[str, Any]] = {}  # (round, person) → running
        self.new_controls: list[dict[str, Any]] = []
        self.orders: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []  # order row, its member rows
        self.voided: list[int] = []  # samples of invalid tubes
        self.events: list[Callable[[], DomainEvent]] = []
        self.rounds: dict[int, Round] = {}

    def load_controls(self, round_ids: set[int], person_ids: set[int]) -> None:
        """Read the controls running for these persons in these rounds."""
        for chunk in _chunks(self.session, sorted(person_ids)):
            for control in self.session.execute(select(Control).where(
                    Control.round_id.in_(round_ids), Control.state == ControlState.CONTROLLED,
                    _among(self.session, Control.person_id, chunk))).scalars():
                self.controlled[(control.round_id, control.person_id)] = control

    def round_of(self, tube: _Reacting) -> Round:
        if tube.round_id not in self.rounds:
            self.rounds[tube.round_id] = self.session.get_one(Round, tube.round_id)
        return self.rounds[tube.round_id]

    def react(self, tube: _Reacting, samples: Sequence[_Row]) -> None:
        """The reaction to one tube's new result (``tube`` carries the result's outcome and time)."""
        round_ = self.round_of(tube)
        outcome = tube.outcome
        single = tube.pool_size == 1
        if outcome is Outcome.POSITIVE and single:
            for s in samples:
                self.report_positive(round_, tube, s)
                self.counts["positives"] += 1
        elif outcome in (Outcome.POSITIVE, Outcome.INCONCLUSIVE):
            reason = (ControlReason.POSITIVE_POOL if outcome is Outcome.POSITIVE else ControlReason.INCONCLUSIVE_POOL)
            for s in samples:
                self.control(round_, tube, s, reason)
            self.counts["controlled"] += len(samples)
            self.order(round_, tube, samples, OrderKind.RETEST)
            if not single:
                self.counts["positive_pools"] += 1
                self.events.append(lambda: PoolPositive(
                    jurisdiction_code=tube.jurisdiction_code, round_id=round_.id, tube_id=tube.id, tube_code=tube.code,
                    outcome=outcome.value, members=len(samples)))
        elif outcome is Outcome.NEGATIVE and tube.purpose is Purpose.RETEST:
            for s in samples:
                if self.release(round_, s):
                    self.counts["released"] += 1
        elif outcome is Outcome.INVALID:
            # The samples no longer count; the persons may be (and must be) sampled again.
            self.voided += [s.id for s in samples]
            kind = OrderKind.RETEST if tube.purpose is Purpose.RETEST else OrderKind.RESAMPLE
            self.order(round_, tube, samples, kind)
            self.counts["invalid"] += 1

    def control(self, round_: Round, tube: _Reacting, sample: _Row, reason: ControlReason) -> None:
        """Put a person under temporary control (keeping a control already running)."""
        key = (round_.id, sample.person_id)
        if key not in self.controlled:
            row = {"round_id": round_.id, "person_id": sample.person_id, "tube_id": tube.id, "reason": reason,
                   "state": ControlState.CONTROLLED, "started_at": self.now, "ended_at": None,
                   "jurisdiction_code": sample.jurisdiction_code}
            self.new_controls.append(row)
            self.controlled[key] = row

    def release(self, round_: Round, sample: _Row) -> bool:
        """End a person's control after a negative re-test; whether one was running."""
        control = self.controlled.pop((round_.id, sample.person_id), None)
        if control is None:
            return False
        _end(control, ControlState.RELEASED, self.now)
        self.events.append(lambda: ControlReleased(jurisdiction_code=sample.jurisdiction_code,
                                                   person_id=sample.person_id, round_id=round_.id))
        return True

    def report_positive(self, round_: Round, tube: _Reacting, sample: _Row) -> None:
        """A positive single tube: the person's control (started now if none runs) becomes a case."""
        control = self.controlled.pop((round_.id, sample.person_id), None)
        if control is None:
            control = {"round_id": round_.id, "person_id": sample.person_id, "tube_id": tube.id,
                       "reason": ControlReason.POSITIVE, "started_at": self.now,
                       "jurisdiction_code": sample.jurisdiction_code}
            self.new_controls.append(control)
        _end(control, ControlState.CASE, self.now)
        self.events.append(lambda: PositiveFound(
            jurisdiction_code=sample.jurisdiction_code, person_id=sample.person_id, round_id=round_.id,
            tube_id=tube.id, sampled_at=sample.sampled_at, tested_at=tube.tested_at))

    def order(self, round_: Round, tube: _Reacting, samples: Sequence[_Row], kind: OrderKind) -> None:
        """One re-sampling order per community of the tube's members, due by the rule set's clock."""
        due = self.now + timedelta(hours=rules_of(round_).retest_hours)
        by_community: dict[str, list[_Row]] = defaultdict(list)
        for s in samples:
            by_community[s.jurisdiction_code].append(s)
        for community, members in sorted(by_community.items()):
            order = {"round_id": round_.id, "source_tube_id": tube.id, "kind": kind, "created_at": self.now,
                     "due_at": due, "done_at": None, "alerted_at": None, "jurisdiction_code": community}
            self.orders.append((order, [{"person_id": s.person_id, "sample_id": None, "jurisdiction_code": community}
                                        for s in members]))
            self.events.append(lambda order=order, n=len(members): ResamplingOrdered(  # type: ignore[misc]
                jurisdiction_code=order["jurisdiction_code"], order_id=order["id"], kind=order["kind"].value,
                members=n, due_at=order["due_at"]))

    def finish(self) -> None:
        """Write the reactions, then journal and deliver their events in order."""
        session = self.session
        session.flush()  # controls found running and now ended
        written: dict[tuple[audit.Action, str], int] = {}
        if self.new_controls:
            bulk_insert(session, Control, self.new_controls)
            written[(audit.Action.CREATE, Control.__tablename__)] = len(self.new_controls)
        if self.orders:
            ids = bulk_insert(session, ResampleOrder, [o for o, _ in self.orders], with_ids=True)
            members = []
            for (order, rows), order_id in zip(self.orders, ids, strict=True):
                order["id"] = order_id
                members += [{**m, "order_id": order_id} for m in rows]
            bulk_insert(session, OrderMember, members)
            written[(audit.Action.CREATE, ResampleOrder.__tablename__)] = len(ids)
            written[(audit.Action.CREATE, OrderMember.__tablename__)] = len(members)
        for chunk in _chunks(session, self.voided):
            session.execute(update(Sample).where(_among(session, Sample.id, chunk)).values(once_key=None))
        if self.voided:
            written[(audit.Action.UPDATE, Sample.__tablename__)] = len(self.voided)
        for (action, table), n in written.items():
            audit.record(session, action, entity_name=table, detail={"count": n, "reason": "pool loop"})
        events.emit_all(session, [make() for make in self.events])


def _end(control: Control | dict[str, Any], state: ControlState, now: datetime) -> None:
    """End a control (an ORM object, or a row still to insert) in ``state``."""
    if isinstance(control, Control):
        control.state, control.ended_at = state, now
    else:
        control["state"], control["ended_at"] = state, now


def raise_overdue_alerts(session: Session, *, now: datetime | None = None) -> int:
    """Raise an alert (an event, once) for every re-sampling order past its clock; returns how many."""
    now = now or utcnow()
    overdue = session.execute(select(ResampleOrder).where(ResampleOrder.done_at.is_(None),
                                                          ResampleOrder.alerted_at.is_(None),
                                                          ResampleOrder.due_at < now)).scalars().all()
    for order in overdue:
        missing = sum(1 for m in order.members if m.sample_id is None)
        order.alerted_at = now
        events.emit(session, ResamplingOverdue(jurisdiction_code=order.jurisdiction_code, order_id=order.id,
                                               kind=order.kind.value, missing=missing, due_at=order.due_at))
    session.flush()
    return len(overdue)


def orders(session: Session, round_: Round, *, open_only: bool = False) -> list[ResampleOrder]:
    """The re-sampling orders of a round in scope, the most urgent first."""
    stmt = select(ResampleOrder).where(ResampleOrder.round_id == round_.id)
    if open_only:
        stmt = stmt.where(ResampleOrder.done_at.is_(None))
    return list(session.execute(stmt.order_by(ResampleOrder.done_at.is_not(None), ResampleOrder.due_at,
                                              ResampleOrder.id)).scalars())


def controls(session: Session, round_: Round, *, state: ControlState | None = None) -> list[Control]:
    """The temporary controls of a round in scope."""
    stmt = select(Control).where(Control.round_id == round_.id)
    if state is not None:
        stmt = stmt.where(Control.state == state)
    return list(session.execute(stmt.order_by(Control.started_at.desc(), Control.id)).scalars())
