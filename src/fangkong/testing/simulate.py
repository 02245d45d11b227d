"""A simulated round of whole-population testing on a synthetic city, played through the real services.

The city in the database was loaded from a synthetic dataset (``fangkong demo load --from DIR``), so
its person ids are the dataset's and the dataset's ``infections.parquet`` says who is infected when.
``simulate_round`` plays one round on a chosen day of the scenario the way a real one runs, with the
same service calls the pages, the API and the labs' uploads make:

1. the round is opened over the city, single-tube (high risk) in communities with several known
   cases by that day and 5-in-1 (medium) where there is at least one, the rule set's default elsewhere;
2. every community gets a sampling site (unless it has one) and samples its residents in batches of
   500 over the hours since the round started, leaving ``1 - share_sampled`` of them unsampled for
   the door-to-door lists; the tubes of each batch are sent to a lab of the district;
3. the labs write their result files as CSV in the standard template, a file per lab every two
   hours (UTF-8 with BOM at some labs, GB18030 at others, as real labs save them), for
   ``share_resulted`` of the tubes, and each file is imported as the lab's account when it has one;
4. most of the re-sampling orders the results caused are followed up: single-tube re-tests for
   positive pools, new pools for invalid tubes, their results imported in the same way; the rest
   stay open, and those past their clock raise their alert.

Timestamps are real, current UTC times: the round started some hours before ``now``, so the demo
shows a round under way. The scenario's day only decides who is infected and which cases are known.
The same inputs and seed give the same round.

Assumptions (no specificity is modelled: a tube with no infected member is never positive):

- a person is infected "on the day" when ``infected_at <= noon of that day < infected_at + 14 days``:
  detectable from infection for 14 days of shedding;
- a tube holding at least one infected person is positive with probability ``sensitivity``, pooled
  or single (one draw per tube);
- a case is known, and its community at risk, from the day after its symptom onset;
- ``INVALID_SHARE`` of the round's tubes come back invalid (无效), and need re-sampling.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core.auth import Role
from fangkong.core.db import utcnow
from fangkong.core.errors import N_, FieldError, Invalid
from fangkong.core.i18n import TIMEZONE
from fangkong.core.scope import Principal, prefix_range, principal_of
from fangkong.geo import service as geo
from fangkong.geo.models import Facility, FacilityKind, Jurisdiction, Level
from fangkong.people.models import Person, Whereabouts
from fangkong.synth.dataset import DatasetError, read_manifest
from fangkong.testing import results, service
from fangkong.testing.models import (
    Control,
    ControlState,
    OrderKind,
    Outcome,
    Purpose,
    ResampleOrder,
    Risk,
    Round,
    SamplingSite,
)
from fangkong.testing.schemas import AreaIn, RoundIn, SampleBatch, SampleEntry, SiteIn
from fangkong.users.models import User
from fangkong.users.service import principal_for

Progress = Callable[[str, int, int], None]

# Stages of the progress the caller is shown (msgids).
STAGE_SITES = N_("Sampling sites")
STAGE_SAMPLING = N_("Sampling")
STAGE_RESULTS = N_("Lab results")
STAGE_FOLLOW_UP = N_("Re-sampling")
STAGE_FOLLOW_UP_RESULTS = N_("Re-test results")

SHEDDING = timedelta(days=14)  # detectable from infection for this long (see the module docstring)
REPORT_DELAY = timedelta(days=1)  # a symptomatic case is known the day after onset
HIGH_RISK_CASES = 5  # known cases that make a community high risk (single tube); one makes it medium
INVALID_SHARE = 0.002
FOLLOW_UP_SHARE = 0.85  # re-sampling orders followed up before "now"; the rest stay open
BATCH_SIZE = 500  # entries per sampling batch, as a device sends them
BATCH_EVERY = timedelta(hours=1)  # and it sends what it has at least this often
ROUND_STARTED = timedelta(hours=12)  # the round started this long before now
SAMPLING_ENDS = timedelta(hours=1)  # the last sample of the round so far, before now
SHIPPING = timedelta(minutes=20)  # from a batch's last sample to the lab
SCREENING_TURNAROUND = (1.0, 5.0)  # hours from the lab receiving a pooled tube to its result
FOLLOW_UP_DELAY = (0.25, 2.5)  # hours from an order to the re-sampling (the clock is 2 h: some are late)
FOLLOW_UP_TURNAROUND = (0.5, 3.0)  # hours from a re-test tube reaching the lab to its result
LATEST_FOLLOW_UP = timedelta(minutes=30)  # no re-sampling is played closer to now than this
RESULT_MARGIN = timedelta(minutes=5)  # no result is stamped later than this before now
FILE_WINDOW = timedelta(hours=2)  # a lab writes a file of its results every two hours
SITE_HOURS = (time(6), time(22))
CSV_HEADERS = ("管号", "检测结果", "检测时间", "检测机构", "Ct值")
CSV_OUTCOMES = {Outcome.NEGATIVE: "阴性", Outcome.POSITIVE: "阳性", Outcome.INVALID: "无效"}


@dataclass
class RoundPlayed:
    """What a simulated round did, and how its findings compare with the ground truth."""

    round_id: int
    name: str
    jurisdiction_code: str
    day: date  # the scenario's day the round was played on
    high_risk: int = 0  # communities tested single-tube
    medium_risk: int = 0  # communities tested 5-in-1 (or the rule set's medium size)
    sites_created: int = 0
    target: int = 0
    sampled: int = 0
    tubes: int = 0
    pooled_tubes: int = 0
    resulted_tubes: int = 0
    result_files: int = 0
    positive_pools: int = 0
    positive_singles: int = 0  # positive single tubes of the round's sampling
    invalid_tubes: int = 0
    retest_orders: int = 0
    resample_orders: int = 0
    retests: int = 0  # persons re-sampled single-tube
    resamples: int = 0  # persons sampled again after an invalid tube
    follow_up_resulted: int = 0  # re-test and re-sampling tubes with a result
    released: int = 0
    controlled: int = 0  # still under temporary control
    positives_found: int = 0
    positives_infected: int = 0  # of those found, truly infected (all of them: no false positives)
    infected_in_target: int = 0
    infected_sampled: int = 0
    open_orders: int = 0
    overdue_alerts: int = 0
    files_dir: Path | None = None
    result_paths: list[Path] = field(default_factory=list)


@dataclass
class _Tube:
    """A tube as the simulation planned it: who is in it, where it went, what the lab will find."""

    code: str
    community: str
    lab: Facility
    members: list[int]
    sampled_at: datetime  # of its last member
    sent_at: datetime
    pool_size: int
    purpose: Purpose = Purpose.SCREENING
    outcome: Outcome | None = None
    tested_at: datetime | None = None
    ct_value: float | None = None


@dataclass(frozen=True)
class _Truth:
    """Who is infected on the round's day, and whose case is known by then."""

    infected: frozenset[int]
    known: frozenset[int]


