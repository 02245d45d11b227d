"""Applying lab result files: whole or nothing, every bad row named, re-imports that change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fangkong.core.audit import Action, AuditEntry
from fangkong.core.db import utcnow
from fangkong.core.errors import Forbidden, Invalid
from fangkong.core.events import EventRecord
from fangkong.core.i18n import get_locale, set_locale, translate
from fangkong.core.scope import system_access
from fangkong.geo.models import Facility, FacilityKind
from fangkong.testing import results, service
from fangkong.testing.models import ControlState, Outcome, ResultImport, Round, SamplingSite, Tube, TubeResult

from .conftest import JIANGNAN, XINZHAN, residents, sample, tube_code

HEADER_ZH = "管号,检测结果,检测时间,检测机构,Ct值"
HEADER_EN = "tube_code,result,tested_at,lab_code,ct_value"
SMALLEST_MATCHED = results.MATCHED_FROM_BYTES  # as the module sets it, before the fixtures lower it


def local(dt: datetime) -> str:
    """A UTC time as a lab writes it: local time (Asia/Shanghai), no zone."""
    return (dt + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")


def csv_file(tmp_path: Path, lines: list[str], *, header: str = HEADER_ZH, encoding: str = "utf-8-sig",
             name: str = "results.csv") -> tuple[bytes, str]:
    """Write a real CSV file and read its bytes back, as an upload would carry them."""
    path = tmp_path / name
    path.write_bytes(("\r\n".join([header, *lines]) + "\r\n").encode(encoding))
    return path.read_bytes(), path.name


def results_of(session: Session, codes: list[str]) -> dict[str, Outcome]:
    with system_access(session):
        return dict(session.execute(select(Tube.code, TubeResult.outcome)
                                    .join(TubeResult, TubeResult.tube_id == Tube.id)
                                    .where(Tube.code.in_(codes))).all())


@pytest.fixture
def tubes(session: Session, round_: Round, site: SamplingSite) -> list[str]:
    """Three pooled tubes of 新站 and 江南 residents, sampled half an hour ago."""
    codes = []
    for community, n in ((XINZHAN, 4), (JIANGNAN, 3), (XINZHAN, 2)):
        code = tube_code()
        people = residents(session, community)
        offset = len(codes) * 4
        sample(session, round_, site, code, people[offset:offset + n])
        codes.append(code)
    return codes


def test_a_good_file_applies_every_row_and_runs_the_pool_loop(
        session: Session, tubes: list[str], round_: Round, tmp_path: Path) -> None:
    at = local(utcnow() - timedelta(minutes=5))
    data, name = csv_file(tmp_path, [f"{tubes[0]},阴性,{at},LAB220502,", f"{tubes[1]},阳性,{at},LAB220502,28.5",
                                     f"{tubes[2]},无效,{at},LAB220502,"])
    record, again = results.import_results(session, data, name)
    assert not again
    assert (record.rows, record.new_results, record.positives) == (3, 3, 1)
    assert results_of(session, tubes) == {tubes[0]: Outcome.NEGATIVE, tubes[1]: Outcome.POSITIVE,
                                          tubes[2]: Outcome.INVALID}
    assert len(service.controls(session, round_, state=ControlState.CONTROLLED)) == 3
    assert session.execute(select(func.count()).select_from(EventRecord)
                           .where(EventRecord.name == "testing.pool_positive")).scalar() == 1
    lab = session.execute(select(Facility).where(Facility.code == "LAB220502")).scalar_one()
    assert record.lab_id == lab.id
    assert session.execute(select(AuditEntry).where(AuditEntry.entity == "result_imports",
                                                    AuditEntry.action == Action.CREATE)).first() is not None


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A 1 for each time an import checked a file row by row."""
    made: list[int] = []
    check = results._check

    def counted(session: Session) -> Any:
        made.append(1)
        return check(session)

    monkeypatch.setattr(results, "_check", counted)
    return made


