"""``fangkong trace``: the close, secondary and exposed contacts of a list of cases, from a presence dataset.

The command reads its input files whole and checks every line before tracing anything; the first
bad line stops it with its line number (the header is line 1) and writes nothing. The result goes
to a hidden sibling of ``--out`` that is renamed into place once complete, so a run that fails or
is interrupted leaves no half-written folder. It uses the helpers of ``fangkong.cli.main``, imported
when it runs: ``main`` imports this module to register the command.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer

from fangkong.tracing.engine import CaseInput, ContactKind, Source, TraceResult

CASES_HEADER = ["person_id", "onset_at", "sampled_at", "isolated_at"]
ISOLATIONS_HEADER = ["person_id", "isolated_at"]
CONTACTS_FILE = "contacts.csv"
EXPOSURES_FILE = "exposures.parquet"


class BadInput(ValueError):
    """A line of an input file that cannot be used; the message names the file and the line."""


def trace(
    data: Annotated[Path, typer.Option("--data", help="A dataset folder written by `fangkong synth` (presence, "
                                                      "persons and places).", show_default=False)],
    cases_file: Annotated[Path, typer.Option("--cases", metavar="CASES.csv", show_default=False, help=(
        "The cases: header person_id,onset_at,sampled_at,isolated_at; ISO 8601 UTC times "
        "(2021-01-05T08:00:00Z); onset_at and isolated_at may be empty."))],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write contacts.csv and exposures.parquet into "
                                                        "(new or empty).", show_default=False)],
    ruleset: Annotated[str | None, typer.Option(help="Rule set (default: the deployment's, FANGKONG_RULESET).",
                                                show_default=False)] = None,
    isolations_file: Annotated[Path | None, typer.Option("--isolations", metavar="FILE", help=(
        "When contacts were isolated: header person_id,isolated_at. Ends a close contact's own window."))] = None,
) -> None:
    """Trace the contacts of the cases in CASES.csv through the presence records of a dataset."""
    from fangkong import rulesets
    from fangkong.cli.main import bad_input, out, progress_bars
    from fangkong.synth.dataset import DatasetError
    from fangkong.tracing.engine import trace as find_contacts

    try:
        rules = rulesets.load(ruleset) if ruleset else rulesets.current()
    except LookupError as exc:
        raise bad_input(str(exc).strip("'\"")) from None
    _check_target(out_dir, bad_input)
    try:
        source = Source.from_dataset(data)
    except DatasetError as exc:
        raise bad_input(str(exc)) from None
    needed = [Path(source.presence), Path(str(source.persons)), Path(str(source.places))]
    if not needed[0].is_dir() or not all(path.is_file() for path in needed[1:]):
        raise bad_input(f"{data} is not a dataset folder: it needs presence/, persons.parquet and places.parquet")
    known = np.sort(pq.read_table(needed[1], columns=["person_id"])["person_id"].to_numpy())
    try:
        cases = read_cases(cases_file, known, rules.tracing.lookback_days)
        isolations = read_isolations(isolations_file, known) if isolations_file else {}
    except BadInput as exc:
        raise bad_input(str(exc)) from None

    try:
        with progress_bars() as report:
            result = find_contacts(source, cases, rules.tracing, isolations=isolations, progress=report)
    except ValueError as exc:  # a presence folder with no partitions, a place listed twice …
        raise bad_input(str(exc)) from None
    write_result(result, out_dir)

    counts = result.counts
    out.print(f"wrote {out_dir}: {counts[ContactKind.CLOSE]:,} close, {counts[ContactKind.SECONDARY]:,} secondary "
              f"and {counts[ContactKind.EXPOSED]:,} exposed contacts of {result.cases:,} cases "
              f"({result.exposures.num_rows:,} pieces of evidence, {result.rows_read:,} presence records read)",
              highlight=False)
    if result.missing_days:
        days = ", ".join(d.isoformat() for d in result.missing_days)
        out.print(f"[bold yellow]warning:[/] no presence data for {days}, inside the cases' or close contacts' "
                  "windows: anyone met on those days is missing from the contact list", highlight=False)


# -- Input files ----------------------------------------------------------------------------------------


def read_cases(path: Path, known: np.ndarray, lookback_days: int) -> list[CaseInput]:
    """The cases of CASES.csv; BadInput naming the first bad line."""
    cases: list[CaseInput] = []
    first_line: dict[int, int] = {}
    for line, row in _rows(path, CASES_HEADER):
        person = _person(path, line, row[0], known)
        if person in first_line:
            raise BadInput(f"{path.name} line {line}: person {person} is listed twice (first on line "
                           f"{first_line[person]})")
        first_line[person] = line
        onset = _time(path, line, "onset_at", row[1])
        sampled = _time(path, line, "sampled_at", row[2])
        if sampled is None:
            raise BadInput(f"{path.name} line {line}: sampled_at is missing (the first positive sample is required)")
        isolated = _time(path, line, "isolated_at", row[3])
        start = (onset or sampled) - timedelta(days=lookback_days)
        if isolated is not None and isolated < start:
            since = "onset" if onset else "the first positive sample"
            raise BadInput(f"{path.name} line {line}: isolated_at {_iso(isolated)} is before the case's window "
                           f"starts ({since} less {lookback_days} days: {_iso(start)})")
        cases.append(CaseInput(person, onset, sampled, isolated))
    if not cases:
        raise BadInput(f"{path.name} lists no cases")
    return cases


def read_isolations(path: Path, known: np.ndarray) -> dict[int, datetime]:
    """When contacts were isolated, from a person_id,isolated_at file; BadInput naming the first bad line."""
    isolated: dict[int, datetime] = {}
    first_line: dict[int, int] = {}
    for line, row in _rows(path, ISOLATIONS_HEADER):
        person = _person(path, line, row[0], known)
        if person in first_line:
            raise BadInput(f"{path.name} line {line}: person {person} is listed twice (first on line "
                           f"{first_line[person]})")
        first_line[person] = line
        moment = _time(path, line, "isolated_at", row[1])
        if moment is None:
            raise BadInput(f"{path.name} line {line}: isolated_at is missing")
        isolated[person] = moment
    return isolated


def _rows(path: Path, header: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each data line; the header must be exactly ``header``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInput(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    reader = csv.reader(text.splitlines())
    first = next(reader, None)
    if first is None or [f.strip() for f in first] != header:
        found = ",".join(first) if first else "nothing"
        raise BadInput(f"{path.name} line 1: the header must be {','.join(header)}, not {found}")
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue  # a blank line
        if len(fields) != len(header):
            raise BadInput(f"{path.name} line {line}: expected {len(header)} fields, found {len(fields)}")
        yield line, [f.strip() for f in fields]


def _person(path: Path, line: int, text: str, known: np.ndarray) -> int:
    try:
        person = int(text)
    except ValueError:
        raise BadInput(f"{path.name} line {line}: person_id {text!r} is not a number") from None
    at = int(np.searchsorted(known, person))
    if at >= len(known) or known[at] != person:
        raise BadInput(f"{path.name} line {line}: no person {person} in persons.parquet")
    return person


def _time(path: Path, line: int, column: str, text: str) -> datetime | None:
    """An ISO 8601 time with its offset (Z for UTC), in UTC; None for an empty field."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{path.name} line {line}: {column} {text!r} is not an ISO 8601 time "
                       "(write it as 2021-01-05T08:00:00Z)") from None
    if moment.tzinfo is None:
        raise BadInput(f"{path.name} line {line}: {column} {text!r} has no time zone "
                       "(write UTC times with a Z, as 2021-01-05T08:00:00Z)")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- Output --------------------------------------------------------------------------------------------------