def simulate_round(session: Session, data: Path, *, files_dir: Path, day: int | None = None,
                   sensitivity: float = 0.9, seed: int = 2021, share_sampled: float = 0.9,
                   share_resulted: float = 0.8, name: str | None = None, area: str | None = None,
                   now: datetime | None = None, if_none: bool = False,
                   progress: Progress | None = None) -> RoundPlayed | None:
    """Play a round on the loaded city on day ``day`` of the dataset in ``data`` (the last day by default).

    The round covers ``area`` (a jurisdiction code; by default the city). Writes the labs' result
    files under ``files_dir/round-<id>``. With ``if_none``, does nothing (returns None) when the
    database holds a round already. The caller commits.
    """
    report: Progress = progress or (lambda stage, done, total: None)
    now = now or utcnow()
    if if_none and has_rounds(session):
        return None
    data = Path(data)
    manifest = read_manifest(data)
    if not (data / "infections.parquet").is_file():
        raise DatasetError(f"{data} holds no infections.parquet (the ground truth of the outbreak)")
    day = manifest.days - 1 if day is None else day
    _check_arguments(day=day, days=manifest.days, sensitivity=sensitivity, share_sampled=share_sampled,
                     share_resulted=share_resulted)
    the_day = manifest.start + timedelta(days=day)
    truth = _ground_truth(data / "infections.parquet", the_day)
    rng = np.random.default_rng(seed)

    area = geo.require_jurisdiction(session, area, field="area").code if area else _round_area(session)
    persons = _target(session, area)
    if not persons:
        raise Invalid(N_("Nobody lives in the round's area {code}."), code=area)
    labs = _labs(session)
    communities = sorted({c for c in persons.values()})
    by_community: dict[str, list[int]] = defaultdict(list)
    for pid, community in persons.items():  # in id order
        by_community[community].append(pid)
    known = Counter(persons[p] for p in truth.known if p in persons)
    areas = [AreaIn(jurisdiction_code=c, risk=Risk.HIGH if n >= HIGH_RISK_CASES else Risk.MEDIUM)
             for c, n in sorted(known.items())]
    round_ = service.create_round(session, RoundIn(
        name=name or _round_name(session, area), jurisdiction_code=area, starts_at=now - ROUND_STARTED,
        areas=areas))
    played = RoundPlayed(round_id=round_.id, name=round_.name, jurisdiction_code=area, day=the_day,
                         high_risk=sum(a.risk is Risk.HIGH for a in areas),
                         medium_risk=sum(a.risk is Risk.MEDIUM for a in areas), target=len(persons))
    folder = Path(files_dir) / f"round-{round_.id}"
    played.files_dir = folder

    sites = _sites(session, communities, played, report)
    lab_of = _assign_labs(communities, labs)
    codes = (f"{round_.id:04d}{n:08d}" for n in range(1, 10**8))

    # The round's sampling, community by community, in batches of up to 500.
    screening = _sample(session, round_, by_community, sites, lab_of, codes, rng, share_sampled, now, report)
    played.sampled = sum(len(t.members) for t in screening)
    played.tubes = len(screening)
    played.pooled_tubes = sum(t.pool_size > 1 for t in screening)
    sampled_ids = {p for t in screening for p in t.members}
    played.infected_in_target = len(truth.infected & persons.keys())
    played.infected_sampled = len(truth.infected & sampled_ids)

    # The labs' results for the first ``share_resulted`` of the tubes, imported file by file.
    _plan_screening_results(screening, truth, rng, sensitivity, now)
    by_time = sorted((t for t in screening if t.tested_at is not None), key=lambda t: (t.tested_at, t.code))
    resulted = by_time[:round(share_resulted * len(screening))]
    played.resulted_tubes = len(resulted)
    played.positive_pools = sum(t.outcome is Outcome.POSITIVE and t.pool_size > 1 for t in resulted)
    played.positive_singles = sum(t.outcome is Outcome.POSITIVE and t.pool_size == 1 for t in resulted)
    played.invalid_tubes = sum(t.outcome is Outcome.INVALID for t in resulted)
    files = _write_files(folder, resulted, labs, round_.starts_at, now, "")
    _import(session, files, STAGE_RESULTS, report)

    # Most orders are followed up before now; their results come back if the lab had the time.
    follow_up = _follow_up(session, round_, sites, lab_of, codes, rng, now, report)
    played.retests = sum(len(t.members) for t in follow_up if t.purpose is Purpose.RETEST)
    played.resamples = sum(len(t.members) for t in follow_up if t.purpose is Purpose.RESAMPLE)
    _plan_follow_up_results(follow_up, truth, rng, sensitivity, now)
    done = [t for t in follow_up if t.tested_at is not None]
    played.follow_up_resulted = len(done)
    later = _write_files(folder, done, labs, round_.starts_at, now, "-retest")
    _import(session, later, STAGE_FOLLOW_UP_RESULTS, report)
    played.result_files = len(files) + len(later)
    played.result_paths = [path for _, path, _ in files + later]

    played.overdue_alerts = service.raise_overdue_alerts(session, now=now)
    _tally(session, round_, truth, played)
    return played


