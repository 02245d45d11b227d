"""``fangkong tracing``: trace the cases in the database, raise the alerts of missed clocks.

(``fangkong trace`` is the engine alone over files, for batch use and outside checks.) The commands
use the helpers of ``fangkong.cli.main``, imported when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fangkong.core.errors import N_
from fangkong.core.i18n import number, translate

app = typer.Typer(help="Tracing: runs of the contact engine over the cases on record, overdue alerts.",
                  no_args_is_help=True)


@app.command("run")
def run(
    case: Annotated[list[int] | None, typer.Option(
        "--case", help="A case to trace (repeat the option); default: every case on record.", show_default=False,
    )] = None,
    data: Annotated[Path | None, typer.Option(
        "--presence", help="The presence folder (day=YYYY-MM-DD/…); default: the data directory's.",
        show_default=False)] = None,
    if_none: Annotated[bool, typer.Option(
        "--if-none", help="Do nothing when a tracing run is already on record (for scripts that start the demo).",
    )] = False,
) -> None:
    """Trace cases now, in this process: their contacts are written with their control orders."""
    from sqlalchemy import select

    from fangkong.cli.main import connected_engine, out, progress_bars, unit_of_work
    from fangkong.core.scope import Principal
    from fangkong.tracing import runs
    from fangkong.tracing.models import Case, TracingRun

    with unit_of_work(connected_engine()) as session:
        Principal.system().bind(session)
        if if_none and session.execute(select(TracingRun.id).limit(1)).first() is not None:
            out.print(translate(N_("A tracing run is already on record; nothing done.")), highlight=False)
            return
        if not case and session.execute(select(Case.id).limit(1)).first() is None:
            out.print(translate(N_("There is no case to trace.")), highlight=False)
            return
        started = runs.start_run(session, list(case or []), queue=False)
        with progress_bars() as report:
            result = runs.execute(session, started, data=data, progress=report)
    by_kind = result["by_kind"]
    out.print(translate(N_("Traced {cases} cases: {close} close, {secondary} secondary and {exposed} exposed "
                           "contacts; {new} new."),
                        {"cases": number(result["cases"]), "close": number(by_kind["close"]),
                         "secondary": number(by_kind["secondary"]), "exposed": number(by_kind["exposed"]),
                         "new": number(result["new"])}), highlight=False)
    if result["missing_days"]:
        out.print(translate(N_("Presence data missing for {days}: the contact list is incomplete."),
                            {"days": ", ".join(result["missing_days"])}), style="bold red", highlight=False)


@app.command("check-clocks")
def check_clocks() -> None:
    """Raise an alert (once) for every investigation and contact past its clock; run it every few minutes."""
    from fangkong.cli.main import connected_engine, out, unit_of_work
    from fangkong.tracing import service

    with unit_of_work(connected_engine()) as session:
        raised = service.raise_overdue_alerts(session)
    out.print(translate(N_("Alerts raised for {count} missed tracing clocks."), {"count": number(raised)}),
              highlight=False)