@pytest.fixture(params=["recent", "older"])
def opened(request: pytest.FixtureRequest, session: Session, tubes: list[str], checks: list[int]) -> Iterator[str]:
    """Tubes opened lately, which a good file is matched with in memory, or longer ago than
    ``results.RECENT``, which are checked row by row; the test ends by asserting which way it went."""
    if request.param == "older":
        with system_access(session):
            session.execute(update(Tube).where(Tube.code.in_(tubes))
                            .values(opened_at=utcnow() - results.RECENT - timedelta(hours=1)))
    yield request.param
    assert bool(checks) == (request.param == "older")


def test_each_result_is_stored_with_its_tube_lab_import_and_times(
        session: Session, tubes: list[str], opened: str, tmp_path: Path) -> None:
    now = utcnow().replace(microsecond=123456)
    tested = (now - timedelta(hours=2)).replace(second=0, microsecond=0)
    data, name = csv_file(tmp_path, [f"{tubes[1]},阳性,{local(tested)},LAB220502,28.5",
                                     f"{tubes[0]},阴性,{local(tested - timedelta(minutes=7))},LAB220502,"])
    record, _ = results.import_results(session, data, name, now=now)
    lab = session.execute(select(Facility).where(Facility.code == "LAB220502")).scalar_one()
    with system_access(session):
        stored = {code: (r.outcome, r.tested_at, r.ct_value, r.lab_id, r.import_id, r.recorded_at,
                         r.jurisdiction_code == jurisdiction)
                  for code, jurisdiction, r in session.execute(
                      select(Tube.code, Tube.jurisdiction_code, TubeResult)
                      .join(TubeResult, TubeResult.tube_id == Tube.id)).all()}
    assert stored == {
        tubes[1]: (Outcome.POSITIVE, tested, 28.5, lab.id, record.id, now, True),
        tubes[0]: (Outcome.NEGATIVE, tested - timedelta(minutes=7), None, lab.id, record.id, now, True),
    }
    assert (record.rows, record.new_results, record.positives) == (2, 2, 1)


def test_a_small_file_is_checked_row_by_row_and_stores_the_same(
        session: Session, tubes: list[str], tmp_path: Path, checks: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "MATCHED_FROM_BYTES", SMALLEST_MATCHED)
    at = local(utcnow())
    record, _ = results.import_results(session, *csv_file(tmp_path, [f"{tubes[0]},阴性,{at},LAB220502,",
                                                                     f"{tubes[1]},阳性,{at},LAB220502,31"]))
    assert checks == [1]
    assert (record.rows, record.new_results, record.positives) == (2, 2, 1)
    assert results_of(session, tubes) == {tubes[0]: Outcome.NEGATIVE, tubes[1]: Outcome.POSITIVE}


def test_the_same_file_again_changes_nothing(session: Session, tubes: list[str], tmp_path: Path) -> None:
    at = local(utcnow())
    data, name = csv_file(tmp_path, [f"{tubes[1]},阳性,{at},LAB220502,30"])
    first, _ = results.import_results(session, data, name)
    second, again = results.import_results(session, data, name)
    assert again and second.id == first.id
    assert session.execute(select(func.count()).select_from(ResultImport)).scalar() == 1
    assert session.execute(select(func.count()).select_from(EventRecord)
                           .where(EventRecord.name == "testing.pool_positive")).scalar() == 1


@pytest.mark.usefixtures("probe", "opened")
def test_rows_already_on_file_with_the_same_result_are_no_change(
        session: Session, tubes: list[str], tmp_path: Path) -> None:
    at = local(utcnow())
    results.import_results(session, *csv_file(tmp_path, [f"{tubes[0]},阴性,{at},LAB220502,"], name="a.csv"))
    record, _ = results.import_results(session, *csv_file(
        tmp_path, [f"{tubes[0]},阴性,{at},LAB220502,", f"{tubes[1]},阴性,{at},LAB220502,"], name="b.csv"))
    assert (record.rows, record.new_results) == (2, 1)