def has_rounds(session: Session) -> bool:
    """Whether the database holds a round of testing."""
    return session.execute(select(Round.id).limit(1)).first() is not None


def _check_arguments(*, day: int, days: int, sensitivity: float, share_sampled: float, share_resulted: float) -> None:
    """Refuse arguments outside their range, naming each."""
    errors = []
    if not 0 <= day < days:
        errors.append(FieldError("day", N_("Day {day} is not one of the dataset's days (0 to {last})."),
                                 {"day": day, "last": days - 1}))
    if not 0 < sensitivity <= 1:
        errors.append(FieldError("sensitivity", N_("The sensitivity must be more than 0 and at most 1.")))
    for name, share in (("share_sampled", share_sampled), ("share_resulted", share_resulted)):
        if not 0 <= share <= 1:
            errors.append(FieldError(name, N_("A share must be from 0 to 1, not {value}."), {"value": share}))
    if errors:
        raise Invalid(errors[0].message, errors=errors, **errors[0].params)


def _ground_truth(path: Path, day: date) -> _Truth:
    """Who is infected at noon of ``day``, and whose case is known by the start of ``day``."""
    table = pq.read_table(path, columns=["infectee_id", "infected_at", "onset_at"])
    noon = datetime.combine(day, time(12), UTC)
    midnight = datetime.combine(day, time(0), UTC)
    infected, known = set(), set()
    for pid, infected_at, onset_at in zip(table["infectee_id"].to_pylist(), table["infected_at"].to_pylist(),
                                          table["onset_at"].to_pylist(), strict=True):
        if infected_at <= noon < infected_at + SHEDDING:
            infected.add(pid)
        if onset_at is not None and onset_at + REPORT_DELAY <= midnight:
            known.add(pid)
    return _Truth(frozenset(infected), frozenset(known))


