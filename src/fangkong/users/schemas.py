"""API shapes for users."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from fangkong.core.auth import Role


class GrantIn(BaseModel):
    """A role over a jurisdiction."""

    role: Role
    jurisdiction_code: str = Field(max_length=12)


class GrantOut(GrantIn):
    """A role grant as stored."""

    model_config = ConfigDict(from_attributes=True)


class UserIn(BaseModel):
    """A new user."""

    username: str = Field(min_length=3, max_length=60, pattern=r"^[a-zA-Z0-9_.-]+$")
    display_name: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=10, max_length=200)
    grants: list[GrantIn] = Field(min_length=1)
    facility_id: int | None = None


class UserOut(BaseModel):
    """A user as listed."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    jurisdiction_code: str
    is_active: bool
    grants: list[GrantOut]
    last_login_at: datetime | None
