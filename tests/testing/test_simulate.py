"""A simulated round on the demo city's 新站街道, checked against the ground truth it was played on."""

from __future__ import annotations

import codecs
import hashlib
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core.db import utcnow
from fangkong.core.errors import Invalid
from fangkong.people.models import Person
from fangkong.testing import coverage, simulate
from fangkong.testing.models import (
    Control,
    ControlState,
    OrderKind,
    Outcome,
    Purpose,
    ResampleOrder,
    ResultImport,
    Risk,
    Round,
    Sample,
    Tube,
    TubeResult,
)
from fangkong.testing.simulate import RoundPlayed

from .conftest import JIANGNAN, XINZHAN, Infection, residents, write_outbreak

XINZHAN_STREET = "220502001"  # 新站街道: 新站社区, 江南社区, 民主社区
DAY = 10  # 2021-01-11, the eleventh day of the scenario
NOON = datetime(2021, 1, 11, 12, tzinfo=UTC)
SHARE_SAMPLED = 0.9


def at(day: int, hour: int = 10) -> datetime:
    """A moment of the scenario: day 0 is 2021-01-01."""
    return datetime(2021, 1, 1, hour, tzinfo=UTC) + timedelta(days=day)


@pytest.fixture
def outbreak(session: Session, tmp_path: Path) -> tuple[Path, set[int]]:
    """A ground truth over 新站街道, and who in it is infected at noon of the round's day.

    新站社区 has six known cases (high risk: single tubes), 江南社区 one and three unknown
    infections (medium risk: 5-in-1), 民主社区 an unknown infection in every eight residents; one
    person's infection is over by the round's day and one's has not begun; one lives elsewhere.
    """
    xinzhan, jiangnan = residents(session, XINZHAN), residents(session, JIANGNAN)
    others = [p for p in session.execute(select(Person).where(Person.jurisdiction_code.startswith(XINZHAN_STREET))
                                         .order_by(Person.id)).scalars()
              if p.jurisdiction_code not in (XINZHAN, JIANGNAN)]
    elsewhere = residents(session, "220503001001", 1)
    infections: list[Infection] = [(p.id, at(2), at(5)) for p in xinzhan[:6]]
    infections += [(jiangnan[0].id, at(3), at(7))] + [(p.id, at(8), None) for p in jiangnan[5:8]]
    infections += [(p.id, at(7), None) for p in others[::8]]
    infections += [(others[1].id, at(-20), None), (others[2].id, at(12), None), (elsewhere[0].id, at(8), None)]
    infected = {pid for pid, when, _ in infections if when <= NOON < when + timedelta(days=14)}
    return write_outbreak(tmp_path / "dataset", infections), infected


def play(session: Session, data: Path, files: Path, **options: object) -> RoundPlayed | None:
    """Play the round on 新站街道 on the round's day, with a fixed seed."""
    arguments: dict[str, object] = {"day": DAY, "area": XINZHAN_STREET, "seed": 7, "share_sampled": SHARE_SAMPLED,
                                    "share_resulted": 0.8, "sensitivity": 0.9, **options}
    return simulate.simulate_round(session, data, files_dir=files, **arguments)  # type: ignore[arg-type]


def screening_samples(session: Session, round_id: int) -> list[Sample]:
    return list(session.execute(select(Sample).where(Sample.round_id == round_id,
                                                     Sample.purpose == Purpose.SCREENING)).scalars())


