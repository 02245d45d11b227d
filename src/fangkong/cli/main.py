"""The ``fangkong`` command: serve, migrate, load the demo, manage users and tokens, run jobs, testing, tracing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from fangkong.cli import testing as testing_cli
from fangkong.cli import trace as trace_cli
from fangkong.cli import tracing as tracing_cli
from fangkong.config import get_settings
from fangkong.core.auth import Role
from fangkong.core.db import describe_url, make_engine, system_session, utcnow
from fangkong.core.errors import AppError

app = typer.Typer(help="fangkong (防控): outbreak prevention-and-control command platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo city.", no_args_is_help=True)
user_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(user_app, name="user")
app.add_typer(jobs_app, name="jobs")
app.add_typer(testing_cli.app, name="testing")
app.add_typer(tracing_cli.app, name="tracing")
app.command("trace")(trace_cli.trace)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """Print one clear line to stderr and return the exit to raise (status 1)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


def bad_input(message: str) -> typer.Exit:
    """Print one clear line to stderr and return the exit to raise for bad input (status 2, as for usage errors)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress display and the ``(stage, done, total)`` callback that draws a bar per stage."""
    bars: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=out, transient=False) as progress:

        def report(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=total)
            progress.update(bars[stage], completed=done, total=total)

        yield report


def connected_engine() -> Engine:
    """The configured database, checked reachable; exits with one line when it is not."""
    from fangkong.core.migrate import check_reachable
    from fangkong.wiring import load_modules

    load_modules()
    url = get_settings().database_url
    engine = make_engine(url)
    try:
        check_reachable(engine)
    except (OperationalError, DBAPIError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise fail(f"cannot reach the database at {describe_url(url)}: {reason}") from None
    return engine


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A system session that commits on success and turns user errors into one line."""
    try:
        with system_session(engine) as session:
            yield session
    except AppError as exc:
        from fangkong.core import i18n

        details = "; ".join(f"{e.field}: {i18n.translate(e.message, e.params)}" for e in exc.errors)
        raise fail(i18n.translate(exc.message, exc.params) + (f" ({details})" if details else "")) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest revision."""
    from fangkong.core.migrate import upgrade

    connected_engine()
    upgrade(get_settings().database_url)
    out.print(f"database at {describe_url(get_settings().database_url)} is up to date")


@demo_app.command("load")
def demo_load(
    seed: Annotated[int, typer.Option(help="Random seed of the small built-in city.")] = 2021,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when data exist.")] = False,
    source: Annotated[Path | None, typer.Option(
        "--from", help="Load this synthetic dataset (written by `fangkong synth --out DIR`) instead.",
    )] = None,
    as_recorded: Annotated[bool, typer.Option(
        "--as-recorded", help="Keep the presence records on the dataset's own days; by default they are "
                              "replayed so that the last day is today, for rounds and tracing played now.",
    )] = False,
) -> None:
    """Load the demo city (通化市) and the demo users into an empty database."""
    from fangkong.synth import demo

    engine = connected_engine()
    with unit_of_work(engine) as session:
        if demo.is_loaded(session):
            if not if_empty:
                raise fail("the database already holds a jurisdiction tree; load the demo into an empty one")
            out.print("demo city already loaded")
        elif source is None:
            with Progress(console=out, transient=True) as progress:
                progress.add_task("loading the demo city", total=None)
                counts = demo.load(session, seed=seed)
            out.print("loaded: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        else:
            from fangkong.synth.dataset import DatasetError
            from fangkong.synth.load import NotEmpty, load_dataset

            try:
                with progress_bars() as report:
                    counts = load_dataset(session, source, progress=report,
                                          last_day=None if as_recorded else utcnow().date())
            except DatasetError as exc:
                raise bad_input(str(exc)) from None
            except NotEmpty as exc:
                raise fail(str(exc)) from None
            out.print("loaded: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    out.print(f"demo logins (password {demo.DEMO_PASSWORD}): " + ", ".join(u.username for u in demo.DEMO_USERS))


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dataset into (must be empty).")],
    scenario: Annotated[str, typer.Option(help="The city and outbreak to synthesise.")] = "tonghua-2021",
    population: Annotated[int, typer.Option(help="Persons to generate.")] = 50_000,
    days: Annotated[int, typer.Option(help="Days of presence and outbreak to simulate.")] = 14,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 2021,
    district: Annotated[list[str] | None, typer.Option(
        help="Only this district or county (code, e.g. 220502); repeatable. Default: all.",
    )] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the dataset already in --out.")] = False,
) -> None:
    """Generate a synthetic city and its outbreak as a dataset of Parquet files (layout: fangkong.synth.schema)."""
    from fangkong.synth.dataset import DatasetError, write_dataset

    try:
        with progress_bars() as report:
            manifest = write_dataset(out_dir, scenario=scenario, population=population, days=days, seed=seed,
                                     force=force, districts=district, progress=report)
    except DatasetError as exc:
        raise bad_input(str(exc)) from None
    rows = manifest.rows
    out.print(f"wrote {out_dir}: {rows['persons']} persons, {rows['households']} households, "
              f"{rows['places']} places, {rows.get('presence', 0)} presence rows over {manifest.days} days, "
              f"{rows['infections']} infections")


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[list[str], typer.Option(help="ROLE:JURISDICTION_CODE, e.g. commander:2205; repeatable.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create a user with one or more role grants."""
    from pydantic import ValidationError

    from fangkong.users import service
    from fangkong.users.schemas import GrantIn, UserIn

    grants = []
    for item in role:
        r, _, code = item.partition(":")
        if r not in {x.value for x in Role}:
            raise fail(f"unknown role {r!r}; one of: {', '.join(x.value for x in Role)}")
        grants.append(GrantIn(role=Role(r), jurisdiction_code=code))
    try:
        data = UserIn(username=username, display_name=name or username, password=password, grants=grants)
    except ValidationError as exc:
        raise fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    with unit_of_work(connected_engine()) as session:
        user = service.create_user(session, data)
    out.print(f"created user {user.username} (#{user.id})")


@user_app.command("token")
def user_token(username: str, label: Annotated[str, typer.Option(help="What the token is for.")] = "api",
               days: Annotated[int, typer.Option(help="Days until it expires (0: never).")] = 365) -> None:
    """Issue an API token for a machine client acting as USERNAME; printed once."""
    from fangkong.users import service

    with unit_of_work(connected_engine()) as session:
        user = service.find_user(session, username)
        if user is None:
            raise fail(f"no user named {username!r}")
        secret = service.issue_token(session, user, label=label, days=days or None)
    out.print(secret, highlight=False)


@jobs_app.command("work")
def jobs_work(once: Annotated[bool, typer.Option(help="Run what is queued, then stop.")] = False) -> None:
    """Run queued jobs (the web server also runs them in-process by default)."""
    from fangkong.core import jobs

    engine = connected_engine()
    if once:
        while jobs.run_one(engine) is not None:
            pass
        return
    worker = jobs.Worker(engine)
    worker.run()


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000,
          migrate: Annotated[bool, typer.Option(help="Upgrade the schema first.")] = True) -> None:
    """Serve the web interface and the API."""
    import uvicorn

    from fangkong.app import create_app
    from fangkong.core.migrate import upgrade

    engine = connected_engine()
    if migrate:
        upgrade(get_settings().database_url)
    out.print(f"fangkong on http://{host}:{port}  (database {describe_url(get_settings().database_url)})")
    uvicorn.run(create_app(engine=engine), host=host, port=port, log_level="info")


def main() -> None:
    """Entry point for ``python -m fangkong.cli.main``."""
    app()


if __name__ == "__main__":
    main()
