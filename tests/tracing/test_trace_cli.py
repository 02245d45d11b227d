"""``fangkong trace``: a run writes contacts.csv and exposures.parquet; bad input is one line and writes nothing.

The command runs in this process (Typer's runner) on the hand-made town of test_engine: Zhang is
the case, Li lives with him, Wang rode the bus with him, Zhao ate with Wang, Chen shopped beside him.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from fangkong.cli.main import app
from fangkong.tracing.engine import EXPOSURES
from tests.tracing.test_engine import (
    BUS,
    CHEN,
    LI,
    MARKET,
    RESTAURANT,
    WANG,
    ZHANG,
    ZHAO,
    at,
    town,
)

HEADER = "person_id,onset_at,sampled_at,isolated_at"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The town as a dataset folder: four days of presence, persons and places."""
    city = town().visit(ZHANG, BUS, at(1, "08:00"), at(1, "08:30")).visit(WANG, BUS, at(1, "08:10"), at(1, "09:00"))
    city.visit(WANG, RESTAURANT, at(1, "18:00"), at(1, "19:00")).visit(ZHAO, RESTAURANT, at(1, "18:00"), at(1, "19:00"))
    city.visit(ZHANG, MARKET, at(1, "10:00"), at(1, "10:30")).visit(CHEN, MARKET, at(1, "10:20"), at(1, "11:00"))
    city.write(tmp_path / "town")
    return tmp_path / "town"


def run(tmp_path: Path, data: Path, cases: str, *args: str) -> Result:
    (tmp_path / "cases.csv").write_text(cases, encoding="utf-8")
    return CliRunner().invoke(app, ["trace", "--data", str(data), "--cases", str(tmp_path / "cases.csv"),
                                    "--out", str(tmp_path / "out"), "--ruleset", "protocol-8", *args])


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_run_writes_the_contacts_and_their_evidence(tmp_path: Path, data: Path) -> None:
    result = run(tmp_path, data, f"{HEADER}\n{ZHANG},2021-01-12T12:00:00Z,2021-01-12T20:00:00Z,\n")
    assert result.exit_code == 0, result.stderr
    assert "2 close, 1 secondary and 1 exposed contacts of 1 cases" in result.stdout
    lines = (tmp_path / "out" / "contacts.csv").read_text(encoding="utf-8").splitlines()
    assert lines == [
        "person_id,kind,case_person_id,via_person_id,place_id,first_exposure,last_exposure",
        f"{LI},close,{ZHANG},,,2021-01-10T12:00:00Z,2021-01-14T00:00:00Z",
        f"{WANG},close,{ZHANG},,{BUS},2021-01-11T08:10:00Z,2021-01-11T08:30:00Z",
        f"{ZHAO},secondary,{ZHANG},{WANG},{RESTAURANT},2021-01-11T18:00:00Z,2021-01-11T19:00:00Z",
        f"{CHEN},exposed,{ZHANG},,{MARKET},2021-01-11T10:20:00Z,2021-01-11T10:30:00Z",
    ]
    exposures = pq.read_table(tmp_path / "out" / "exposures.parquet")
    assert exposures.schema.equals(EXPOSURES)
    assert exposures.num_rows == 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_isolations_file_ends_a_close_contacts_window(tmp_path: Path, data: Path) -> None:
    (tmp_path / "isolations.csv").write_text(f"person_id,isolated_at\n{WANG},2021-01-11T12:00:00Z\n")
    result = run(tmp_path, data, f"{HEADER}\n{ZHANG},2021-01-12T12:00:00Z,2021-01-12T20:00:00Z,\n",
                 "--isolations", str(tmp_path / "isolations.csv"))
    assert result.exit_code == 0, result.stderr
    assert "secondary" not in (tmp_path / "out" / "contacts.csv").read_text()


def test_missing_days_are_written_and_said(tmp_path: Path, data: Path) -> None:
    # Onset on the first day: the window starts two days before the data do.
    result = run(tmp_path, data, f"{HEADER}\n{ZHANG},2021-01-10T12:00:00Z,2021-01-10T20:00:00Z,\n")
    assert result.exit_code == 0, result.stderr
    assert "no presence data for 2021-01-08, 2021-01-09" in result.stdout
    assert (tmp_path / "out" / "contacts.csv").is_file()


