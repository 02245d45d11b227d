"""API shapes for the jurisdiction tree."""

from __future__ import annotations

from pydantic import BaseModel

from fangkong.core.paging import PageOut


class JurisdictionOut(BaseModel):
    """A node of the tree with its population (persons on file under it)."""

    code: str
    name: str
    level: int
    parent_code: str | None
    population: int


JurisdictionPage = PageOut[JurisdictionOut]
