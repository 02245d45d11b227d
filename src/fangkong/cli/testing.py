"""``fangkong testing``: apply a lab's result file, raise the alerts of overdue orders, play a simulated round.

The commands use the helpers of ``fangkong.cli.main`` (``unit_of_work``, ``fail``, ``bad_input`` …),
imported when a command runs: ``main`` imports this module to mount the sub-app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from fangkong.core.errors import N_, FieldError, Invalid
from fangkong.core.i18n import field_label, number, translate

if TYPE_CHECKING:
    from fangkong.testing.simulate import RoundPlayed

app = typer.Typer(help="Whole-population testing: lab result files, overdue alerts, simulated rounds.",
                  no_args_is_help=True)

# A rejected file's bad rows are shown as a table up to this many; beyond, one plain line each.
TABLE_ROWS = 100


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(metavar="FILE", show_default=False,
                                         help="A lab's result file in the standard template (.csv or .xlsx).")],
    as_user: Annotated[str | None, typer.Option(
        "--as", metavar="USERNAME", help="Act as this user, within their jurisdiction and lab (default: the system).",
    )] = None,
) -> None:
    """Apply a lab's result file: all of it or, when any row is bad, none; a file applied before changes nothing."""
    from fangkong.cli.main import bad_input, connected_engine, fail, out, unit_of_work
    from fangkong.testing import results
    from fangkong.users import service as users

    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise bad_input(translate(N_("No such file: {path}"), {"path": str(file)})) from None
    except OSError as exc:
        raise bad_input(translate(N_("Cannot read {path}: {reason}"),
                                  {"path": str(file), "reason": exc.strerror or str(exc)})) from None
    with unit_of_work(connected_engine()) as session:
        if as_user is not None:
            user = users.find_user(session, as_user)
            if user is None or not user.is_active:
                raise fail(translate(N_("No active user named {name}."), {"name": as_user}))
            users.principal_for(user).bind(session)
        try:
            with _import_progress() as report:
                record, again = results.import_results(session, data, file.name, progress=report)
        except Invalid as exc:
            _print_rejected(exc.errors)
            raise bad_input(translate(exc.message, exc.params)) from None
    figures = {"file": file.name, "rows": number(record.rows), "new": number(record.new_results),
               "positives": number(record.positives), "id": record.id}
    if again:
        out.print(translate(N_("{file} was already imported (import {id}): nothing changed. "
                               "It had {rows} rows, {new} new results, {positives} positive."), figures),
                  highlight=False)
    else:
        out.print(translate(N_("Applied {file} (import {id}): {rows} rows, {new} new results, {positives} positive."),
                            figures), highlight=False)


@contextmanager
def _import_progress() -> Iterator[Callable[[int, int, str], None]]:
    """A progress bar fed by the import's ``(done, total, message)`` callback, on a terminal; gone when it ends."""
    from fangkong.cli.main import out

    with Progress(TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=out, transient=True, disable=not out.is_terminal) as progress:
        task = progress.add_task(translate(N_("Checking the file")), total=None)

        def report(done: int, total: int, message: str) -> None:
            progress.update(task, completed=done, total=total, description=translate(message))

        yield report


def _print_rejected(errors: list[FieldError]) -> None:
    """Every bad row of a rejected file on stderr: a table when there are few, else a line each."""
    from fangkong.cli.main import err

    if not errors:
        return
    if len(errors) <= TABLE_ROWS:
        table = Table(translate(N_("Row")), translate(N_("Field")), translate(N_("Problem")), highlight=False)
        for e in errors:
            table.add_row("—" if e.row is None else str(e.row), Text(field_label(e.field)),
                          Text(translate(e.message, e.params)))
        err.print(table)
        return
    # Thousands of rows: plain text, written at once (Rich would take seconds to lay them out).
    lines = [translate(N_("Row {row}, {field}: {message}"),
                       {"row": "—" if e.row is None else e.row, "field": field_label(e.field),
                        "message": translate(e.message, e.params)}) for e in errors]
    typer.echo("\n".join(lines), err=True)


@app.command("check-clocks")
def check_clocks() -> None:
    """Raise an alert (once) for every re-sampling order past its clock; run it every few minutes."""
    from fangkong.cli.main import connected_engine, out, unit_of_work
    from fangkong.testing import service

    with unit_of_work(connected_engine()) as session:
        raised = service.raise_overdue_alerts(session)
    out.print(translate(N_("Alerts raised for {count} overdue re-sampling orders."), {"count": number(raised)}),
              highlight=False)