def test_a_bad_file_applies_nothing_and_names_every_bad_row(
        session: Session, tubes: list[str], tmp_path: Path) -> None:
    at = local(utcnow())
    future = local(utcnow() + timedelta(days=1))
    results.import_results(session, *csv_file(tmp_path, [f"{tubes[2]},阴性,{at},LAB220502,"], name="first.csv"))
    data, name = csv_file(tmp_path, [
        f"{tubes[0]},阳性,{at},LAB220502,",   # row 2: fine
        f"T999999999,阴性,{at},LAB220502,",   # row 3: unknown tube
        f"{tubes[1]},阳性,{at},LAB220502,",   # row 4: fine
        f"{tubes[1]},阳性,{at},LAB220502,",   # row 5: the same tube twice
        f"{tubes[2]},阳性,{at},LAB220502,",   # row 6: already negative on file
        f"{tubes[0]}X,阴,{at},LAB220502,",    # row 7: unknown value (and unknown tube)
        f"{tubes[0]}Y,阴性,{future},LAB220502,",  # row 8: in the future
        f"{tubes[0]}Z,阴性,{at},LAB000000,",  # row 9: unknown lab
    ], name="second.csv")
    with pytest.raises(Invalid) as caught:
        results.import_results(session, data, name)
    found = {(e.row, e.field) for e in caught.value.errors}
    assert {(3, "tube_code"), (5, "tube_code"), (6, "result"), (7, "result"), (8, "tested_at"),
            (9, "lab_code")} <= found
    assert not any(row in (2, 4) for row, _ in found)
    assert caught.value.params["count"] == 6
    # Nothing of the file was applied; only the first file's one result is on file.
    assert results_of(session, tubes) == {tubes[2]: Outcome.NEGATIVE}
    assert session.execute(select(func.count()).select_from(ResultImport)).scalar() == 1