def _check_target(out_dir: Path, bad_input: Callable[[str], typer.Exit]) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise bad_input(f"{out_dir} is not an empty folder; write the result into a new one")


def write_result(result: TraceResult, out_dir: Path) -> None:
    """contacts.csv and exposures.parquet, written into a hidden sibling folder renamed into place when complete."""
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        contacts = result.contacts
        columns = {name: contacts[name] for name in contacts.column_names}
        for name in ("first_exposure", "last_exposure"):
            columns[name] = _iso_column(contacts[name])
        pacsv.write_csv(pa.table(columns), partial / CONTACTS_FILE,
                        write_options=pacsv.WriteOptions(quoting_style="none", quoting_header="none"))
        pq.write_table(result.exposures, partial / EXPOSURES_FILE, compression="zstd")
        if out_dir.exists():
            out_dir.rmdir()  # empty, as checked before tracing
        partial.rename(out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _iso_column(times: pa.ChunkedArray) -> pa.ChunkedArray:
    """UTC timestamps as ISO 8601 text ending in Z; without a fraction when every one is a whole second."""
    micros = np.asarray(pc.fill_null(times.cast(pa.int64()), 0).to_numpy())
    if not (micros % 1_000_000).any():
        times = times.cast(pa.timestamp("s", tz="UTC"))
    return pc.strftime(times, format="%Y-%m-%dT%H:%M:%SZ")
