"""Navigation by working group: each module registers its pages here; the layout shows the ones
the user's roles reach, grouped as the command headquarters is organised."""

from __future__ import annotations

from dataclasses import dataclass

from fangkong.core.auth import Permission
from fangkong.core.errors import N_
from fangkong.core.scope import Principal

# Working groups in the order the headquarters lists them.
GROUPS: list[tuple[str, str]] = [
    ("general", N_("General")),
    ("testing", N_("Testing group")),
    ("tracing", N_("Tracing group")),
    ("isolation", N_("Isolation & transfer group")),
    ("zones", N_("Zones group")),
    ("supply", N_("Supply group")),
    ("care", N_("Treatment group")),
    ("command", N_("Command headquarters")),
    ("publicity", N_("Publicity group")),
    ("system", N_("System")),
]


@dataclass(frozen=True)
class NavItem:
    """One link: where it is shown, what it says, who sees it."""

    group: str
    label: str
    href: str
    permission: Permission | None = None
    order: int = 100  # position within the group


_items: list[NavItem] = []


def register(item: NavItem) -> None:
    """Add a page to the navigation (modules call this once at import)."""
    if item not in _items:
        _items.append(item)


def menu(principal: Principal | None) -> list[tuple[str, list[NavItem]]]:
    """The groups and links ``principal`` may open, in order; empty groups are left out."""
    if principal is None:
        return []
    groups = []
    for key, label in GROUPS:
        links = sorted((i for i in _items if i.group == key and (i.permission is None or principal.can(i.permission))),
                       key=lambda i: i.order)
        if links:
            groups.append((label, links))
    return groups
