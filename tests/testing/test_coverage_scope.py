"""The coverage funnel and the door-to-door list: who is sampled, who has a result, who is missing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from fangkong.testing import coverage
from fangkong.testing.models import Outcome, Round, SamplingSite

from .conftest import JIANGNAN, XINZHAN, ResultPoster, residents, sample, tube_code


def test_the_funnel_counts_samples_and_valid_results_per_community(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    xinzhan, jiangnan = residents(session, XINZHAN), residents(session, JIANGNAN)
    sample(session, round_, site, negative := tube_code(), xinzhan[:3] + jiangnan[:2])
    sample(session, round_, site, invalid := tube_code(), xinzhan[3:5])
    sample(session, round_, site, tube_code(), xinzhan[5:6])  # no result yet
    post_result(negative, Outcome.NEGATIVE)
    post_result(invalid, Outcome.INVALID)  # its samples no longer count
    street = coverage.coverage(session, round_, XINZHAN[:9])
    rows = {row.code: row for row in street.children}
    assert (rows[XINZHAN].target, rows[XINZHAN].sampled, rows[XINZHAN].resulted) == (len(xinzhan), 4, 3)
    assert (rows[JIANGNAN].sampled, rows[JIANGNAN].resulted) == (2, 2)
    assert (street.total.sampled, street.total.resulted) == (6, 5)


def test_the_funnel_of_a_community_worker_counts_their_community_only(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster,
        as_user) -> None:  # type: ignore[no-untyped-def]
    sample(session, round_, site, code := tube_code(), residents(session, XINZHAN, 2) + residents(session, JIANGNAN, 3))
    post_result(code, Outcome.NEGATIVE)
    as_user("dongchang_worker")
    own = coverage.coverage(session, round_, XINZHAN)
    assert (own.total.sampled, own.total.resulted) == (2, 2)


def test_the_door_to_door_list_holds_the_unsampled_and_those_whose_tube_was_invalid(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    people = residents(session, XINZHAN)
    sample(session, round_, site, tube_code(), people[:2])
    sample(session, round_, site, invalid := tube_code(), people[2:3])
    post_result(invalid, Outcome.INVALID)
    listed = coverage.untested(session, round_, XINZHAN, size=1000)
    ids = {m.person.id for m in listed.items}
    assert listed.total == len(people) - 2
    assert people[0].id not in ids and people[1].id not in ids and people[2].id in ids
