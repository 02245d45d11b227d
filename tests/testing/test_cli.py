"""``fangkong testing``, run as a user runs it: a separate process on a real, committed database."""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from fangkong.core.db import system_session, utcnow
from fangkong.core.errors import N_
from fangkong.core.events import EventRecord
from fangkong.core.i18n import TIMEZONE, field_label, translate
from fangkong.geo.models import Facility
from fangkong.people.models import Person
from fangkong.testing import service
from fangkong.testing.models import Control, Outcome, ResultImport, Round, Sample, Tube, TubeResult
from fangkong.testing.schemas import RoundIn, SiteIn
from fangkong.users.models import User
from tests.cli.test_cli import fangkong
from tests.conftest import build_database, drop_database

from .conftest import XINZHAN, residents, sample, tube_code, write_outbreak

# Wide enough that Rich lays every table row and message out on one line.
WIDE = {"COLUMNS": "400"}
HEADER = "管号,检测结果,检测时间,检测机构,Ct值"
SITE_OPENS, SITE_CLOSES = time(6), time(22)


@dataclass
class City:
    """The committed demo city with a round under way: tubes of 新站社区 at 东昌区's lab."""

    url: str
    engine: Engine
    folder: Path
    round_id: int
    tubes: dict[str, list[int]]  # code → person ids, each test its own tubes


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    name = f"fangkong_testing_cli_{os.getpid()}"
    tmp = tmp_path_factory.mktemp("testing_cli")
    url, engine = build_database(name, tmp)
    tubes: dict[str, list[int]] = {}
    with system_session(engine) as session:
        round_ = service.create_round(session, RoundIn(name="第一轮全员核酸检测", jurisdiction_code="2205",
                                                       starts_at=utcnow() - timedelta(hours=3)))
        site = service.create_site(session, SiteIn(name="新站社区广场采样点", jurisdiction_code=XINZHAN,
                                                   opens_at=SITE_OPENS, closes_at=SITE_CLOSES, serves=[XINZHAN]))
        people = residents(session, XINZHAN)
        for i in range(12):
            code = tube_code()
            members = people[i * 4:(i + 1) * 4]
            sample(session, round_, site, code, members)
            tubes[code] = [p.id for p in members]
        lab = session.execute(select(Facility).where(Facility.code == "LAB220502")).scalar_one()
        service.send_tubes(session, list(tubes), lab.id)
        round_id = round_.id
    yield City(url, engine, tmp, round_id, tubes)
    engine.dispose()
    drop_database(name)


def take(city: City, n: int) -> list[str]:
    """``n`` tubes no other test has used."""
    codes = list(city.tubes)[:n]
    for code in codes:
        del city.tubes[code]
    return codes


def lab_file(city: City, name: str, rows: list[list[str]], *, encoding: str = "utf-8-sig") -> Path:
    """A lab's result file in the standard template."""
    path = city.folder / name
    text = "\r\n".join([HEADER, *(",".join(r) for r in rows)]) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


def lab_time() -> str:
    """A test time an hour ago, as a lab writes it (Beijing time)."""
    return (utcnow() - timedelta(hours=1)).astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")


def counts(city: City) -> dict[str, int]:
    """Rows of everything an import can write."""
    with system_session(city.engine) as session:
        return {t.__name__: session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (ResultImport, TubeResult, Control, EventRecord)}


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# ------------------------------------------------------------------------------------------- import


def test_a_good_file_is_applied_and_a_positive_pool_puts_its_members_under_control(city: City) -> None:
    negative, positive = take(city, 2)
    path = lab_file(city, "lab-good.csv", [[negative, "阴性", lab_time(), "LAB220502", ""],
                                           [positive, "阳性", lab_time(), "LAB220502", "28.5"]])
    result = fangkong("testing", "import", str(path), url=city.url, env=WIDE)
    assert result.returncode == 0, result.stderr
    with system_session(city.engine) as session:
        record = session.execute(select(ResultImport).where(
            ResultImport.sha256 == hashlib.sha256(path.read_bytes()).hexdigest())).scalar_one()
        assert (record.rows, record.new_results, record.positives) == (2, 2, 1)
        assert record.jurisdiction_code == "220502"  # where its lab is: the system has no home
        outcomes = dict(session.execute(select(Tube.code, TubeResult.outcome)
                                        .join(TubeResult, TubeResult.tube_id == Tube.id)
                                        .where(Tube.code.in_([negative, positive]))).all())
        assert {code: o.value for code, o in outcomes.items()} == {negative: "negative", positive: "positive"}
        controlled = set(session.execute(select(Control.person_id).where(Control.round_id == city.round_id))
                         .scalars())
        assert set(city_members(session, positive)) <= controlled
        assert not set(city_members(session, negative)) & controlled
    assert result.stdout.strip() == translate(
        N_("Applied {file} (import {id}): {rows} rows, {new} new results, {positives} positive."),
        {"file": "lab-good.csv", "id": record.id, "rows": 2, "new": 2, "positives": 1})