def _round_area(session: Session) -> str:
    """The city the database holds: the city (else the province) over all its communities."""
    codes = session.execute(select(Jurisdiction.code).where(
        func.length(Jurisdiction.code) == Level.COMMUNITY.value)).scalars().all()
    if not codes:
        raise Invalid(N_("The database holds no communities: load a city first."))
    # A slice of one district still gets a city-wide round, as the city's headquarters runs them.
    for level in (Level.CITY, Level.PROVINCE):
        over = {code[:level.value] for code in codes}
        if len(over) == 1 and session.get(Jurisdiction, next(iter(over))) is not None:
            return over.pop()
    shortest = session.execute(select(Jurisdiction.code).order_by(func.length(Jurisdiction.code),
                                                                  Jurisdiction.code).limit(1)).scalar_one()
    return str(shortest)


def _round_name(session: Session, area: str) -> str:
    """The area's name and the round's number there: 通化市第2轮全员核酸检测."""
    node = session.get(Jurisdiction, area)
    number = session.execute(select(func.count()).select_from(Round).where(Round.jurisdiction_code == area)
                             ).scalar_one() + 1
    return f"{node.name if node else area}第{number}轮全员核酸检测"


def _target(session: Session, area: str) -> dict[int, str]:
    """Person id → community of everyone living at home in ``area``, in id order."""
    lo, hi = prefix_range(area)
    rows = session.execute(select(Person.id, Person.jurisdiction_code)
                           .where(Person.jurisdiction_code >= lo, Person.jurisdiction_code < hi,
                                  Person.whereabouts == Whereabouts.AT_HOME).order_by(Person.id)).all()
    return {pid: code for pid, code in rows}


def _labs(session: Session) -> list[Facility]:
    """The labs that have a code to write in their files."""
    labs = list(session.execute(select(Facility).where(Facility.kind == FacilityKind.LAB, Facility.code.is_not(None))
                                .order_by(Facility.id)).scalars())
    if not labs:
        raise Invalid(N_("The city has no laboratory with a code to send tubes to."))
    return labs


def _assign_labs(communities: Sequence[str], labs: Sequence[Facility]) -> dict[str, Facility]:
    """Each community's lab: one of its district's, taken in turn (else one over it, else any)."""
    assigned: dict[str, Facility] = {}
    turn: Counter[str] = Counter()
    for community in communities:
        district = community[:Level.DISTRICT.value]
        candidates = ([lab for lab in labs if lab.jurisdiction_code[:Level.DISTRICT.value] == district]
                      or [lab for lab in labs if community.startswith(lab.jurisdiction_code)] or list(labs))
        assigned[community] = candidates[turn[district] % len(candidates)]
        turn[district] += 1
    return assigned


