"""Accounts: passwords, login throttling, sessions, API tokens, user creation within scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core.auth import Role, hash_password, verify_password
from fangkong.core.errors import Conflict, Forbidden, Invalid, TooManyRequests, Unauthorized
from fangkong.synth.demo import DEMO_PASSWORD
from fangkong.users import service
from fangkong.users.models import LoginFailure
from fangkong.users.schemas import GrantIn, UserIn
from tests.conftest import ADMIN, DC_COMMANDER, WORKER_DC

WINDOW = timedelta(minutes=15)


def login(session: Session, username: str, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return service.authenticate(session, username, password, address=address, window=WINDOW, per_user=5,
                                per_address=30)


def test_passwords_are_hashed_with_argon2() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password("not a hash", "x")


def test_the_right_password_logs_in(session: Session) -> None:
    user = login(session, "Dongchang_Worker", DEMO_PASSWORD)
    assert user.username == WORKER_DC and user.last_login_at is not None


def test_a_wrong_password_is_refused_and_counted(session: Session) -> None:
    with pytest.raises(Unauthorized):
        login(session, WORKER_DC, "guess")
    failures = session.execute(select(LoginFailure).where(LoginFailure.username == WORKER_DC)).scalars().all()
    assert len(failures) == 1


def test_an_unknown_user_gets_the_same_answer(session: Session) -> None:
    with pytest.raises(Unauthorized) as caught:
        login(session, "nobody", "guess")
    assert caught.value.message == "Wrong user name or password."


def test_logins_are_throttled_after_five_failures_even_with_the_right_password(session: Session) -> None:
    for _ in range(5):
        with pytest.raises(Unauthorized):
            login(session, WORKER_DC, "guess")
    with pytest.raises(TooManyRequests):
        login(session, WORKER_DC, DEMO_PASSWORD)


def test_a_success_clears_the_failures(session: Session) -> None:
    for _ in range(3):
        with pytest.raises(Unauthorized):
            login(session, WORKER_DC, "guess")
    login(session, WORKER_DC, DEMO_PASSWORD)
    assert session.execute(select(LoginFailure).where(LoginFailure.username == WORKER_DC)).first() is None


def test_a_session_lives_until_logout(session: Session) -> None:
    user = login(session, WORKER_DC, DEMO_PASSWORD)
    secret = service.start_session(session, user, address="10.0.0.1", hours=12)
    assert service.user_for_session(session, secret) is user
    service.end_session(session, secret)
    assert service.user_for_session(session, secret) is None


def test_a_token_acts_as_its_user_until_revoked(session: Session) -> None:
    user = service.find_user(session, "lab")
    assert user is not None
    secret = service.issue_token(session, user, label="sequencer 1")
    assert secret.startswith("fk_")
    assert service.user_for_token(session, secret) is user
    assert service.user_for_token(session, secret + "x") is None


def test_an_admin_creates_a_user_within_their_jurisdiction(session: Session, as_user) -> None:
    as_user(ADMIN)
    user = service.create_user(session, UserIn(username="grid_07", display_name="网格员七", password="long-password-1",
                                               grants=[GrantIn(role=Role.COMMUNITY_WORKER,
                                                               jurisdiction_code="220502001002")]))
    assert user.jurisdiction_code == "220502001002"
    assert [g.role for g in user.grants] == [Role.COMMUNITY_WORKER]


def test_a_district_commander_cannot_create_users(session: Session, as_user) -> None:
    as_user(DC_COMMANDER)
    with pytest.raises(Forbidden):
        service.create_user(session, UserIn(username="grid_08", display_name="x", password="long-password-1",
                                            grants=[GrantIn(role=Role.VIEWER, jurisdiction_code="220502")]))


def test_a_grant_outside_the_creators_jurisdiction_is_refused(session: Session, as_user) -> None:
    as_user(ADMIN)
    with pytest.raises(Invalid) as caught:
        service.create_user(session, UserIn(username="jilin_admin", display_name="x", password="long-password-1",
                                            grants=[GrantIn(role=Role.ADMIN, jurisdiction_code="2201")]))
    assert caught.value.errors[0].field == "grants.0.jurisdiction_code"


def test_user_names_are_unique_regardless_of_case(session: Session, as_user) -> None:
    as_user(ADMIN)
    with pytest.raises(Conflict):
        service.create_user(session, UserIn(username="ADMIN", display_name="x", password="long-password-1",
                                            grants=[GrantIn(role=Role.VIEWER, jurisdiction_code="2205")]))
