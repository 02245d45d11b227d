"""The pages in a real browser: Chromium through Playwright against the application served by uvicorn.

The server runs in another thread, so these tests cannot share the rolled-back test transaction:
the module builds its own committed demo database and serves it on a free local port. One browser
serves the module; every test gets a fresh context (its own cookies). Requests that leave the
server are refused and recorded, so a page that needs the internet fails its test.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Response, Route, expect, sync_playwright
from sqlalchemy import Engine, func, select

from fangkong.app import create_app
from fangkong.config import Settings
from fangkong.core.audit import Action, AuditEntry
from fangkong.core.db import system_session
from fangkong.geo.models import Jurisdiction
from fangkong.people.identity import pinyin_keys
from fangkong.people.models import Person
from fangkong.synth import demo
from fangkong.users.models import LoginFailure, User, UserSession
from tests.conftest import CITY_COMMANDER, LAB, VIEWER, WORKER_DC, build_database, drop_database

# The machine running the suite may be busy: give assertions on the page time to come true.
expect.set_options(timeout=15_000)

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WORKER_COMMUNITY = "220502001001"  # 新站社区, 东昌区
SEVEN_DISTRICTS = ["东昌区", "二道江区", "通化县", "辉南县", "柳河县", "梅河口市", "集安市"]
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Served:
    """The running application: where it listens and the engine behind it."""

    url: str
    engine: Engine


@dataclass(frozen=True)
class KnownPerson:
    """A demo person in the 东昌区 worker's community, as the test expects to see them."""

    id: int
    name: str
    masked_name: str
    id_number: str
    masked_id_number: str
    initials: str
    matches: int  # how many persons in the community the initials find


@contextmanager
def serving(name: str, tmp: Path, **settings: Any) -> Iterator[Served]:
    """The application on its own committed demo database ``name``, served by uvicorn on 127.0.0.1."""
    url, engine = build_database(name, tmp)
    app = create_app(Settings(database_url=url, secret_key="browser-test-secret", run_jobs_in_process=False,
                              **settings), engine=engine)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the kernel picks a free port; uvicorn serves on this very socket
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", engine)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()
        drop_database(name)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The application on its own committed demo database, served by uvicorn on 127.0.0.1."""
    with serving(f"fangkong_web_{os.getpid()}", tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Browser, served: Served) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (``viewport=…`` and other context options allowed).

    At the end of the test no page may have thrown a script error or asked for anything off the server.
    """
    contexts = []
    script_errors: list[str] = []
    off_server: list[str] = []

    def keep_local(route: Route) -> None:
        if route.request.url.startswith(served.url + "/"):
            route.continue_()
        else:
            off_server.append(route.request.url)
            route.abort()

    def make(**options: Any) -> Page:
        options.setdefault("locale", "zh-CN")
        context = browser.new_context(base_url=served.url, **options)
        context.set_default_timeout(10_000)
        context.route("**/*", keep_local)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: script_errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert script_errors == [], "no script error on any page"
    assert off_server == [], "every asset is served locally"


@pytest.fixture
def page(open_page: Callable[..., Page]) -> Page:
    """A desktop-sized page in a fresh context."""
    return open_page()


@pytest.fixture(scope="module")
def known_person(served: Served) -> KnownPerson:
    """The person of the worker's community whose pinyin initials find the fewest others."""
    with system_session(served.engine) as session:
        persons = session.execute(select(Person).where(Person.jurisdiction_code == WORKER_COMMUNITY)
                                  .order_by(Person.id)).scalars().all()
        candidates = []
        for person in persons:
            initials = pinyin_keys(person.name)[0]
            found = [p for p in persons
                     if p.name_initials.startswith(initials) or p.name_pinyin.startswith(initials)]
            # Two-character names are masked to one star; a longer name makes the masking visible.
            if len(person.name) >= 3:
                candidates.append((len(found), person.id, person, initials))
        assert candidates, "the demo community has persons with three-character names"
        matches, _, person, initials = min(candidates, key=lambda c: (c[0], c[1]))
        return KnownPerson(id=person.id, name=person.name, masked_name=person.masked_name,
                           id_number=person.id_number, masked_id_number=person.masked_id_number,
                           initials=initials, matches=matches)