def test_every_sampled_person_is_in_the_target_and_the_rest_are_left_for_the_door_to_door_lists(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    played = play(session, outbreak[0], tmp_path / "files")
    assert played is not None
    target = dict(session.execute(select(Person.id, Person.jurisdiction_code)
                                  .where(Person.jurisdiction_code.startswith(XINZHAN_STREET))).all())
    assert played.target == len(target)
    samples = screening_samples(session, played.round_id)
    sampled = Counter(s.person_id for s in samples)
    assert set(sampled) <= set(target) and max(sampled.values()) == 1
    assert played.sampled == len(samples)
    per_community = Counter(target.values())
    sampled_per_community = Counter(target[p] for p in sampled)
    assert sampled_per_community == {c: round(SHARE_SAMPLED * n) for c, n in per_community.items()}
    assert played.target - played.sampled == sum(n - round(SHARE_SAMPLED * n) for n in per_community.values())


def test_areas_with_known_cases_are_tested_single_tube_or_in_smaller_pools(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    played = play(session, outbreak[0], tmp_path / "files")
    assert played is not None
    round_ = session.get_one(Round, played.round_id)
    assert {a.jurisdiction_code: a.risk for a in round_.areas} == {XINZHAN: Risk.HIGH, JIANGNAN: Risk.MEDIUM}
    sizes: dict[str, set[int]] = defaultdict(set)
    for tube in session.execute(select(Tube).where(Tube.round_id == round_.id,
                                                   Tube.purpose == Purpose.SCREENING)).scalars():
        sizes[tube.jurisdiction_code].add(tube.pool_size)
    assert sizes.pop(XINZHAN) == {1} and sizes.pop(JIANGNAN) == {5}
    assert set().union(*sizes.values()) == {10}


def test_positives_are_truly_infected_and_every_member_of_a_positive_pool_is_controlled(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    data, infected = outbreak
    played = play(session, data, tmp_path / "files")
    assert played is not None
    members: dict[int, list[int]] = defaultdict(list)
    for s in session.execute(select(Sample).where(Sample.round_id == played.round_id)).scalars():
        members[s.tube_id].append(s.person_id)
    tubes = session.execute(select(Tube, TubeResult.outcome).join(TubeResult, TubeResult.tube_id == Tube.id)
                            .where(Tube.round_id == played.round_id)).all()
    positive = [(tube, members[tube.id]) for tube, outcome in tubes if outcome is Outcome.POSITIVE]
    assert positive and all(set(people) & infected for _, people in positive)  # no false positives
    controls = {c.person_id: c for c in session.execute(select(Control).where(
        Control.round_id == played.round_id)).scalars()}
    pooled = [people for tube, people in positive if tube.pool_size > 1]
    assert pooled and all(p in controls for people in pooled for p in people)
    cases = {p for p, c in controls.items() if c.state is ControlState.CASE}
    assert cases and cases <= infected
    assert played.positives_found == played.positives_infected == len(cases)
    released = {p for p, c in controls.items() if c.state is ControlState.RELEASED}
    assert released and played.released == len(released)
    # Released persons had a negative single-tube re-test; those still controlled await theirs.
    retested = {people[0]: outcome for tube, outcome in tubes if tube.purpose is Purpose.RETEST
                for people in [members[tube.id]]}
    assert all(retested.get(p) is Outcome.NEGATIVE for p in released)
    in_street = set(session.execute(select(Person.id).where(Person.jurisdiction_code.startswith(XINZHAN_STREET)))
                    .scalars())
    assert played.infected_in_target == len(infected & in_street)


def test_most_orders_are_followed_up_and_the_rest_stay_open(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    now = utcnow()
    played = play(session, outbreak[0], tmp_path / "files", now=now)
    assert played is not None
    orders = list(session.execute(select(ResampleOrder).where(ResampleOrder.round_id == played.round_id)).scalars())
    retests = [o for o in orders if o.kind is OrderKind.RETEST]
    assert len(retests) == played.retest_orders == played.positive_pools
    done = [o for o in orders if o.done_at is not None]
    assert done and len(done) < len(orders) and played.open_orders == len(orders) - len(done)
    assert all(o.done_at is None or o.done_at > o.created_at for o in orders)
    overdue = [o for o in orders if o.is_overdue(now) and o.done_at is None]
    assert all(o.alerted_at is not None for o in overdue) and played.overdue_alerts == len(overdue)


def test_the_labs_files_are_csv_in_the_standard_template_and_each_was_imported(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    played = play(session, outbreak[0], tmp_path / "files")
    assert played is not None and played.files_dir is not None
    paths = sorted(played.files_dir.glob("*.csv"))
    assert paths and sorted(played.result_paths) == paths and played.result_files == len(paths)
    rows = 0
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(codecs.BOM_UTF8)  # 东昌区's lab, the first lab, writes UTF-8 with a BOM
        lines = data.decode("utf-8-sig").splitlines()
        assert lines[0] == "管号,检测结果,检测时间,检测机构,Ct值"
        assert {line.split(",")[3] for line in lines[1:]} == {"LAB220502"}
        rows += len(lines) - 1
    assert rows == played.resulted_tubes + played.follow_up_resulted
    digests = set(session.execute(select(ResultImport.sha256)).scalars())
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths} <= digests


def test_the_round_page_figures_follow_from_the_round(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    played = play(session, outbreak[0], tmp_path / "files")
    assert played is not None
    round_ = session.get_one(Round, played.round_id)
    funnel = coverage.coverage(session, round_)
    assert funnel.total.target == played.target and funnel.positive_pools == played.positive_pools
    assert funnel.total.positives == played.positives_found and funnel.total.controlled == played.controlled
    [lab] = coverage.turnaround(session, round_)
    assert lab.tubes == played.resulted_tubes + played.follow_up_resulted
    assert 0 < lab.median_hours <= lab.p95_hours < 12


def test_the_lab_account_imports_its_labs_files(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    from fangkong.users import service as users

    lab_user = users.find_user(session, "lab")
    assert lab_user is not None
    played = play(session, outbreak[0], tmp_path / "files")
    assert played is not None
    imports = list(session.execute(select(ResultImport)).scalars())
    assert imports and {i.imported_by_id for i in imports} == {lab_user.id}
    assert {i.jurisdiction_code for i in imports} == {"220502"}  # the lab account's


def test_with_if_none_a_second_round_is_not_played(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    first = play(session, outbreak[0], tmp_path / "files", if_none=True)
    assert first is not None
    counts = [session.execute(select(func.count()).select_from(t)).scalar_one() for t in (Round, Sample, TubeResult)]
    assert play(session, outbreak[0], tmp_path / "files", if_none=True) is None
    assert [session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Round, Sample, TubeResult)] == counts


def test_the_same_inputs_play_the_same_round(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    now = utcnow()
    savepoint = session.begin_nested()
    first = play(session, outbreak[0], tmp_path / "first", now=now)
    savepoint.rollback()
    second = play(session, outbreak[0], tmp_path / "second", now=now)
    assert first is not None and second is not None
    ignored = {"round_id", "files_dir", "result_paths"}
    assert {k: v for k, v in asdict(first).items() if k not in ignored} == \
        {k: v for k, v in asdict(second).items() if k not in ignored}
    assert [p.name for p in first.result_paths] == [p.name for p in second.result_paths]
    assert [_without_round(p) for p in first.result_paths] == [_without_round(p) for p in second.result_paths]


def _without_round(path: Path) -> list[str]:
    """A result file's lines with the round's id taken out of the tube codes (its first four digits)."""
    lines = path.read_bytes().decode("utf-8-sig").splitlines()
    return [lines[0]] + [line[4:] for line in lines[1:]]


@pytest.mark.parametrize(("options", "field"), [
    ({"sensitivity": 0.0}, "sensitivity"),
    ({"share_sampled": 1.5}, "share_sampled"),
    ({"day": 14}, "day"),
    ({"area": "220599"}, "area"),
])
def test_arguments_out_of_range_are_refused_before_anything_is_written(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path, options: dict[str, object],
        field: str) -> None:
    with pytest.raises(Invalid) as caught:
        play(session, outbreak[0], tmp_path / "files", **options)
    assert [e.field for e in caught.value.errors] == [field]
    assert session.execute(select(func.count()).select_from(Round)).scalar_one() == 0


def test_the_round_day_defaults_to_the_datasets_last(
        session: Session, outbreak: tuple[Path, set[int]], tmp_path: Path) -> None:
    played = play(session, outbreak[0], tmp_path / "files", day=None, share_resulted=0.0)
    assert played is not None and played.day == date(2021, 1, 14)
