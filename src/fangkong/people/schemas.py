"""API and form shapes for persons and households, kept apart from the tables."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from fangkong.people.models import Sex


class PersonIn(BaseModel):
    """A person to register; the ID number gives sex and birth date."""

    name: str = Field(min_length=1, max_length=40)
    id_number: str = Field(max_length=32)
    phone: str | None = Field(default=None, max_length=20)
    jurisdiction_code: str = Field(max_length=12)
    address: str = Field(default="", max_length=160)
    household_id: int | None = None


class PersonPatch(BaseModel):
    """Fields of a person that may be corrected."""

    name: str | None = Field(default=None, min_length=1, max_length=40)
    phone: str | None = Field(default=None, max_length=20)
    address: str | None = Field(default=None, max_length=160)
    household_id: int | None = None


class PersonOut(BaseModel):
    """A person as lists show them: masked."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str = Field(validation_alias="masked_name")
    id_number: str = Field(validation_alias="masked_id_number")
    phone: str = Field(validation_alias="masked_phone")
    sex: Sex
    birth_date: date
    jurisdiction_code: str
    household_id: int | None
    is_masked: bool = True


class PersonUnmasked(BaseModel):
    """A person's identity in full, returned only by the audited reveal."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    id_number: str
    phone: str | None
    is_masked: bool = False
