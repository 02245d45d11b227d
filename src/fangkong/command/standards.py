"""The command module's standards (标准模板): default clocks and task templates, shipped as data.

``standards.toml`` beside this module holds them; a deployment edits the file, not the code. The titles
of the shipped templates are msgids: ``MESSAGES`` lists them for the catalog, and a test checks that
the file and the list agree.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fangkong.core.errors import N_

PATH = Path(__file__).resolve().parent / "standards.toml"

# Where a template's task is done, relative to the event's jurisdiction.
TemplateLevel = Literal["event", "community", "street", "district", "city", "province"]
LEVEL_LENGTH = {"province": 2, "city": 4, "district": 6, "street": 9, "community": 12}


class Clocks(BaseModel):
    """Default clocks of the lists, in hours."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    problem_hours: float = Field(gt=0)
    alert_problem_hours: float = Field(gt=0)
    measure_hours: float = Field(gt=0)
    verify_hours: float = Field(gt=0)
    digest_hours: float = Field(gt=0)


class TemplateTask(BaseModel):
    """One task a template makes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str = Field(min_length=1, max_length=200)
    task_force: str
    level: TemplateLevel = "event"
    due_hours: float = Field(gt=0)
    description: str = ""


class Template(BaseModel):
    """A standard set of tasks that an event of another module instantiates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str
    event: str
    tasks: tuple[TemplateTask, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _keys_unique(self) -> Template:
        keys = [t.key for t in self.tasks]
        if len(keys) != len(set(keys)):
            raise ValueError(f"template {self.key}: task keys repeat")
        return self


class Standards(BaseModel):
    """Everything in ``standards.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clocks: Clocks
    templates: tuple[Template, ...] = ()

    @model_validator(mode="after")
    def _keys_unique(self) -> Standards:
        keys = [t.key for t in self.templates]
        if len(keys) != len(set(keys)):
            raise ValueError("template keys repeat")
        return self

    def for_event(self, event_name: str) -> list[Template]:
        """The templates instantiated by events called ``event_name``."""
        return [t for t in self.templates if t.event == event_name]


@lru_cache
def load(path: Path = PATH) -> Standards:
    """The standards in ``path`` (the shipped file by default)."""
    with path.open("rb") as fh:
        return Standards.model_validate(tomllib.load(fh))


def clocks() -> Clocks:
    """The default clocks of the lists."""
    return load().clocks


# The msgids of the shipped file's titles, so that extraction puts them in the catalog.
MESSAGES = (
    N_("A new local case"),
    N_("Collect the case's core information"),
    N_("Complete the case's investigation report"),
    N_("Transfer the case to the designated hospital in a closed loop"),
    N_("Put the case's close contacts under control"),
    N_("Seal and disinfect the case's residence and building"),
    N_("Test everyone in the case's compound"),
    N_("Deliver daily necessities to the sealed households"),
    N_("Publish the case in the daily bulletin"),
    N_("A positive pool"),
    N_("Put the pool's members under control"),
    N_("Re-sample the pool's members single-tube"),
    N_("Report the single-tube re-test results"),
)