def _sites(session: Session, communities: Sequence[str], played: RoundPlayed,
           report: Progress) -> dict[str, SamplingSite]:
    """A sampling site for every community: the first one serving it, else a new one."""
    names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)
                                 .where(Jurisdiction.code.in_(communities))).all())
    found: dict[str, SamplingSite] = {}
    report(STAGE_SITES, 0, len(communities))
    for i, community in enumerate(communities, start=1):
        existing = service.sites(session, serving=community)
        if existing:
            found[community] = existing[0]
        else:
            found[community] = service.create_site(session, SiteIn(
                name=f"{names.get(community, community)}核酸采样点"[:120], jurisdiction_code=community,
                opens_at=SITE_HOURS[0], closes_at=SITE_HOURS[1], serves=[community]))
            played.sites_created += 1
        report(STAGE_SITES, i, len(communities))
    return found


def _sample(session: Session, round_: Round, by_community: dict[str, list[int]], sites: dict[str, SamplingSite],
            lab_of: dict[str, Facility], codes: Iterator[str], rng: np.random.Generator, share: float,
            now: datetime, report: Progress) -> list[_Tube]:
    """Sample ``share`` of each community over the round so far; send each batch's tubes to the lab."""
    start = round_.starts_at
    span = (now - SAMPLING_ENDS - start).total_seconds()
    plans = []
    for community in sorted(by_community):
        people = np.asarray(by_community[community], dtype=np.int64)
        chosen = rng.permutation(people)[:round(share * len(people))]
        offsets = np.sort(rng.uniform(0, span, len(chosen)))
        plans.append((community, chosen.tolist(), [start + timedelta(seconds=float(s)) for s in offsets]))
    total = sum(len(p[1]) for p in plans)
    done = 0
    tubes: list[_Tube] = []
    report(STAGE_SAMPLING, 0, total)
    for community, chosen, times in plans:
        pool = service.area_of(round_, community)[1]
        site, lab = sites[community], lab_of[community]
        planned = []
        for at in range(0, len(chosen), pool):
            members, moments = chosen[at:at + pool], times[at:at + pool]
            planned.append((_Tube(code=next(codes), community=community, lab=lab, members=list(members),
                                  sampled_at=moments[-1], sent_at=moments[-1], pool_size=pool), moments))
        for batch in _batches(planned, start):
            entries = [SampleEntry(client_id=f"sim-r{round_.id}-p{pid}", tube_code=tube.code, person_id=pid,
                                   sampled_at=moment)
                       for tube, moments in batch for pid, moment in zip(tube.members, moments, strict=True)]
            last = entries[-1].sampled_at
            _register(session, SampleBatch(round_id=round_.id, site_id=site.id, entries=entries), now=last)
            sent = min(last + SHIPPING, now)
            service.send_tubes(session, [tube.code for tube, _ in batch], lab.id, now=sent)
            for tube, _ in batch:
                tube.sent_at = sent
                tubes.append(tube)
            done += len(entries)
            report(STAGE_SAMPLING, done, total)
    return tubes


def _batches(planned: list[tuple[_Tube, list[datetime]]],
             start: datetime) -> Iterator[list[tuple[_Tube, list[datetime]]]]:
    """A site's tubes in the batches its device sends: whole tubes, up to 500 entries, at least every hour."""
    batch: list[tuple[_Tube, list[datetime]]] = []
    entries = 0
    slot = None
    for tube, moments in planned:
        tube_slot = (tube.sampled_at - start) // BATCH_EVERY
        if batch and (tube_slot != slot or entries + len(tube.members) > BATCH_SIZE):
            yield batch
            batch, entries = [], 0
        batch.append((tube, moments))
        entries += len(tube.members)
        slot = tube_slot
    if batch:
        yield batch


def _register(session: Session, batch: SampleBatch, *, now: datetime) -> None:
    """Register a batch through the sampling service; every entry must be stored."""
    result = service.register_batch(session, batch, now=now)
    if result.stored != len(batch.entries):
        problem = next((e.message for e in result.entries if e.message), "")
        raise RuntimeError(f"the simulated batch was not stored whole ({result.stored} of {len(batch.entries)}): "
                           f"{problem}")


