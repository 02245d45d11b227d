"""Events of the command module, for the modules that react to it (notifications, dashboards)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fangkong.core.events import DomainEvent


@dataclass(frozen=True)
class ItemEscalated(DomainEvent):
    """An item of the lists ran out of time and was brought to the superior level (``to_code``).

    ``jurisdiction_code`` is the item's; ``kind`` is ``task``, ``measure``, ``rectification`` or ``problem``.
    """

    name = "command.item_escalated"
    kind: str = ""
    item_id: int = 0
    to_code: str = ""
    due_at: datetime | None = None


@dataclass(frozen=True)
class TasksInstantiated(DomainEvent):
    """A template made its tasks for an event (``event_key``), once."""

    name = "command.tasks_instantiated"
    template_key: str = ""
    event_key: str = ""
    task_ids: tuple[int, ...] = ()