@pytest.fixture(params=["probed", "not probed"])
def probe(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the first rows of the file probed for results on file, and without: then a tube with a
    result on file makes the store itself fail, on the primary key."""
    if request.param == "not probed":
        monkeypatch.setattr(results, "PROBED_ROWS", 0)


@pytest.mark.usefixtures("probe", "opened")
def test_a_file_whose_only_fault_is_a_result_recorded_differently_applies_nothing(
        session: Session, tubes: list[str], round_: Round, tmp_path: Path) -> None:
    at = local(utcnow())
    results.import_results(session, *csv_file(tmp_path, [f"{tubes[2]},阴性,{at},LAB220502,"], name="first.csv"))
    # Every row reads well and names a known tube; only the database knows tube 3 is negative already.
    data, name = csv_file(tmp_path, [f"{tubes[0]},阳性,{at},LAB220502,", f"{tubes[1]},阴性,{at},LAB220502,",
                                     f"{tubes[2]},阳性,{at},LAB220502,"], name="second.csv")
    with pytest.raises(Invalid) as caught:
        results.import_results(session, data, name)
    assert [(e.row, e.field) for e in caught.value.errors] == [(4, "result")]
    assert results_of(session, tubes) == {tubes[2]: Outcome.NEGATIVE}
    assert session.execute(select(func.count()).select_from(ResultImport)).scalar() == 1
    assert service.controls(session, round_) == []


@pytest.mark.usefixtures("probe", "opened")
def test_a_result_recorded_differently_is_named_in_the_language_the_error_is_read_in(
        session: Session, tubes: list[str], tmp_path: Path) -> None:
    at = local(utcnow())
    results.import_results(session, *csv_file(tmp_path, [f"{tubes[0]},阴性,{at},LAB220502,"], name="first.csv"))
    # An upload's job finds the errors in the default language; the page shows them in the reader's.
    with pytest.raises(Invalid) as caught:
        results.import_results(session, *csv_file(tmp_path, [f"{tubes[0]},阳性,{at},LAB220502,"], name="again.csv"))
    (error,) = caught.value.errors
    before = get_locale()
    try:
        set_locale("zh_CN")
        assert translate(error.message, error.params) == f"采样管 {tubes[0]} 已有结果“阴性”，不能用不同的结果替换。"
        set_locale("en")
        assert translate(error.message, error.params) == (
            f"Tube {tubes[0]} already has the result negative; a different result cannot replace it.")
    finally:
        set_locale(before)


def test_a_file_whose_only_fault_is_an_unknown_tube_applies_nothing(
        session: Session, tubes: list[str], tmp_path: Path) -> None:
    at = local(utcnow())
    data, name = csv_file(tmp_path, [f"{tubes[0]},阴性,{at},LAB220502,", f"T999999999,阴性,{at},LAB220502,",
                                     f"{tubes[1]},阴性,{at},LAB220502,"])
    with pytest.raises(Invalid) as caught:
        results.import_results(session, data, name)
    assert [(e.row, e.field) for e in caught.value.errors] == [(3, "tube_code")]
    assert results_of(session, tubes) == {}
    assert session.execute(select(func.count()).select_from(ResultImport)).scalar() == 0


def test_a_file_whose_only_fault_is_a_tube_sent_to_another_lab_applies_nothing(
        session: Session, tubes: list[str], lab: Facility, tmp_path: Path) -> None:
    other = Facility(name="二道江区疾控中心实验室(2)", kind=FacilityKind.LAB, code="LABX", jurisdiction_code="220503")
    session.add(other)
    session.flush()
    service.send_tubes(session, [tubes[0]], lab.id)
    service.send_tubes(session, [tubes[1]], other.id)
    at = local(utcnow())
    # The system imports for any lab; the file names 东昌区's lab for a tube sent to the other one.
    # (Alone in its file: on SQLite a row without a tube id once took the next free id.)
    data, name = csv_file(tmp_path, [f"{tubes[1]},阴性,{at},LAB220502,"])
    with pytest.raises(Invalid) as caught:
        results.import_results(session, data, name)
    assert [(e.row, e.field) for e in caught.value.errors] == [(2, "tube_code")]
    assert results_of(session, tubes) == {}
    with system_access(session):
        assert session.execute(select(func.count()).select_from(TubeResult)).scalar() == 0


@pytest.mark.usefixtures("probe", "opened")
def test_a_tube_recorded_by_two_files_keeps_its_first_result_and_reacts_once(
        session: Session, tubes: list[str], round_: Round, tmp_path: Path) -> None:
    at = local(utcnow())
    first, _ = results.import_results(session, *csv_file(tmp_path, [f"{tubes[1]},阳性,{at},LAB220502,30"],
                                                         name="a.csv"))
    # The lab's file of the day so far: the first file's row again, and two new results.
    second, _ = results.import_results(session, *csv_file(
        tmp_path, [f"{tubes[1]},阳性,{at},LAB220502,30", f"{tubes[0]},阴性,{at},LAB220502,",
                   f"{tubes[2]},阳性,{at},LAB220502,27"], name="b.csv"))
    assert (first.new_results, second.new_results, second.positives) == (1, 2, 1)
    with system_access(session):
        stored = dict(session.execute(select(Tube.code, TubeResult.import_id)
                                      .join(Tube, Tube.id == TubeResult.tube_id)).all())
    assert stored == {tubes[1]: first.id, tubes[0]: second.id, tubes[2]: second.id}
    positives = session.execute(select(EventRecord.payload).where(EventRecord.name == "testing.pool_positive")
                                .order_by(EventRecord.id)).scalars().all()
    assert [p["tube_code"] for p in positives] == [tubes[1], tubes[2]]


def test_gb18030_and_english_headers_read_the_same(session: Session, tubes: list[str], tmp_path: Path) -> None:
    at = local(utcnow())
    data, name = csv_file(tmp_path, [f"{tubes[0]},阴性,{at},LAB220502,", f"{tubes[1]},可疑,{at},LAB220502,36"],
                          encoding="gb18030")
    assert results.import_results(session, data, name)[0].new_results == 2
    data, name = csv_file(tmp_path, [f"{tubes[2]},negative,{at},LAB220502,"], header=HEADER_EN, encoding="utf-8",
                          name="en.csv")
    assert results.import_results(session, data, name)[0].new_results == 1
    assert results_of(session, tubes)[tubes[1]] is Outcome.INCONCLUSIVE


def test_an_xlsx_file_with_excel_dates_applies(session: Session, tubes: list[str], tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["管号", "检测结果", "检测时间", "检测机构", "Ct值"])
    tested = (datetime.now(UTC) + timedelta(hours=8) - timedelta(minutes=10)).replace(tzinfo=None, microsecond=0)
    sheet.append([tubes[0], "阴性", tested, "LAB220502", None])
    sheet.append([tubes[1], "阳性", tested, "LAB220502", 25.1])
    path = tmp_path / "results.xlsx"
    book.save(path)
    record, _ = results.import_results(session, path.read_bytes(), path.name)
    assert record.new_results == 2
    with system_access(session):
        stored = session.execute(select(TubeResult).join(Tube, Tube.id == TubeResult.tube_id)
                                 .where(Tube.code == tubes[1])).scalar_one()
    assert stored.tested_at == tested.replace(tzinfo=UTC) - timedelta(hours=8)
    assert stored.ct_value == pytest.approx(25.1)


def test_a_lab_imports_its_own_tubes_and_not_those_sent_elsewhere(
        session: Session, tubes: list[str], lab: Facility, as_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = Facility(name="二道江区疾控中心实验室(2)", kind=FacilityKind.LAB, code="LABX", jurisdiction_code="220503")
    session.add(other)
    session.flush()
    service.send_tubes(session, [tubes[0]], lab.id)
    service.send_tubes(session, [tubes[1]], other.id)
    as_user("lab")
    at = local(utcnow())
    with pytest.raises(Invalid) as caught:
        results.import_results(session, *csv_file(tmp_path, [f"{tubes[0]},阴性,{at},LAB220502,",
                                                             f"{tubes[1]},阴性,{at},LAB220502,"]))
    assert [(e.row, e.field) for e in caught.value.errors] == [(3, "tube_code")]
    with pytest.raises(Invalid) as caught:
        results.import_results(session, *csv_file(tmp_path, [f"{tubes[0]},阴性,{at},LABX,"], name="x.csv"))
    # Another lab's code: not this account's lab, nor the lab the tube was sent to.
    assert {(e.row, e.field) for e in caught.value.errors} == {(2, "lab_code"), (2, "tube_code")}
    record, _ = results.import_results(session, *csv_file(tmp_path, [f"{tubes[0]},阴性,{at},LAB220502,"],
                                                          name="ok.csv"))
    assert record.new_results == 1


def test_a_community_worker_cannot_import(session: Session, tubes: list[str], as_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    as_user("dongchang_worker")
    with pytest.raises(Forbidden):
        results.import_results(session, *csv_file(tmp_path, [f"{tubes[0]},阴性,{local(utcnow())},LAB220502,"]))


def test_tubes_outside_the_importers_jurisdiction_are_unknown_to_them(
        session: Session, round_: Round, as_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fangkong.testing.schemas import SiteIn

    far = service.create_site(session, SiteIn(name="东通化采样点", jurisdiction_code="220503001001",
                                              opens_at=datetime(2021, 1, 1, 6).time(),
                                              closes_at=datetime(2021, 1, 1, 22).time()))
    sample(session, round_, far, code := tube_code(), residents(session, "220503001001", 2))
    as_user("dongchang_testing")
    with pytest.raises(Invalid) as caught:
        results.import_results(session, *csv_file(tmp_path, [f"{code},阴性,{local(utcnow())},LAB220502,"]))
    assert caught.value.errors[0].field == "tube_code"
