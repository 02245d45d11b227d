"""Pagination of scoped queries, shared by pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_PAGE_SIZE = 200


@dataclass
class Page(Generic[T]):
    """One page of results and where it sits in the whole."""

    items: list[T]
    total: int
    page: int
    size: int
    # True when counting stopped at a limit: there are at least ``total`` results.
    is_total_capped: bool = False

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.page < self.pages


class PageOut(BaseModel, Generic[T]):
    """A page of API results."""

    items: list[T]
    total: int
    page: int
    size: int
    total_is_capped: bool = False


def paginate(session: Session, stmt: Select[Any], *, page: int = 1, size: int = 50,
             count_limit: int | None = None, scalars: bool = True) -> Page[Any]:
    """Run ``stmt`` for one page; the count goes through the same scoping as the rows.

    With ``count_limit``, counting stops there (a search typed letter by letter should not count a
    quarter of the city on every key): the page then says "at least ``count_limit``". With
    ``scalars=False`` the items are whole rows rather than their first column.
    """
    page = max(1, page)
    size = max(1, min(size, MAX_PAGE_SIZE))
    counted = stmt.order_by(None)
    if count_limit is not None:
        counted = counted.limit(count_limit + 1)
    total = session.execute(select(func.count()).select_from(counted.subquery())).scalar_one()
    capped = count_limit is not None and total > count_limit
    result = session.execute(stmt.limit(size).offset((page - 1) * size))
    items = list(result.scalars()) if scalars else list(result.all())
    return Page(items=items, total=count_limit if capped and count_limit is not None else total, page=page,
                size=size, is_total_capped=capped)
