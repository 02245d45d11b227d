"""The situation overview: one row per district, one column per registered indicator.

Each module adds the indicators of its loop (samples taken, cases, people in isolation …) with
``register``; the foundation provides population and households.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core.errors import N_
from fangkong.geo import service as geo
from fangkong.geo.models import Jurisdiction, Level
from fangkong.people.models import Household, Person


@dataclass(frozen=True)
class Indicator:
    """A figure shown per district: ``count(session, code)`` gives it for one jurisdiction."""

    key: str
    label: str
    count: Callable[[Session, str], int]


_indicators: list[Indicator] = []


def register(indicator: Indicator) -> None:
    """Add an indicator to the overview."""
    if all(i.key != indicator.key for i in _indicators):
        _indicators.append(indicator)


def indicators() -> list[Indicator]:
    """Every registered indicator, in registration order."""
    return list(_indicators)


@dataclass(frozen=True)
class Panel:
    """A module's section of the overview: ``context(session)`` gives what its template shows, or None."""

    key: str
    template: str
    context: Callable[[Session], dict[str, Any] | None]


_panels: list[Panel] = []


def register_panel(panel: Panel) -> None:
    """Add a section (a loop's funnel) to the overview."""
    if all(p.key != panel.key for p in _panels):
        _panels.append(panel)


def panels(session: Session) -> list[tuple[str, dict[str, Any]]]:
    """The sections that have something to show, as (template, context)."""
    shown = []
    for panel in _panels:
        context = panel.context(session)
        if context is not None:
            shown.append((panel.template, context))
    return shown


register(Indicator("population", N_("Population"), lambda s, code: geo.count_under(s, Person, code)))
register(Indicator("households", N_("Households"), lambda s, code: geo.count_under(s, Household, code)))


def rows(session: Session) -> list[tuple[Jurisdiction, dict[str, int]]]:
    """The districts (or, for a narrower user, their own nodes) with every indicator."""
    nodes: list[Jurisdiction] = []
    for root in geo.roots(session):
        if len(root.code) < Level.DISTRICT:
            nodes += session.execute(
                select(Jurisdiction)
                .where(func.length(Jurisdiction.code) == Level.DISTRICT.value,
                       Jurisdiction.code.startswith(root.code))
                .order_by(Jurisdiction.code)
            ).scalars().all()
        else:
            nodes.append(root)
    return [(node, {i.key: i.count(session, node.code) for i in _indicators}) for node in nodes]
