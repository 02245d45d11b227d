"""API shapes for the jurisdiction tree."""

from __future__ import annotations

from pydantic import BaseModel


class JurisdictionOut(BaseModel):
    """A node of the tree with its population (persons on file under it)."""

    code: str
    name: str
    level: int
    parent_code: str | None
    population: int


class JurisdictionPage(BaseModel):
    """A page of jurisdictions."""

    items: list[JurisdictionOut]
    total: int
    page: int
    size: int
