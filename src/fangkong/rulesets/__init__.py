"""Rule sets (防控方案): the numbers of a national protocol, shipped as data files beside this module.

An outbreak runs under one rule set (``FANGKONG_RULESET``, ``protocol-8`` by default); records that
depend on it (a testing round) keep the name of the rule set they were made under. A deployment
edits the TOML files; the code holds none of their numbers.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

FOLDER = Path(__file__).resolve().parent


class TestingRules(BaseModel):
    """Mass testing: pool sizes by risk and the clocks of the testing loop."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed_pool_sizes: tuple[int, ...] = Field(min_length=1)
    pool_size_low: int
    pool_size_medium: int
    pool_size_high: int
    key_group_pool_size: int
    round_hours: float = Field(gt=0)
    pooled_result_hours: float = Field(gt=0)
    single_result_hours: float = Field(gt=0)
    retest_hours: float = Field(gt=0)

    @model_validator(mode="after")
    def _sizes_allowed(self) -> TestingRules:
        for size in (self.pool_size_low, self.pool_size_medium, self.pool_size_high, self.key_group_pool_size):
            if size not in self.allowed_pool_sizes:
                raise ValueError(f"pool size {size} is not among allowed_pool_sizes")
        return self


class TracingRules(BaseModel):
    """Contact tracing (流调): the case's look-back, who counts as a close or exposed contact, and the clocks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lookback_days: int = Field(ge=0)
    # Place categories where sharing the place with a case makes a close contact (密接), with the
    # shortest continuous overlap that does (0: any overlap at all).
    close_contact_minutes: dict[str, float]
    # Place categories where sharing the place with a case makes a person exposed (涉疫场所暴露).
    exposed_categories: tuple[str, ...]
    core_info_hours: float = Field(gt=0)
    report_hours: float = Field(gt=0)
    contact_control_hours: float = Field(gt=0)

    @model_validator(mode="after")
    def _categories_disjoint(self) -> TracingRules:
        for category, minutes in self.close_contact_minutes.items():
            if minutes < 0:
                raise ValueError(f"close_contact_minutes of {category} is negative: {minutes}")
        both = sorted(set(self.close_contact_minutes) & set(self.exposed_categories))
        if both:
            raise ValueError(f"categories both close and exposed: {', '.join(both)}")
        return self


class RuleSet(BaseModel):
    """One protocol's numbers, by module."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    title: str
    testing: TestingRules
    tracing: TracingRules


def available() -> list[str]:
    """The names of the shipped rule sets."""
    return sorted(p.stem for p in FOLDER.glob("*.toml"))


@lru_cache
def load(name: str) -> RuleSet:
    """The rule set called ``name``; ``LookupError`` when there is none."""
    path = FOLDER / f"{name}.toml"
    if name not in available():
        raise LookupError(f"no rule set {name!r}; available: {', '.join(available())}")
    with path.open("rb") as fh:
        return RuleSet.model_validate(tomllib.load(fh))


def current() -> RuleSet:
    """The rule set the deployment runs under."""
    from fangkong.config import get_settings

    return load(get_settings().ruleset)