def city_members(session: Session, code: str) -> list[int]:
    return list(session.execute(select(Sample.person_id).join(Tube, Tube.id == Sample.tube_id)
                                .where(Tube.code == code)).scalars())


def test_the_same_file_applied_again_changes_nothing(city: City) -> None:
    codes = take(city, 2)
    path = lab_file(city, "lab-twice.csv", [[c, "阳性", lab_time(), "LAB220502", "30"] for c in codes])
    first = fangkong("testing", "import", str(path), url=city.url, env=WIDE)
    assert first.returncode == 0, first.stderr
    before = counts(city)
    again = fangkong("testing", "import", str(path), url=city.url, env=WIDE)
    assert again.returncode == 0, again.stderr
    assert counts(city) == before
    with system_session(city.engine) as session:
        record = session.execute(select(ResultImport).where(ResultImport.filename == "lab-twice.csv")).scalar_one()
    assert again.stdout.strip() == translate(
        N_("{file} was already imported (import {id}): nothing changed. "
           "It had {rows} rows, {new} new results, {positives} positive."),
        {"file": "lab-twice.csv", "id": record.id, "rows": 2, "new": 2, "positives": 2})


def table_rows(stderr: str) -> list[int]:
    """The row numbers of the bad-rows table, in order."""
    return [int(m.group(1)) for m in re.finditer(r"^│\s*(\d+)\s*│", stderr, re.MULTILINE)]


def test_a_rejected_file_lists_every_bad_row_exits_with_2_and_writes_nothing(city: City) -> None:
    good, unknown_word, no_time, unknown_lab = take(city, 4)
    path = lab_file(city, "lab-bad.csv", [
        [good, "阴性", lab_time(), "LAB220502", ""],  # row 2: good, and still not applied
        ["NO-SUCH-TUBE", "阴性", lab_time(), "LAB220502", ""],  # row 3
        [unknown_word, "maybe", lab_time(), "LAB220502", ""],  # row 4
        [no_time, "阴性", "yesterday", "LAB220502", ""],  # row 5
        [good, "阴性", lab_time(), "LAB220502", ""],  # row 6: the same tube again
        [unknown_lab, "阴性", lab_time(), "LAB999", ""],  # row 7
    ], encoding="gb18030")
    before = counts(city)
    result = fangkong("testing", "import", str(path), url=city.url, env=WIDE)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert table_rows(result.stderr) == [3, 4, 5, 6, 7]
    for message in (translate(N_("Unknown tube {code}."), {"code": "NO-SUCH-TUBE"}),
                    translate(N_("Unknown laboratory {code}."), {"code": "LAB999"})):
        assert message in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "error: " + translate(
        N_("The file was not applied: {count} rows have errors. Correct them and upload it again."), {"count": 5})
    assert counts(city) == before
    with system_session(city.engine) as session:
        assert session.execute(select(TubeResult).join(Tube, Tube.id == TubeResult.tube_id)
                               .where(Tube.code == good)).first() is None


def test_many_bad_rows_are_listed_one_line_each(city: City) -> None:
    rows = [[f"X{i:05d}", "阴性", lab_time(), "LAB220502", ""] for i in range(150)]
    path = lab_file(city, "lab-unknown.csv", rows)
    result = fangkong("testing", "import", str(path), url=city.url, env=WIDE)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[:-1] == [translate(N_("Row {row}, {field}: {message}"), {
        "row": i + 2, "field": field_label("tube_code"),
        "message": translate(N_("Unknown tube {code}."), {"code": f"X{i:05d}"}),
    }) for i in range(150)]
    assert lines[-1].startswith("error: ")


def test_a_file_that_is_not_there_is_one_line_and_status_2(city: City) -> None:
    result = fangkong("testing", "import", str(city.folder / "nowhere.csv"), url=city.url)
    assert result.returncode == 2
    assert one_error_line(result.stderr) == "error: " + translate(
        N_("No such file: {path}"), {"path": str(city.folder / "nowhere.csv")})


def test_a_file_that_is_not_a_result_file_is_one_line_and_status_2(city: City) -> None:
    path = city.folder / "results.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    result = fangkong("testing", "import", str(path), url=city.url)
    assert result.returncode == 2
    assert "results.xls" in one_error_line(result.stderr)


def test_as_the_lab_account_the_file_is_applied_in_its_name(city: City) -> None:
    [code] = take(city, 1)
    path = lab_file(city, "lab-as-lab.csv", [[code, "阴性", lab_time(), "LAB220502", ""]])
    result = fangkong("testing", "import", str(path), "--as", "lab", url=city.url, env=WIDE)
    assert result.returncode == 0, result.stderr
    with system_session(city.engine) as session:
        record = session.execute(select(ResultImport).where(ResultImport.filename == "lab-as-lab.csv")).scalar_one()
        lab = session.execute(select(User).where(User.username == "lab")).scalar_one()
        assert record.imported_by_id == lab.id


