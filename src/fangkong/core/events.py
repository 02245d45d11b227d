"""Domain events: how one module's change of state reaches the modules that react to it.

A module defines an event as a frozen dataclass subclassing ``DomainEvent`` and calls ``emit`` inside
the writing transaction. The event is journalled in ``domain_events`` and handed at once to every
subscriber, in the same session, so the reaction (a control order, a task, a problem) commits or
rolls back with the change that caused it. Modules subscribe with ``@subscribe(EventType)`` and never
import each other's services for this. A reaction that costs queries per event subscribes with
``@subscribe_batch(EventType)`` instead, and gets the events of a batch (``emit_all``) together.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from fangkong.core.db import Base, bulk_insert, code_column_type, utcnow

E = TypeVar("E", bound="DomainEvent")
Handler = Callable[[Session, Any], None]


@dataclasses.dataclass(frozen=True)
class DomainEvent:
    """Base of every domain event; subclasses are frozen dataclasses of plain values."""

    name: ClassVar[str] = "event"
    # The jurisdiction the event concerns, so the journal can be scoped like everything else.
    jurisdiction_code: str = ""


class EventRecord(Base):
    """The journal of emitted events, for the record and for replay in tests and tools."""

    __tablename__ = "domain_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    jurisdiction_code: Mapped[str] = mapped_column(code_column_type(), index=True, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


_subscribers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)
BatchHandler = Callable[[Session, Sequence[Any]], None]
_batch_subscribers: dict[type[DomainEvent], list[BatchHandler]] = defaultdict(list)


def subscribe(event_type: type[E]) -> Callable[[Callable[[Session, E], None]], Callable[[Session, E], None]]:
    """Register a handler called with ``(session, event)`` whenever ``event_type`` is emitted."""

    def register(handler: Callable[[Session, E], None]) -> Callable[[Session, E], None]:
        if handler not in _subscribers[event_type]:
            _subscribers[event_type].append(handler)
        return handler

    return register


def subscribe_batch(event_type: type[E]) -> Callable[[Callable[[Session, Sequence[E]], None]],
                                                     Callable[[Session, Sequence[E]], None]]:
    """Register a handler called with ``(session, events)``: the events of ``event_type`` of one batch, in
    order, after every event of the batch has reached the handlers of single events (``emit`` hands it
    its one event). For reactions that would cost queries per event: a lab file brings a thousand."""

    def register(handler: Callable[[Session, Sequence[E]], None]) -> Callable[[Session, Sequence[E]], None]:
        if handler not in _batch_subscribers[event_type]:
            _batch_subscribers[event_type].append(handler)
        return handler

    return register


def unsubscribe(event_type: type[DomainEvent], handler: Handler | BatchHandler) -> None:
    """Remove a handler (tests use this to clean up)."""
    for registry in (_subscribers, _batch_subscribers):
        if handler in registry[event_type]:
            registry[event_type].remove(handler)


def emit(session: Session, event: DomainEvent) -> EventRecord:
    """Journal ``event`` and deliver it to its subscribers, inside the caller's transaction."""
    record = EventRecord(
        name=event.name,
        jurisdiction_code=event.jurisdiction_code,
        payload=_plain(event),
    )
    session.add(record)
    session.flush()
    _deliver(session, event)
    _deliver_batch(session, [event])
    return record


def emit_all(session: Session, batch: Sequence[DomainEvent]) -> None:
    """Journal a batch of events in one statement, then deliver each to its subscribers, in order.

    For the many events of one change (a lab file's positive pools and re-sampling orders), where a
    flush per event would cost more than the change itself.
    """
    if not batch:
        return
    at = utcnow()
    bulk_insert(session, EventRecord, [
        {"name": e.name, "at": at, "jurisdiction_code": e.jurisdiction_code, "payload": _plain(e)}
        for e in batch])
    for event in batch:
        _deliver(session, event)
    _deliver_batch(session, batch)


def _deliver(session: Session, event: DomainEvent) -> None:
    for event_type, handlers in list(_subscribers.items()):
        if isinstance(event, event_type):
            for handler in list(handlers):
                handler(session, event)


def _deliver_batch(session: Session, batch: Sequence[DomainEvent]) -> None:
    for event_type, handlers in list(_batch_subscribers.items()):
        chosen = [event for event in batch if isinstance(event, event_type)]
        if chosen:
            for handler in list(handlers):
                handler(session, chosen)


def _plain(value: Any) -> Any:
    """JSON-ready copy of an event payload (datetimes as ISO text, an event or other dataclass as a dict
    of its fields): ``dataclasses.asdict`` would copy each value deeply first, and a lab file journals
    thousands of events."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
