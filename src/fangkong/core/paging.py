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


def paginate(session: Session, stmt: Select[Any], *, page: int = 1, size: int = 50) -> Page[Any]:
    """Run ``stmt`` for one page; the count goes through the same scoping as the rows."""
    page = max(1, page)
    size = max(1, min(size, MAX_PAGE_SIZE))
    total = session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    items = list(session.execute(stmt.limit(size).offset((page - 1) * size)).scalars())
    return Page(items=items, total=total, page=page, size=size)