def test_as_a_user_who_may_not_import_results_nothing_is_written(city: City) -> None:
    [code] = take(city, 1)
    path = lab_file(city, "lab-as-worker.csv", [[code, "阴性", lab_time(), "LAB220502", ""]])
    before = counts(city)
    result = fangkong("testing", "import", str(path), "--as", "dongchang_worker", url=city.url)
    assert result.returncode == 1
    assert one_error_line(result.stderr).startswith("error: ")
    assert counts(city) == before
    unknown = fangkong("testing", "import", str(path), "--as", "nobody", url=city.url)
    assert unknown.returncode == 1 and "nobody" in one_error_line(unknown.stderr)


def test_check_clocks_raises_each_overdue_alert_once(city: City) -> None:
    [code] = take(city, 1)
    with system_session(city.engine) as session:
        tube = session.execute(select(Tube).where(Tube.code == code)).scalar_one()
        lab = session.execute(select(Facility).where(Facility.code == "LAB220502")).scalar_one()
        session.add(TubeResult(tube_id=tube.id, outcome=Outcome.POSITIVE, tested_at=utcnow() - timedelta(hours=3),
                               lab_id=lab.id, jurisdiction_code=tube.jurisdiction_code))
        session.flush()
        service.apply_results(session, [tube.id], now=utcnow() - timedelta(hours=3))  # due an hour ago
    first = fangkong("testing", "check-clocks", url=city.url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == translate(N_("Alerts raised for {count} overdue re-sampling orders."), {"count": 1})
    again = fangkong("testing", "check-clocks", url=city.url)
    assert again.stdout.strip() == translate(N_("Alerts raised for {count} overdue re-sampling orders."), {"count": 0})


# ----------------------------------------------------------------------------------- simulate-round


@pytest.fixture(scope="module")
def sim_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine, Path]]:
    """A committed demo city without rounds, and a ground truth for it: one in twenty infected."""
    name = f"fangkong_testing_sim_{os.getpid()}"
    tmp = tmp_path_factory.mktemp("testing_sim")
    url, engine = build_database(name, tmp)
    with system_session(engine) as session:
        people = session.execute(select(Person.id, Person.jurisdiction_code).order_by(Person.id)).all()
    day = datetime(2021, 1, 8, 10, tzinfo=UTC)
    infections = [(pid, day, day + timedelta(days=2) if code == XINZHAN else None)
                  for i, (pid, code) in enumerate(people) if i % 20 == 0 or (code == XINZHAN and i % 4 == 0)]
    data = write_outbreak(tmp / "dataset", infections)
    yield url, engine, data
    engine.dispose()
    drop_database(name)


def test_simulate_round_plays_once_with_if_none(sim_city: tuple[str, Engine, Path], tmp_path: Path) -> None:
    url, engine, data = sim_city
    env = {**WIDE, "FANGKONG_DATA_DIR": str(tmp_path / "data")}
    played = fangkong("testing", "simulate-round", "--data", str(data), "--if-none", "--seed", "3", url=url, env=env)
    assert played.returncode == 0, played.stderr
    assert translate(N_("Positives found")) in played.stdout
    with system_session(engine) as session:
        [round_] = session.execute(select(Round)).scalars().all()
        assert round_.jurisdiction_code == "2205"
        before = {t.__name__: session.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in (Round, Sample, TubeResult, ResultImport)}
    assert before["Sample"] > 0 and before["ResultImport"] > 0
    files = sorted((tmp_path / "data" / "lab-results" / f"round-{round_.id}").glob("*.csv"))
    boms = {f.read_bytes().startswith(codecs.BOM_UTF8) for f in files}
    assert boms == {True, False}  # some labs write UTF-8 with a BOM, others GB18030
    assert all(f.read_bytes().lstrip(codecs.BOM_UTF8).decode("utf-8" if f.read_bytes().startswith(codecs.BOM_UTF8)
                                                             else "gb18030").startswith(HEADER) for f in files)

    again = fangkong("testing", "simulate-round", "--data", str(data), "--if-none", url=url, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == translate(N_("The database holds a round already: nothing to do."))
    with system_session(engine) as session:
        assert {t.__name__: session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (Round, Sample, TubeResult, ResultImport)} == before

    reimported = fangkong("testing", "import", str(files[0]), url=url, env=env)
    assert reimported.returncode == 0 and files[0].name in reimported.stdout


@pytest.mark.parametrize("args", [["--data", "nowhere"], ["--sensitivity", "0"], ["--share-sampled", "2"]])
def test_simulate_round_with_bad_input_is_one_line_and_status_2(
        sim_city: tuple[str, Engine, Path], tmp_path: Path, args: list[str]) -> None:
    url, _engine, data = sim_city
    arguments = ["--data", str(data), *args] if args[0] != "--data" else [args[0], str(tmp_path / args[1])]
    result = fangkong("testing", "simulate-round", *arguments, url=url,
                      env={"FANGKONG_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2
    assert one_error_line(result.stderr).startswith("error: ")