def log_in(page: Page, username: str, password: str = demo.DEMO_PASSWORD) -> None:
    """Fill in and send the login form."""
    page.goto("/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()


def wait_for_htmx(page: Page) -> None:
    """Wait until the page has loaded and htmx has wired it: the address changes before that, and
    typing or clicking earlier would send nothing."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined && document.readyState === 'complete'")


def path_of(page: Page) -> str:
    """The path and query of the page's address."""
    return re.sub(r"^https?://[^/]+", "", page.url)


def overview_names(page: Page) -> list[str]:
    """The jurisdiction names in the rows of the overview table."""
    links = page.locator("[data-testid=overview] tbody td:first-child a")
    return [name.strip() for name in links.all_inner_texts()]


def is_live_search(response: Response) -> bool:
    """Whether ``response`` answers the search box's HTMX request."""
    return "/people?q=" in response.url and response.request.header_value("hx-request") == "true"


def assert_fits_phone(page: Page) -> None:
    """The document is no wider than the screen it was opened on.

    The screen's width is the one the page was opened with, not ``window.innerWidth``: a mobile browser
    zooms out to show a page wider than itself, and its inner width then grows with the page.
    """
    assert page.viewport_size is not None
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"{path_of(page)} is {scroll}px wide on a {width}px screen"


def test_community_worker_lands_on_an_overview_of_their_community_only(page: Page, served: Served) -> None:
    log_in(page, WORKER_DC)
    expect(page).to_have_url(f"{served.url}/")
    expect(page.locator("[data-testid=who]")).to_have_text("新站社区网格员")
    assert overview_names(page) == ["新站社区"]
    table = page.locator("[data-testid=overview]").inner_text()
    assert WORKER_COMMUNITY in table
    for other in ["江南社区", *SEVEN_DISTRICTS]:
        assert other not in table
    with system_session(served.engine) as session:
        residents = session.execute(select(func.count()).select_from(Person)
                                    .where(Person.jurisdiction_code == WORKER_COMMUNITY)).scalar_one()
    shown = page.locator("[data-testid=overview] td[data-indicator=population]").inner_text()
    assert int(shown.replace(",", "")) == residents
    # A single row makes no chart.
    expect(page.locator("#overview-chart")).to_have_count(0)


def test_city_commander_sees_the_seven_districts_with_population_and_a_chart(
        page: Page, served: Served) -> None:
    log_in(page, CITY_COMMANDER)
    expect(page).to_have_url(f"{served.url}/")
    assert overview_names(page) == SEVEN_DISTRICTS
    with system_session(served.engine) as session:
        codes = dict(session.execute(select(Jurisdiction.name, Jurisdiction.code)
                                     .where(Jurisdiction.name.in_(SEVEN_DISTRICTS),
                                            func.length(Jurisdiction.code) == 6)).all())
        expected = {name: session.execute(select(func.count()).select_from(Person)
                                          .where(Person.jurisdiction_code.startswith(codes[name])))
                    .scalar_one() for name in SEVEN_DISTRICTS}
    shown = page.locator("[data-testid=overview] td[data-indicator=population]").all_inner_texts()
    figures = dict(zip(SEVEN_DISTRICTS, [int(s.replace(",", "")) for s in shown], strict=True))
    assert figures == expected
    assert all(n > 0 for n in figures.values())
    # The vendored ECharts drew the chart (off-server requests are refused, so it loaded offline).
    expect(page.locator("#overview-chart canvas")).to_have_count(1)
    assert page.evaluate("typeof window.echarts") == "object"
    box = page.locator("#overview-chart canvas").bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100


def test_pinyin_initials_find_a_person_live_showing_only_the_masked_name(
        page: Page, served: Served, known_person: KnownPerson) -> None:
    log_in(page, WORKER_DC)
    expect(page).to_have_url(f"{served.url}/")
    page.locator("nav.groups a[href='/people']").click()
    expect(page).to_have_url(f"{served.url}/people")
    wait_for_htmx(page)
    # Marks that a full page load would wipe out: a window property and the first results table.
    page.evaluate("window.sameDocument = true")
    page.locator("#results table").evaluate("t => t.dataset.before = 'yes'")
    with page.expect_response(is_live_search):
        page.locator("input[type=search]").fill(known_person.initials)
    fresh = page.locator("#results table[data-testid=people]:not([data-before])")
    expect(fresh).to_have_count(1)
    assert page.evaluate("window.sameDocument") is True, "the results changed without a page load"
    expect(page).to_have_url(f"{served.url}/people?q={known_person.initials}")
    expect(fresh.locator("tbody tr")).to_have_count(min(known_person.matches, 20))
    link = fresh.locator(f"a[href='/people/{known_person.id}']")
    expect(link).to_have_text(known_person.masked_name)
    assert re.fullmatch(r".\*+", known_person.masked_name)
    for name in fresh.locator("tbody td:first-child a").all_inner_texts():
        assert re.fullmatch(r".\*+", name.strip()), name
    assert known_person.name not in page.content()


def test_person_page_is_masked_until_the_worker_reveals_it_and_the_reveal_is_audited(
        page: Page, served: Served, known_person: KnownPerson) -> None:
    def reveals() -> list[str]:
        with system_session(served.engine) as session:
            return list(session.execute(select(AuditEntry.actor_name).where(
                AuditEntry.action == Action.VIEW_UNMASKED, AuditEntry.entity == "persons",
                AuditEntry.entity_id == str(known_person.id))).scalars())

    before = reveals()
    log_in(page, WORKER_DC)
    expect(page).to_have_url(f"{served.url}/")
    page.goto(f"/people/{known_person.id}")
    expect(page.locator("h1")).to_have_text(known_person.masked_name)
    expect(page.locator("[data-testid=name]")).to_have_text(known_person.masked_name)
    expect(page.locator("[data-testid=id-number]")).to_have_text(known_person.masked_id_number)
    assert known_person.id_number not in page.content()
    assert known_person.name not in page.content()

    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.locator(f"button[hx-post='/people/{known_person.id}/reveal']").click()
    expect(page.locator("#identity[data-revealed=yes]")).to_have_count(1)
    expect(page.locator("[data-testid=id-number]")).to_have_text(known_person.id_number)
    expect(page.locator("[data-testid=name]")).to_have_text(known_person.name)
    assert len(questions) == 1, "the reveal asks for confirmation first"
    assert reveals() == [*before, WORKER_DC]


def test_the_interface_is_chinese_until_the_user_chooses_english_and_back(
        open_page: Callable[..., Page], served: Served) -> None:
    # Even a browser that asks for English gets Chinese pages until the user chooses otherwise.
    page = open_page(locale="en-US")
    log_in(page, WORKER_DC)
    expect(page).to_have_url(f"{served.url}/")
    page.goto("/people?q=zz")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.locator("a[data-lang=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert path_of(page) == "/people?q=zz", "the language switch returns to the same page"
    expect(page.locator("nav.groups a[href='/people']")).to_have_text("People")
    # The choice is remembered across pages.
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("a[data-lang=zh_CN]").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert path_of(page) == "/"
    expect(page.locator("a[data-lang=en]")).to_have_count(1)


def test_community_worker_can_search_and_open_a_person_on_a_phone(
        open_page: Callable[..., Page], served: Served, known_person: KnownPerson) -> None:
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/login")
    assert_fits_phone(page)
    log_in(page, WORKER_DC)
    expect(page).to_have_url(f"{served.url}/")
    assert_fits_phone(page)
    page.locator("nav.groups a[href='/people']").tap()
    expect(page.locator("#results table[data-testid=people]")).to_have_count(1)
    wait_for_htmx(page)
    assert_fits_phone(page)
    page.locator("input[type=search]").fill(known_person.initials)
    link = page.locator(f"#results a[href='/people/{known_person.id}']")
    expect(link).to_have_text(known_person.masked_name)
    assert_fits_phone(page)
    link.tap()
    expect(page).to_have_url(f"{served.url}/people/{known_person.id}")
    expect(page.locator("[data-testid=id-number]")).to_have_text(known_person.masked_id_number)
    assert_fits_phone(page)


def test_logging_out_returns_to_login_and_closes_the_protected_pages(page: Page, served: Served) -> None:
    log_in(page, CITY_COMMANDER)
    expect(page).to_have_url(f"{served.url}/")
    page.locator("form[action='/logout'] button").click()
    expect(page).to_have_url(f"{served.url}/login")
    expect(page.locator("input[name=password]")).to_have_count(1)
    assert "fk_session" not in {c["name"] for c in page.context.cookies()}
    page.goto("/people")
    assert path_of(page) == "/login?next=/people"
    page.goto("/")
    assert path_of(page).startswith("/login")


def test_a_wrong_password_shows_an_error_and_opens_no_session(page: Page, served: Served) -> None:
    def sessions_and_failures() -> tuple[int, int]:
        with system_session(served.engine) as session:
            user_id = session.execute(select(User.id).where(User.username == VIEWER)).scalar_one()
            opened = session.execute(select(func.count()).select_from(UserSession)
                                     .where(UserSession.user_id == user_id)).scalar_one()
            failed = session.execute(select(func.count()).select_from(LoginFailure)
                                     .where(LoginFailure.username == VIEWER)).scalar_one()
            return opened, failed

    opened, failed = sessions_and_failures()
    log_in(page, VIEWER, "not-the-password")
    expect(page.locator(".error-box[role=alert]")).to_be_visible()
    assert path_of(page) == "/login"
    expect(page.locator("input[name=username]")).to_have_value(VIEWER)
    expect(page.locator("input[name=password]")).to_have_value("")
    assert "fk_session" not in {c["name"] for c in page.context.cookies()}
    assert sessions_and_failures() == (opened, failed + 1)
    page.goto("/")
    assert path_of(page).startswith("/login")


# ------------------------------------------------------------------------------------------ testing


@pytest.fixture(scope="module")
def testing_round(served: Served) -> tuple[int, str, list[int]]:
    """A round under way over the city, with one 10-in-1 tube of three 新站 residents: (round, tube, persons)."""
    from datetime import time as clock
    from datetime import timedelta

    from fangkong.core.db import utcnow
    from fangkong.testing import service
    from fangkong.testing.schemas import RoundIn, SampleBatch, SampleEntry, SiteIn

    with system_session(served.engine) as session:
        round_ = service.create_round(session, RoundIn(name="浏览器测试轮次", jurisdiction_code="2205",
                                                       starts_at=utcnow() - timedelta(hours=3)))
        site = service.create_site(session, SiteIn(name="新站采样点", jurisdiction_code=WORKER_COMMUNITY,
                                                   opens_at=clock(6), closes_at=clock(22), serves=[WORKER_COMMUNITY]))
        people = session.execute(select(Person.id).where(Person.jurisdiction_code == WORKER_COMMUNITY)
                                 .order_by(Person.id).limit(3)).scalars().all()
        service.register_batch(session, SampleBatch(round_id=round_.id, site_id=site.id, entries=[
            SampleEntry(client_id=f"browser-{p}", tube_code="BROWSER-0001", person_id=p,
                        sampled_at=utcnow() - timedelta(hours=2)) for p in people]))
        return round_.id, "BROWSER-0001", list(people)


def test_a_lab_uploads_a_result_file_and_the_positive_pool_shows_in_the_alerts(
        open_page: Callable[..., Page], served: Served, testing_round: tuple[int, str, list[int]],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    from datetime import UTC, datetime, timedelta

    from fangkong.core.jobs import Worker

    round_id, tube, people = testing_round
    tested = (datetime.now(UTC) + timedelta(hours=8) - timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M")
    path = tmp_path_factory.mktemp("upload") / "东昌区实验室结果.csv"
    path.write_bytes(f"管号,检测结果,检测时间,检测机构,Ct值\r\n{tube},阳性,{tested},LAB220502,27.5\r\n"
                     .encode("gb18030"))
    worker = Worker(served.engine, poll_seconds=0.2)
    worker.start()
    try:
        lab = open_page()
        log_in(lab, LAB)
        lab.goto("/testing/results")
        wait_for_htmx(lab)
        lab.locator("input[type=file]").set_input_files(str(path))
        lab.locator("#upload button[type=submit]").click()
        applied = lab.locator("[data-testid=import-applied]")
        expect(applied).to_be_visible()
        expect(applied).to_contain_text("1")
    finally:
        worker.stop()
        worker.join(timeout=10)

    staff = open_page()
    log_in(staff, "dongchang_testing")
    staff.goto(f"/testing/rounds/{round_id}")
    expect(staff.locator("[data-figure=positive_pools]")).to_have_text("1")
    staff.locator("[data-testid=alerts-link]").click()
    order = staff.locator("[data-testid=orders] tbody tr").first
    expect(order).to_contain_text(tube)
    expect(order).to_contain_text("单管复核")
    expect(staff.locator("[data-testid=controlled] tbody tr")).to_have_count(len(people))


# The funnel's labels, measured after its values are made equal: a round where everyone is sampled and
# resulted puts the widest label beside the widest part of the funnel, where room is scarcest.
FUNNEL_LABELS = """() => {
  const chart = echarts.getInstanceByDom(document.getElementById("testing-funnel-chart"));
  const data = chart.getOption().series[0].data;
  chart.setOption({animation: false, series: [{data: data.map(d => ({name: d.name, value: data[0].value}))}]});
  const texts = chart.getZr().storage.getDisplayList().filter(e => e.style && e.style.text);
  return [chart.getWidth(), texts.map(t => {
    const box = t.getBoundingRect().clone();
    box.applyTransform(t.getComputedTransform());
    return [t.style.text, box.x, box.x + box.width];
  })];
}"""


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 900}, PHONE], ids=["desktop", "phone"])
def test_the_overview_funnel_shows_every_label_whole(open_page: Callable[..., Page], viewport: dict[str, int],
                                                     testing_round: tuple[int, str, list[int]]) -> None:
    page = open_page(viewport=viewport)
    log_in(page, CITY_COMMANDER)
    expect(page.locator("#testing-funnel-chart canvas")).to_be_visible()
    width, labels = page.evaluate(FUNNEL_LABELS)
    assert len(labels) == 5
    for text, left, right in labels:
        assert left >= 0 and right <= width, f"{text!r} runs off the {width}px chart ({left:.0f}–{right:.0f})"


def test_a_worker_marks_a_door_on_a_phone(open_page: Callable[..., Page], served: Served,
                                          testing_round: tuple[int, str, list[int]]) -> None:
    round_id, _, sampled = testing_round
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(page, WORKER_DC)
    page.goto(f"/testing/rounds/{round_id}/untested")
    wait_for_htmx(page)
    rows = page.locator("[data-testid=untested] li[data-person]")
    expect(rows.first).to_be_visible()
    shown = {int(x) for x in rows.evaluate_all("els => els.map(e => e.dataset.person)")}
    assert shown and not shown & set(sampled)
    # The cards use the phone's whole width: no bullets, no list indent beside them.
    left, margin = page.evaluate("[document.querySelector('[data-testid=untested] li[data-person]')"
                                 ".getBoundingClientRect().left, document.querySelector('main')"
                                 ".getBoundingClientRect().left]")
    assert left - margin <= 16, f"the door list is indented {left - margin}px on a phone"
    person = rows.first.get_attribute("data-person")
    row = page.locator(f"#untested-{person}")
    row.locator("button[value=cannot_be_sampled]").tap()  # no reason chosen: the row says why nothing happened
    expect(row.locator("[role=alert]")).to_have_text("请选择无法采样的原因。")
    row.locator("select[name=reason]").select_option("bedridden")
    row.locator("button[value=cannot_be_sampled]").tap()
    marked = page.locator(f"#untested-{person} [data-mark=cannot_be_sampled]")
    expect(marked).to_be_visible()
    assert_fits_phone(page)


# ------------------------------------------------------------------------------------------ tracing


@pytest.fixture(scope="module")
def tracing_cases(served: Served) -> tuple[int, list[int]]:
    """A case of 新站社区 reported an hour ago, and a chain of three cases whose first has four contacts:
    (the case to investigate, the chain's cases from its root)."""
    from datetime import timedelta

    from fangkong import rulesets
    from fangkong.core.db import utcnow
    from fangkong.tracing import service
    from fangkong.tracing.models import CaseKind, Contact, ContactKind, FoundBy, RunState, TracingRun
    from fangkong.tracing.schemas import CaseIn

    with system_session(served.engine) as session:
        people = session.execute(select(Person).where(Person.jurisdiction_code == WORKER_COMMUNITY)
                                 .order_by(Person.id).offset(30).limit(8)).scalars().all()
        now = utcnow()

        def report(person: Person, hours_ago: float, source: int | None = None) -> int:
            at = now - timedelta(hours=hours_ago)
            return service.report_case(session, CaseIn(
                person_id=person.id, kind=CaseKind.CONFIRMED, found_by=FoundBy.FEVER_CLINIC, reported_at=at,
                sampled_at=at - timedelta(hours=1), onset_at=at - timedelta(days=1), source_case_id=source)).id

        fresh = report(people[0], 1)
        root = report(people[1], 72)
        second = report(people[2], 48, root)
        third = report(people[3], 24, second)
        run = TracingRun(jurisdiction_code="2205", ruleset=rulesets.current().name, case_ids=[root],
                         state=RunState.DONE)
        session.add(run)
        session.flush()
        first = now - timedelta(days=4)
        session.add_all([Contact(person_id=p.id, jurisdiction_code=p.jurisdiction_code, kind=ContactKind.CLOSE,
                                 case_id=root, first_exposure=first, last_exposure=first + timedelta(hours=1),
                                 run_id=run.id, due_at=now + timedelta(hours=12)) for p in people[4:8]])
        return fresh, [root, second, third]


def test_a_tracer_fills_the_investigation_on_a_phone_and_completes_the_core_information_in_time(
        open_page: Callable[..., Page], served: Served, tracing_cases: tuple[int, list[int]]) -> None:
    from datetime import UTC, datetime, timedelta

    from fangkong.core import i18n

    case_id, _ = tracing_cases
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(page, "tracer")
    page.goto(f"/tracing/cases/{case_id}/investigation")
    wait_for_htmx(page)
    core = page.locator("[data-testid=clocks] [data-clock=core]")
    expect(core).to_have_attribute("data-state", "running")
    page.locator("textarea[name=symptoms]").fill("发热 38.2℃，咳嗽")
    page.locator("[data-testid=save-investigation]").tap()
    expect(page.locator("textarea[name=symptoms]")).to_have_value("发热 38.2℃，咳嗽")
    wait_for_htmx(page)

    form = page.locator("[data-testid=itinerary-form]")
    yesterday = (datetime.now(UTC) + timedelta(hours=8) - timedelta(days=1)).strftime("%Y-%m-%dT09:30")
    form.locator("input[name=place_text]").fill("新站农贸市场东门")
    form.locator("input[name=starts_at]").fill(yesterday)
    form.locator("[data-testid=add-itinerary]").tap()
    expect(page.locator("#itinerary li[data-entry]")).to_have_count(1)
    expect(page.locator("#itinerary li[data-entry]")).to_contain_text("新站农贸市场东门")
    assert_fits_phone(page)

    page.locator("[data-testid=complete-core]").tap()
    core = page.locator("[data-testid=clocks] [data-clock=core]")
    expect(core).to_have_attribute("data-state", "done_in_time")
    before = i18n.get_locale()
    i18n.set_locale("zh_CN")
    done_in_time = i18n.translate("Done in time")
    i18n.set_locale(before)
    expect(core).to_have_text(done_in_time)
    expect(page.locator("[data-testid=complete-core]")).to_have_count(0)
    assert_fits_phone(page)


def test_the_chain_page_draws_the_graph_expands_a_case_and_opens_a_case_from_its_node(
        open_page: Callable[..., Page], served: Served, tracing_cases: tuple[int, list[int]]) -> None:
    _, (root, second, third) = tracing_cases
    page = open_page(viewport={"width": 1280, "height": 1000})  # the whole graph on the screen
    log_in(page, "tracer")
    page.goto(f"/tracing/chains/{root}")
    expect(page.locator("#chain-chart canvas").first).to_be_visible()
    expect(page.locator("#timeline-chart canvas").first).to_be_visible()
    nodes_of = """() => echarts.getInstanceByDom(document.getElementById('chain-chart')).getOption().series[0].data
                         .map(n => ({id: n.id, case_id: n.case_id, folded: n.folded_case_id, x: n.x, y: n.y}))"""
    nodes = page.evaluate(nodes_of)
    assert {n["case_id"] for n in nodes if n["case_id"] is not None} == {root, second, third}
    folded = [n for n in nodes if n["folded"] == root]
    assert len(folded) == 1 and len(nodes) == 4

    def click(node: dict[str, Any]) -> None:
        x, y = page.evaluate("""([x, y]) => echarts.getInstanceByDom(document.getElementById('chain-chart'))
                                .convertToPixel({seriesIndex: 0}, [x, y])""", [node["x"], node["y"]])
        box = page.locator("#chain-chart").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + x, box["y"] + y)

    click(folded[0])  # the counted node opens into the case's four contacts
    page.wait_for_function(f"() => ({nodes_of})().length == 7")
    third_node = next(n for n in page.evaluate(nodes_of) if n["case_id"] == third)
    click(third_node)
    page.wait_for_url(f"**/tracing/cases/{third}")
    expect(page.locator("[data-testid=source-link]")).to_contain_text(f"#{second}")


def test_a_worker_puts_a_contact_under_control_on_a_phone(open_page: Callable[..., Page], served: Served,
                                                          tracing_cases: tuple[int, list[int]]) -> None:
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(page, WORKER_DC)
    page.goto("/tracing/contacts")
    wait_for_htmx(page)
    waiting = page.locator("[data-testid=contacts] li[data-state=to_control]")
    expect(waiting.first).to_be_visible()
    before = waiting.count()
    contact = waiting.first.get_attribute("data-contact")
    waiting.first.locator("[data-testid=mark-controlled]").tap()
    expect(page.locator(f"#contact-{contact}")).to_have_attribute("data-state", "under_control")
    expect(waiting).to_have_count(before - 1)
    assert_fits_phone(page)
