"""Pages through the test client: forms, double submits, error pages, login throttling."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.people import identity
from fangkong.people.models import Person
from fangkong.synth.demo import DEMO_PASSWORD
from tests.conftest import CITY_COMMANDER, WORKER_DC

COMMUNITY_DC = "220502001001"


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf_token|form_key)" value="([^"]+)"', html))


def test_anonymous_pages_redirect_to_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/people?q=zs&page=2", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/people%3Fq%3Dzs%26page%3D2"
    form = client.get(response.headers["location"]).text
    assert 'name="next" value="/people?q=zs&amp;page=2"' in form


def test_login_sets_a_protected_session_cookie(client) -> None:  # type: ignore[no-untyped-def]
    token = client.csrf()
    response = client.post("/login", data={"username": WORKER_DC, "password": DEMO_PASSWORD, "csrf_token": token},
                           follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert "fk_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_a_login_form_without_csrf_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    client.get("/login")
    response = client.post("/login", data={"username": WORKER_DC, "password": DEMO_PASSWORD})
    assert response.status_code == 403


def test_login_is_throttled_after_repeated_failures(client) -> None:  # type: ignore[no-untyped-def]
    token = client.csrf()
    for _ in range(5):
        bad = client.post("/login", data={"username": WORKER_DC, "password": "nope", "csrf_token": token})
        assert bad.status_code == 401
    blocked = client.post("/login", data={"username": WORKER_DC, "password": DEMO_PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429
    assert "登录失败次数过多" in blocked.text


def test_a_double_submitted_form_creates_one_person(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    client.login(WORKER_DC)
    fields = form_fields(client.get("/people/new").text)
    first17 = "22050219880808123"
    number = first17 + identity.check_digit(first17)
    data = {**fields, "name": "孙七", "id_number": number, "phone": "13600001111", "jurisdiction_code": COMMUNITY_DC}
    first = client.post("/people/new", data=data, follow_redirects=False)
    second = client.post("/people/new", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    count = session.execute(select(func.count()).select_from(Person).where(Person.id_number == number))
    assert count.scalar_one() == 1


def test_a_bad_form_is_shown_again_with_the_field_marked(client) -> None:  # type: ignore[no-untyped-def]
    client.login(WORKER_DC)
    fields = form_fields(client.get("/people/new").text)
    response = client.post("/people/new", data={**fields, "name": "孙七", "id_number": "123",
                                                "jurisdiction_code": COMMUNITY_DC})
    assert response.status_code == 422
    assert 'data-field-error="id_number"' in response.text
    assert 'value="孙七"' in response.text  # nothing typed is lost


def test_a_missing_person_is_a_friendly_404_page(client) -> None:  # type: ignore[no-untyped-def]
    client.login(CITY_COMMANDER)
    response = client.get("/people/99999999")
    assert response.status_code == 404
    assert "未找到" in response.text and "市指挥长" in response.text


def test_an_unknown_page_is_a_friendly_404(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "<html" in response.text


def test_the_reveal_fragment_shows_the_full_identity(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    person = session.execute(select(Person).where(Person.jurisdiction_code == COMMUNITY_DC)).scalars().first()
    assert person is not None
    client.login(WORKER_DC)
    page = client.get(f"/people/{person.id}").text
    assert person.id_number not in page and person.name not in page.split("<main>")[1]
    fragment = client.post(f"/people/{person.id}/reveal", headers={"HX-Request": "true"}).text
    assert person.id_number in fragment and person.name in fragment


def test_the_layout_has_the_viewport_and_vendored_assets_only(client) -> None:  # type: ignore[no-untyped-def]
    client.login(CITY_COMMANDER)
    html = client.get("/").text
    assert 'name="viewport"' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert all(not s.startswith(("http://", "https://", "//")) for s in sources)
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200


def test_the_tree_page_shows_each_child_with_its_population(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    client.login(CITY_COMMANDER)
    html = client.get("/geo/220502").text
    for code in ("220502001", "220502002", "220502003"):
        expected = session.execute(select(func.count()).select_from(Person)
                                   .where(Person.jurisdiction_code.startswith(code))).scalar_one()
        row = re.search(rf'<tr data-code="{code}">(.*?)</tr>', html, re.S)
        assert row is not None, code
        assert re.findall(r'<td class="num">([\d,]+)</td>', row.group(1))[0].replace(",", "") == str(expected)


def test_a_refusal_for_lack_of_permission_is_audited(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    from fangkong.core.audit import Action, AuditEntry

    person = session.execute(select(Person)).scalars().first()
    assert person is not None
    client.login("supply")  # reads people masked, may not reveal
    response = client.post(f"/api/v1/persons/{person.id}/reveal")
    assert response.status_code == 403
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == Action.ACCESS_DENIED)
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None and entry.actor_name == "supply"
    assert entry.detail["method"] == "POST" and entry.entity.startswith("/api/v1/persons/")


def test_the_login_form_never_sends_anyone_off_site(client) -> None:  # type: ignore[no-untyped-def]
    token = client.csrf()
    for target in ("//evil.example/", "/\\evil.example", "https://evil.example/", "/people"):
        response = client.post("/login", data={"username": WORKER_DC, "password": DEMO_PASSWORD, "csrf_token": token,
                                               "next": target}, follow_redirects=False)
        assert response.headers["location"] == ("/people" if target == "/people" else "/")
