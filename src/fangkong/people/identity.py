"""Resident ID numbers (GB 11643-1999), mobile numbers, masking and pinyin search keys.

Pure functions, no database: each validator returns the normalised value or raises ``Invalid``
naming the field, with a message that says what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pypinyin import Style, lazy_pinyin

from fangkong.core.errors import N_, Invalid

# Province-level region codes: the first two digits of every resident ID number. Only the province
# (and a non-zero prefecture part) is checked: an ID number keeps the county code of where it was
# first issued, and counties have been renamed, merged and renumbered since, so a list of today's
# county codes would refuse the valid numbers of many older residents.
PROVINCE_CODES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
}
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_PHONE_SHAPE = re.compile(r"^1[3-9]\d{9}$")


def check_digit(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class ResidentId:
    """What an ID number says about its holder."""

    number: str
    region_code: str
    birth_date: date
    is_male: bool


def parse_id_number(raw: str, *, field: str = "id_number", today: date | None = None) -> ResidentId:
    """Validate an 18-character resident ID number and read its region, birth date and sex."""
    number = (raw or "").strip().upper().replace(" ", "")
    if not _ID_SHAPE.match(number):
        raise Invalid.field(field, N_("The ID number must be 17 digits followed by a digit or X."))
    if number[:2] not in PROVINCE_CODES or number[2:4] == "00":
        raise Invalid.field(field, N_("The ID number starts with an unknown region code {code}."),
                            code=number[:6])
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise Invalid.field(field, N_("The ID number holds an impossible birth date.")) from None
    if born.year < 1900 or born > (today or date.today()):
        raise Invalid.field(field, N_("The ID number holds an impossible birth date."))
    if check_digit(number[:17]) != number[17]:
        raise Invalid.field(field, N_("The ID number's check digit is wrong; please check it was typed correctly."))
    return ResidentId(number=number, region_code=number[:6], birth_date=born, is_male=int(number[16]) % 2 == 1)


def normalize_phone(raw: str | None, *, field: str = "phone") -> str | None:
    """Validate an 11-digit mainland mobile number; empty means none."""
    if raw is None:
        return None
    phone = re.sub(r"[\s-]", "", raw)
    if phone.startswith("+86"):
        phone = phone[3:]
    if not phone:
        return None
    if not _PHONE_SHAPE.match(phone):
        raise Invalid.field(field, N_("The mobile number must be 11 digits starting with 13–19."))
    return phone


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_phone(phone: str | None) -> str:
    """13812341234 → 138****1234."""
    return f"{phone[:3]}****{phone[-4:]}" if phone else ""


def mask_id_number(number: str) -> str:
    """220502196001011234 → 2205**********1234."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:] if number else ""


def pinyin_keys(name: str) -> tuple[str, str]:
    """(initials, full pinyin) of a name, lower case: 张三 → ("zs", "zhangsan")."""
    initials = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")).lower()
    full = "".join(lazy_pinyin(name, style=Style.NORMAL, errors="ignore")).lower()
    return initials, full