@pytest.mark.parametrize(("cases", "message"), [
    ("person,onset,sampled,isolated\n1,,2021-01-12T20:00:00Z,\n",
     "cases.csv line 1: the header must be person_id,onset_at,sampled_at,isolated_at, not "
     "person,onset,sampled,isolated"),
    (f"{HEADER}\n1,,2021-01-12T20:00:00Z,\n\n999,,2021-01-12T20:00:00Z,\n",
     "cases.csv line 4: no person 999 in persons.parquet"),
    (f"{HEADER}\nzhang,,2021-01-12T20:00:00Z,\n", "cases.csv line 2: person_id 'zhang' is not a number"),
    (f"{HEADER}\n1,2021-01-12T12:00:00Z,,\n",
     "cases.csv line 2: sampled_at is missing (the first positive sample is required)"),
    (f"{HEADER}\n1,2021-01-32T12:00:00Z,2021-01-12T20:00:00Z,\n",
     "cases.csv line 2: onset_at '2021-01-32T12:00:00Z' is not an ISO 8601 time (write it as 2021-01-05T08:00:00Z)"),
    (f"{HEADER}\n1,,2021-01-12 20:00,\n",
     "cases.csv line 2: sampled_at '2021-01-12 20:00' has no time zone (write UTC times with a Z, as "
     "2021-01-05T08:00:00Z)"),
    (f"{HEADER}\n1,2021-01-12T12:00:00Z,2021-01-12T20:00:00Z,2021-01-10T11:59:59Z\n",
     "cases.csv line 2: isolated_at 2021-01-10T11:59:59Z is before the case's window starts (onset less 2 "
     "days: 2021-01-10T12:00:00Z)"),
    (f"{HEADER}\n1,,2021-01-12T20:00:00Z,2021-01-10T19:00:00Z\n",
     "cases.csv line 2: isolated_at 2021-01-10T19:00:00Z is before the case's window starts (the first "
     "positive sample less 2 days: 2021-01-10T20:00:00Z)"),
    (f"{HEADER}\n1,,2021-01-12T20:00:00Z,\n2,,2021-01-12T20:00:00Z,\n1,,2021-01-13T20:00:00Z,\n",
     "cases.csv line 4: person 1 is listed twice (first on line 2)"),
    (f"{HEADER}\n1,,2021-01-12T20:00:00Z\n", "cases.csv line 2: expected 4 fields, found 3"),
    (f"{HEADER}\n", "cases.csv lists no cases"),
])
def test_bad_cases_are_one_line_and_nothing_is_written(tmp_path: Path, data: Path, cases: str, message: str) -> None:
    result = run(tmp_path, data, cases)
    assert result.exit_code == 2
    assert one_error_line(result) == f"error: {message}"
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(("isolations", "message"), [
    ("person_id,isolated_at\n3,yesterday\n",
     "isolations.csv line 2: isolated_at 'yesterday' is not an ISO 8601 time (write it as 2021-01-05T08:00:00Z)"),
    ("person_id,isolated_at\n3,2021-01-11T12:00:00Z\n3,2021-01-11T13:00:00Z\n",
     "isolations.csv line 3: person 3 is listed twice (first on line 2)"),
    ("person_id,isolated_at\n404,2021-01-11T12:00:00Z\n", "isolations.csv line 2: no person 404 in persons.parquet"),
])
def test_a_bad_isolations_file_is_one_line(tmp_path: Path, data: Path, isolations: str, message: str) -> None:
    (tmp_path / "isolations.csv").write_text(isolations)
    result = run(tmp_path, data, f"{HEADER}\n1,,2021-01-12T20:00:00Z,\n", "--isolations",
                 str(tmp_path / "isolations.csv"))
    assert result.exit_code == 2
    assert one_error_line(result) == f"error: {message}"
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path, data: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    result = run(tmp_path, data, f"{HEADER}\n1,,2021-01-12T20:00:00Z,\n")
    assert result.exit_code == 2
    assert "is not an empty folder" in one_error_line(result)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]


def test_an_unknown_rule_set_and_a_folder_without_data_are_refused(tmp_path: Path, data: Path) -> None:
    result = run(tmp_path, data, f"{HEADER}\n1,,2021-01-12T20:00:00Z,\n", "--ruleset", "protocol-99")
    assert result.exit_code == 2 and "no rule set 'protocol-99'" in one_error_line(result)
    result = run(tmp_path, tmp_path / "nowhere", f"{HEADER}\n1,,2021-01-12T20:00:00Z,\n")
    assert result.exit_code == 2 and "is not a dataset folder" in one_error_line(result)