def _detected(members: Sequence[int], truth: _Truth, draw: float, sensitivity: float) -> bool:
    """Whether a tube holding ``members`` comes back positive: an infected member, found with the sensitivity."""
    return draw < sensitivity and any(p in truth.infected for p in members)


def _plan_screening_results(tubes: Sequence[_Tube], truth: _Truth, rng: np.random.Generator, sensitivity: float,
                            now: datetime) -> None:
    """What the labs find in the round's tubes, and when (never later than just before now)."""
    latest = now - RESULT_MARGIN
    draws = rng.random((len(tubes), 4))
    low, high = SCREENING_TURNAROUND
    for tube, (invalid, detect, turnaround, ct) in zip(tubes, draws, strict=True):
        if invalid < INVALID_SHARE:
            tube.outcome = Outcome.INVALID
        elif _detected(tube.members, truth, detect, sensitivity):
            tube.outcome, tube.ct_value = Outcome.POSITIVE, round(18 + 17 * ct, 1)
        else:
            tube.outcome = Outcome.NEGATIVE
        tube.tested_at = min(tube.sent_at + timedelta(hours=low + (high - low) * turnaround), latest)


def _follow_up(session: Session, round_: Round, sites: dict[str, SamplingSite], lab_of: dict[str, Facility],
               codes: Iterator[str], rng: np.random.Generator, now: datetime, report: Progress) -> list[_Tube]:
    """Re-sample the members of most open orders, each some time after its order; returns their tubes."""
    open_orders = session.execute(select(ResampleOrder).where(ResampleOrder.round_id == round_.id,
                                                              ResampleOrder.done_at.is_(None))
                                  .order_by(ResampleOrder.id)).scalars().all()
    draws = rng.random((len(open_orders), 2))
    low, high = FOLLOW_UP_DELAY
    tubes: list[_Tube] = []
    report(STAGE_FOLLOW_UP, 0, len(open_orders))
    for i, (order, (follow, delay)) in enumerate(zip(open_orders, draws, strict=True), start=1):
        at = order.created_at + timedelta(hours=low + (high - low) * delay)
        members = [m.person_id for m in order.members if m.sample_id is None]
        report(STAGE_FOLLOW_UP, i, len(open_orders))
        if follow >= FOLLOW_UP_SHARE or at > now - LATEST_FOLLOW_UP or not members:
            continue
        community = order.jurisdiction_code
        purpose = Purpose.RETEST if order.kind is OrderKind.RETEST else Purpose.RESAMPLE
        pool = 1 if purpose is Purpose.RETEST else service.area_of(round_, community)[1]
        entries, planned = [], []
        for first in range(0, len(members), pool):
            code = next(codes)
            group = members[first:first + pool]
            entries += [SampleEntry(client_id=f"sim-r{round_.id}-o{order.id}-p{pid}", tube_code=code, person_id=pid,
                                    sampled_at=at) for pid in group]
            planned.append(_Tube(code=code, community=community, lab=lab_of[community], members=group,
                                 sampled_at=at, sent_at=at + SHIPPING / 2, pool_size=pool, purpose=purpose))
        _register(session, SampleBatch(round_id=round_.id, site_id=sites[community].id, purpose=purpose,
                                       pool_size=pool, entries=entries), now=at)
        service.send_tubes(session, [t.code for t in planned], lab_of[community].id, now=at + SHIPPING / 2)
        tubes += planned
    return tubes


def _plan_follow_up_results(tubes: Sequence[_Tube], truth: _Truth, rng: np.random.Generator, sensitivity: float,
                            now: datetime) -> None:
    """What the labs find in the re-test tubes; a result not due before now is left pending."""
    latest = now - RESULT_MARGIN
    draws = rng.random((len(tubes), 3))
    low, high = FOLLOW_UP_TURNAROUND
    for tube, (detect, turnaround, ct) in zip(tubes, draws, strict=True):
        tested = tube.sent_at + timedelta(hours=low + (high - low) * turnaround)
        if tested > latest:
            continue
        tube.tested_at = tested
        if _detected(tube.members, truth, detect, sensitivity):
            tube.outcome, tube.ct_value = Outcome.POSITIVE, round(18 + 17 * ct, 1)
        else:
            tube.outcome = Outcome.NEGATIVE


