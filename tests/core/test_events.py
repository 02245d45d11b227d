"""Domain events: journalled and delivered inside the writing transaction."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core import events
from fangkong.core.events import DomainEvent, EventRecord
from fangkong.geo.models import Jurisdiction


@dataclasses.dataclass(frozen=True)
class PoolTurnedPositive(DomainEvent):
    name: ClassVar[str] = "test.pool_positive"
    tube_id: int = 0


@dataclasses.dataclass(frozen=True)
class SiteOpened(DomainEvent):
    name: ClassVar[str] = "test.site_opened"


@pytest.fixture
def reactions():  # type: ignore[no-untyped-def]
    seen: list[int] = []

    def put_members_under_control(session: Session, event: PoolTurnedPositive) -> None:
        seen.append(event.tube_id)
        # A subscriber writes in the same transaction as the emitter.
        session.add(Jurisdiction(code=f"220502008{event.tube_id:03d}", name="反应", parent_code=None))

    events.subscribe(PoolTurnedPositive)(put_members_under_control)
    yield seen
    events.unsubscribe(PoolTurnedPositive, put_members_under_control)


def test_an_event_reaches_its_subscriber_and_the_journal(session: Session, reactions: list[int]) -> None:
    record = events.emit(session, PoolTurnedPositive(tube_id=7, jurisdiction_code="220502"))
    assert reactions == [7]
    assert record.payload == {"tube_id": 7, "jurisdiction_code": "220502"}
    assert session.execute(select(EventRecord).where(EventRecord.name == "test.pool_positive")).scalar_one()


def test_the_reaction_rolls_back_with_the_cause(session: Session, reactions: list[int]) -> None:
    nested = session.begin_nested()
    events.emit(session, PoolTurnedPositive(tube_id=8))
    session.flush()
    nested.rollback()
    assert session.execute(select(Jurisdiction).where(Jurisdiction.code == "220502008008")).first() is None
    assert session.execute(select(EventRecord).where(EventRecord.name == "test.pool_positive")).first() is None


def test_a_failing_subscriber_fails_the_emitting_transaction(session: Session) -> None:
    def broken(_session: Session, _event: PoolTurnedPositive) -> None:
        raise ValueError("subscriber broke")

    events.subscribe(PoolTurnedPositive)(broken)
    try:
        with pytest.raises(ValueError, match="subscriber broke"):
            events.emit(session, PoolTurnedPositive(tube_id=9))
    finally:
        events.unsubscribe(PoolTurnedPositive, broken)


def test_a_batch_is_journalled_at_once_and_delivered_in_order(session: Session, reactions: list[int]) -> None:
    events.emit_all(session, [PoolTurnedPositive(tube_id=11, jurisdiction_code="220502"),
                              PoolTurnedPositive(tube_id=12)])
    assert reactions == [11, 12]
    journal = session.execute(select(EventRecord).where(EventRecord.name == "test.pool_positive")
                              .order_by(EventRecord.id)).scalars().all()
    assert [r.payload["tube_id"] for r in journal] == [11, 12]
    assert journal[0].jurisdiction_code == "220502"


def test_a_batch_subscriber_gets_the_events_of_a_batch_together_after_the_single_ones(
        session: Session, reactions: list[int]) -> None:
    batches: list[tuple[list[int], list[int]]] = []

    def react_to_many(_session: Session, batch: Sequence[PoolTurnedPositive]) -> None:
        # What the single subscriber had seen when the batch came.
        batches.append(([e.tube_id for e in batch], list(reactions)))

    events.subscribe_batch(PoolTurnedPositive)(react_to_many)
    try:
        events.emit_all(session, [PoolTurnedPositive(tube_id=21), SiteOpened(), PoolTurnedPositive(tube_id=22)])
        events.emit(session, PoolTurnedPositive(tube_id=23))
    finally:
        events.unsubscribe(PoolTurnedPositive, react_to_many)
    assert batches == [([21, 22], [21, 22]), ([23], [21, 22, 23])]
    events.emit_all(session, [PoolTurnedPositive(tube_id=24)])
    assert len(batches) == 2  # unsubscribed