@app.command("simulate-round")
def simulate_round(
    data: Annotated[Path, typer.Option(
        "--data", show_default=False,
        help="The synthetic dataset the city was loaded from; its infections.parquet is the ground truth.",
    )],
    day: Annotated[int | None, typer.Option(
        help="Day of the scenario to play the round on, from its first simulated day (0). Default: the last.",
        show_default=False,
    )] = None,
    sensitivity: Annotated[float, typer.Option(
        help="Chance that a tube holding an infected person is positive.")] = 0.9,
    seed: Annotated[int, typer.Option(help="Random seed: the same inputs and seed play the same round.")] = 2021,
    share_sampled: Annotated[float, typer.Option(help="Share of the target sampled so far.")] = 0.9,
    share_resulted: Annotated[float, typer.Option(help="Share of the tubes with a result back so far.")] = 0.8,
    name: Annotated[str | None, typer.Option(help="Name of the round. Default: the area's name and number.",
                                             show_default=False)] = None,
    area: Annotated[str | None, typer.Option(help="Jurisdiction code the round covers. Default: the city.",
                                             show_default=False)] = None,
    if_none: Annotated[bool, typer.Option("--if-none", help="Do nothing when the database holds a round.")] = False,
) -> None:
    """Play a round of whole-population testing on the loaded synthetic city, through the real services."""
    from fangkong.cli.main import bad_input, connected_engine, out, progress_bars, unit_of_work
    from fangkong.config import get_settings
    from fangkong.synth.dataset import DatasetError
    from fangkong.testing import simulate

    started = time.monotonic()
    engine = connected_engine()
    with unit_of_work(engine) as session:
        if if_none and simulate.has_rounds(session):
            out.print(translate(N_("The database holds a round already: nothing to do.")), highlight=False)
            return
    try:
        with unit_of_work(engine) as session, progress_bars() as report:
            try:
                played = simulate.simulate_round(
                    session, data, files_dir=get_settings().data_dir / "lab-results", day=day,
                    sensitivity=sensitivity, seed=seed, share_sampled=share_sampled, share_resulted=share_resulted,
                    name=name, area=area, if_none=if_none,
                    progress=lambda stage, done, total: report(translate(stage), done, total))
            except Invalid as exc:
                details = "; ".join(f"{field_label(e.field)}: {translate(e.message, e.params)}" for e in exc.errors
                                    if len(exc.errors) > 1)
                raise bad_input(translate(exc.message, exc.params) + (f" ({details})" if details else "")) from None
    except DatasetError as exc:
        raise bad_input(str(exc)) from None
    if played is None:  # a round was opened meanwhile
        out.print(translate(N_("The database holds a round already: nothing to do.")), highlight=False)
        return
    out.print(_summary(played, time.monotonic() - started))


def _summary(p: RoundPlayed, seconds: float) -> Table:
    """The figures of a simulated round, beside the ground truth."""
    share = p.sampled / p.target if p.target else 0.0
    rows = [
        (N_("Round"), f"{p.name} (#{p.round_id}, {p.jurisdiction_code})"),
        (N_("Scenario day"), p.day.isoformat()),
        (N_("High-risk communities (single tube)"), number(p.high_risk)),
        (N_("Medium-risk communities"), number(p.medium_risk)),
        (N_("Sampling sites created"), number(p.sites_created)),
        (N_("Target"), number(p.target)),
        (N_("Sampled"), f"{number(p.sampled)} ({share:.1%})"),
        (N_("Not yet sampled"), number(p.target - p.sampled)),
        (N_("Tubes"), number(p.tubes)),
        (N_("Pooled tubes"), number(p.pooled_tubes)),
        (N_("Tubes with a result"), number(p.resulted_tubes)),
        (N_("Positive pools"), number(p.positive_pools)),
        (N_("Positive single tubes"), number(p.positive_singles)),
        (N_("Invalid tubes"), number(p.invalid_tubes)),
        (N_("Re-test orders"), number(p.retest_orders)),
        (N_("Re-sampling orders"), number(p.resample_orders)),
        (N_("Persons re-tested single-tube"), number(p.retests)),
        (N_("Persons sampled again"), number(p.resamples)),
        (N_("Re-test tubes with a result"), number(p.follow_up_resulted)),
        (N_("Released after a negative re-test"), number(p.released)),
        (N_("Still under temporary control"), number(p.controlled)),
        (N_("Orders still open"), number(p.open_orders)),
        (N_("Overdue alerts raised"), number(p.overdue_alerts)),
        (N_("Positives found"), number(p.positives_found)),
        (N_("of them truly infected"), number(p.positives_infected)),
        (N_("Truly infected in the target"), number(p.infected_in_target)),
        (N_("Truly infected and sampled"), number(p.infected_sampled)),
        (N_("Result files imported"), number(p.result_files)),
        (N_("Result files in"), str(p.files_dir)),
        (N_("Time taken"), f"{seconds:.1f} s"),
    ]
    table = Table(show_header=False, highlight=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="left")
    for label, value in rows:
        table.add_row(translate(label), Text(value))
    return table
