"""Languages: zh-CN (the default) and English, through Babel catalogs.

Source strings are English msgids; ``zh_CN/LC_MESSAGES/messages.po`` translates every one of them
(a test checks that none is missing). Catalogs are compiled in memory at first use, so no ``.mo``
file needs to be built or committed. The locale of the current request lives in a context variable.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from fangkong.core.errors import N_

CATALOG_DIR = Path(__file__).resolve().parent
DOMAIN = "messages"
LOCALES: dict[str, str] = {"zh_CN": "中文", "en": "English"}
DEFAULT_LOCALE = "zh_CN"
TIMEZONE = ZoneInfo("Asia/Shanghai")

_locale: ContextVar[str] = ContextVar("fangkong_locale", default=DEFAULT_LOCALE)


def po_path(locale: str) -> Path:
    """Where the catalog of ``locale`` lives."""
    return CATALOG_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of ``locale`` (English needs none: msgids are English)."""
    path = po_path(locale)
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def negotiate(*candidates: str | None) -> str:
    """The first supported locale among ``candidates`` (cookie, header …), else the default."""
    for raw in candidates:
        if not raw:
            continue
        for part in raw.split(","):
            tag = part.split(";")[0].strip().replace("-", "_")
            if tag in LOCALES:
                return tag
            lang = tag.split("_")[0].lower()
            if lang == "zh":
                return "zh_CN"
            if lang == "en":
                return "en"
    return DEFAULT_LOCALE


def set_locale(locale: str) -> None:
    """Use ``locale`` for the rest of this request (or task)."""
    _locale.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def get_locale() -> str:
    """The locale of the current request."""
    return _locale.get()


def gettext(message: str) -> str:
    """``message`` in the current language."""
    return translations(get_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language."""
    return translations(get_locale()).ngettext(singular, plural, n)


_ = gettext


def translate(message: str, params: dict[str, Any] | None = None) -> str:
    """``message`` translated, then its ``{name}`` placeholders filled."""
    text = gettext(message)
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def local_time(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A UTC time shown in Asia/Shanghai."""
    if value is None:
        return ""
    return babel_format_datetime(value, fmt, tzinfo=TIMEZONE, locale=Locale.parse(get_locale()))


def number(value: int | float | None) -> str:
    """A number with the locale's grouping."""
    if value is None:
        return "—"
    return format_decimal(value, locale=Locale.parse(get_locale()))

# How fields are named to the user in error messages; nested paths use their last name.
FIELD_LABELS: dict[str, str] = {
    "id_number": N_("ID number"),
    "phone": N_("Mobile number"),
    "name": N_("Name"),
    "display_name": N_("Name"),
    "jurisdiction_code": N_("Jurisdiction code"),
    "code": N_("Jurisdiction code"),
    "parent": N_("Parent jurisdiction"),
    "jurisdiction": N_("Jurisdiction"),
    "level": N_("Level"),
    "address": N_("Address"),
    "household_id": N_("Household"),
    "username": N_("User name"),
    "password": N_("Password"),
    "role": N_("Role"),
    "grants": N_("Roles"),
    "q": N_("Search"),
    "since": N_("From"),
    "until": N_("To"),
    "action": N_("Action"),
    "kind": N_("Kind"),
    # Testing: the columns of a lab result file and the fields of rounds, sites and batches.
    "tube_code": N_("Tube code (管号)"),
    "result": N_("Result (检测结果)"),
    "tested_at": N_("Test time (检测时间)"),
    "lab_code": N_("Lab code (检测机构)"),
    "ct_value": N_("Ct value (Ct值)"),
    "file": N_("File"),
    "pool_size": N_("Pool size"),
    "risk": N_("Risk"),
    "starts_at": N_("Start"),
    "deadline": N_("Deadline"),
    "serves": N_("Communities served"),
    "closes_at": N_("Closing time"),
    "opens_at": N_("Opening time"),
    "entries": N_("Entries"),
    "client_id": N_("Client id"),
    "sampled_at": N_("Sampling time"),
    "tube_codes": N_("Tube codes"),
    "lab_id": N_("Laboratory"),
    "mark": N_("Door visit"),
    "reason": N_("Reason"),
    "prevalence": N_("Expected prevalence"),
    "population": N_("Population"),
    "capacity": N_("Lab capacity, tests per hour"),
    "capacity_per_hour": N_("Lab capacity, tests per hour"),
    "sensitivity": N_("Test sensitivity"),
    "community": N_("Community"),
    "under": N_("Area"),
    # Tracing: cases, investigations, itineraries, named persons, runs and contacts.
    "person": N_("Person"),
    "person_id": N_("Person"),
    "found_by": N_("Found by"),
    "onset_at": N_("Symptom onset"),
    "reported_at": N_("Reported"),
    "isolated_at": N_("Isolated at"),
    "source_case_id": N_("Source case"),
    "symptoms": N_("Symptoms"),
    "notes": N_("Notes"),
    "venue_code": N_("Venue code"),
    "place_id": N_("Place"),
    "place_text": N_("Place"),
    "ends_at": N_("End"),
    "relation": N_("Relation"),
    "note": N_("Note"),
    "itinerary": N_("Itinerary"),
    "core_done_at": N_("Core information"),
    "case_ids": N_("Cases"),
    "controlled_at": N_("Under control"),
    "state": N_("State"),
}


def field_label(field: str) -> str:
    """The user's name for a field such as ``id_number`` or ``grants.0.jurisdiction_code``."""
    parts = [p for p in field.split(".") if not p.isdigit()]
    for part in reversed(parts):
        if part in FIELD_LABELS:
            return gettext(FIELD_LABELS[part])
    return field