def _write_files(folder: Path, tubes: Sequence[_Tube], labs: Sequence[Facility], origin: datetime, now: datetime,
                 suffix: str) -> list[tuple[datetime, Path, Facility]]:
    """Each lab's results as CSV files in the standard template, one per lab and two-hour window.

    Returns (when the file was sent, its path, the lab), in the order they were sent.
    """
    groups: dict[tuple[int, int], list[_Tube]] = defaultdict(list)
    for tube in tubes:
        assert tube.tested_at is not None
        groups[(tube.lab.id, int((tube.tested_at - origin) / FILE_WINDOW))].append(tube)
    position = {lab.id: i for i, lab in enumerate(labs)}
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    for (lab_id, window), group in sorted(groups.items()):
        lab = group[0].lab
        sent = min(origin + (window + 1) * FILE_WINDOW, now - timedelta(minutes=1))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_HEADERS)
        for tube in sorted(group, key=lambda t: (t.tested_at, t.code)):
            assert tube.tested_at is not None and tube.outcome is not None
            local = tube.tested_at.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow([tube.code, CSV_OUTCOMES[tube.outcome], local, lab.code,
                             "" if tube.ct_value is None else f"{tube.ct_value:.1f}"])
        # Some labs save UTF-8 with a BOM (Excel's "CSV UTF-8"), others GB18030 (Chinese Excel's plain CSV).
        encoding = "utf-8-sig" if position[lab_id] % 2 == 0 else "gb18030"
        path = folder / f"{lab.code}-{sent.astimezone(TIMEZONE):%Y%m%d-%H%M}{suffix}.csv"
        path.write_bytes(buffer.getvalue().encode(encoding))
        written.append((sent, path, lab))
    written.sort(key=lambda item: (item[0], item[1].name))
    return written


def _import(session: Session, files: Sequence[tuple[datetime, Path, Facility]], stage: str, report: Progress) -> None:
    """Import the files in the order the labs sent them, each as its lab's account when it has one."""
    accounts = _lab_accounts(session)
    report(stage, 0, len(files))
    for i, (sent, path, lab) in enumerate(files, start=1):
        with _acting_as(session, accounts.get(lab.id)):
            record, again = results.import_results(session, path.read_bytes(), path.name, now=sent)
        if again:
            raise RuntimeError(f"{path.name} was imported before (as import {record.id})")
        report(stage, i, len(files))


def _lab_accounts(session: Session) -> dict[int, Principal]:
    """The principal of an active lab account of each lab that has one."""
    users = session.execute(select(User).where(User.facility_id.is_not(None), User.is_active.is_(True))
                            .order_by(User.id)).scalars().all()
    found: dict[int, Principal] = {}
    for user in users:
        if user.facility_id is not None and any(g.role is Role.LAB for g in user.grants):
            found.setdefault(user.facility_id, principal_for(user))
    return found


@contextmanager
def _acting_as(session: Session, principal: Principal | None) -> Iterator[None]:
    """Bind ``principal`` (when given) for the block, then the one bound before."""
    saved = principal_of(session)
    if principal is not None:
        principal.bind(session)
    try:
        yield
    finally:
        saved.bind(session)


def _tally(session: Session, round_: Round, truth: _Truth, played: RoundPlayed) -> None:
    """Count what the round's loop left behind: orders, controls, positives found."""
    kinds = Counter(session.execute(select(ResampleOrder.kind).where(ResampleOrder.round_id == round_.id)).scalars())
    played.retest_orders, played.resample_orders = kinds[OrderKind.RETEST], kinds[OrderKind.RESAMPLE]
    played.open_orders = session.execute(select(func.count()).select_from(ResampleOrder).where(
        ResampleOrder.round_id == round_.id, ResampleOrder.done_at.is_(None))).scalar_one()
    states = session.execute(select(Control.person_id, Control.state).where(Control.round_id == round_.id)).all()
    found = {pid for pid, state in states if state is ControlState.CASE}
    played.released = sum(state is ControlState.RELEASED for _, state in states)
    played.controlled = sum(state is ControlState.CONTROLLED for _, state in states)
    played.positives_found = len(found)
    played.positives_infected = len(found & truth.infected)
