"""Households and the persons in them, with ages, sexes, birth dates, ID numbers and phones.

Households are drawn first, by type (an old woman alone, an old couple, a couple with a child,
three generations …), and their members' ages follow from the type: spouses of similar age,
children born when their mother was 22–36, grandparents a generation above. The mix of types is
set so that the population ages like a north-eastern Chinese city in 2020 (about a quarter aged
60 or over, one in ten under 15) and a household holds 2.6 persons on average. Everything is
drawn in bulk with numpy; there is no Python loop over persons or households.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from fangkong.synth import names

# Shares of each five-year age group (0–4 … 95–99) of an ageing north-eastern city, 2020. Used
# as relative weights when drawing the age of a household head within a type's age range.
_FIVE_YEAR_SHARES = (2.9, 3.8, 4.0, 3.9, 4.4, 5.4, 7.2, 6.5, 6.6, 8.6, 10.4, 10.0, 8.3, 7.2, 4.8, 3.0, 1.9,
                     0.9, 0.3, 0.08)
AGE_WEIGHTS = np.repeat(np.array(_FIVE_YEAR_SHARES), 5)  # index = age in years, 0..99
MAX_AGE = 99
_AGE_CDF = np.concatenate([[0.0], np.cumsum(AGE_WEIGHTS)])  # _AGE_CDF[a] = weight of ages below a


def draw_ages(rng: np.random.Generator, lo: np.ndarray | int, hi: np.ndarray | int, n: int) -> np.ndarray:
    """Ages drawn by AGE_WEIGHTS within ``[lo, hi]`` (each clipped to 0..MAX_AGE), per element."""
    lo = np.clip(lo, 0, MAX_AGE)
    hi = np.clip(np.maximum(hi, lo), 0, MAX_AGE)
    u = _AGE_CDF[lo] + rng.random(n) * (_AGE_CDF[hi + 1] - _AGE_CDF[lo])
    return np.clip(np.searchsorted(_AGE_CDF, u, side="right") - 1, lo, hi).astype(np.int64)


@dataclass(frozen=True)
class HouseholdType:
    """A kind of household: who lives in it and how old they are."""

    name: str
    weight: float  # share of households
    heads: int  # 1, or 2 for a couple (husband first)
    head_ages: tuple[int, int]  # age range of the (first) head, inclusive
    elders: int = 0  # parents of a head living with them
    children: int = 0  # children of the heads (grandchildren for a skipped generation)
    child_gap: tuple[int, int] = (22, 36)  # the mother's age when each child was born
    female_head: float = 0.0  # share of women among single heads

    @property
    def size(self) -> int:
        """Persons in a household of this type."""
        return self.heads + self.elders + self.children


HOUSEHOLD_TYPES: tuple[HouseholdType, ...] = (
    HouseholdType("old person alone", 0.070, 1, (62, 99), female_head=0.66),
    HouseholdType("adult alone", 0.095, 1, (20, 61), female_head=0.40),
    HouseholdType("old couple", 0.125, 2, (60, 95)),
    HouseholdType("couple", 0.170, 2, (24, 59)),
    HouseholdType("single parent and child", 0.045, 1, (28, 60), female_head=0.72, children=1),
    HouseholdType("couple and child", 0.250, 2, (27, 64), children=1),
    HouseholdType("old couple and grown child", 0.045, 2, (60, 85), children=1),
    HouseholdType("couple and two children", 0.025, 2, (30, 52), children=2),
    HouseholdType("grandparents and grandchild", 0.020, 2, (52, 75), children=1, child_gap=(46, 60)),
    HouseholdType("three generations, one grandparent", 0.065, 2, (28, 52), elders=1, children=1),
    HouseholdType("three generations", 0.055, 2, (28, 50), elders=2, children=1),
    HouseholdType("three generations, two children", 0.018, 2, (30, 48), elders=2, children=2),
    HouseholdType("large family", 0.004, 2, (30, 46), elders=2, children=3),
)
_TYPE_P = np.array([t.weight for t in HOUSEHOLD_TYPES]) / sum(t.weight for t in HOUSEHOLD_TYPES)
_TYPE_SIZE = np.array([t.size for t in HOUSEHOLD_TYPES])

# Roles inside a household, in the order members are stored.
HEAD, SPOUSE, ELDER, CHILD = 0, 1, 2, 3


@dataclass
class Members:
    """Persons of consecutive households: arrays aligned by person, households by ``household_size``."""

    household_size: np.ndarray  # int64, per household
    age: np.ndarray  # int16, whole years at the scenario start
    is_male: np.ndarray  # bool
    surname: np.ndarray  # int32 index into names.SURNAMES
    role: np.ndarray  # int8: HEAD, SPOUSE, ELDER or CHILD


def draw_members(rng: np.random.Generator, persons: int) -> Members:
    """Households holding exactly ``persons`` persons (the last one trimmed to fit)."""
    types = rng.choice(len(HOUSEHOLD_TYPES), size=int(persons / 2.4) + 16, p=_TYPE_P)
    cum = np.cumsum(_TYPE_SIZE[types])
    while cum[-1] < persons:  # only for very small populations
        types = np.concatenate([types, rng.choice(len(HOUSEHOLD_TYPES), size=16, p=_TYPE_P)])
        cum = np.cumsum(_TYPE_SIZE[types])
    last = int(np.searchsorted(cum, persons))
    types = types[: last + 1]
    sizes = _TYPE_SIZE[types].astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    total = int(sizes.sum())
    age = np.zeros(total, dtype=np.int16)
    is_male = np.zeros(total, dtype=bool)
    surname = np.zeros(total, dtype=np.int32)
    role = np.zeros(total, dtype=np.int8)
    family = names.draw_surnames(rng, 3 * len(types)).reshape(-1, 3)  # husband's, wife's, an elder's
    for t, kind in enumerate(HOUSEHOLD_TYPES):
        rows = np.flatnonzero(types == t)
        if len(rows) == 0:
            continue
        a, m, s, r = _draw_type(rng, kind, family[rows])
        at = offsets[rows][:, None] + np.arange(kind.size)
        age[at], is_male[at], surname[at], role[at] = a, m, s, r
    # Trim the last household so that the total is exact; its youngest members go first.
    sizes[-1] -= total - persons
    return Members(household_size=sizes, age=age[:persons], is_male=is_male[:persons],
                   surname=surname[:persons], role=role[:persons])


def _draw_type(rng: np.random.Generator, kind: HouseholdType,
               family: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ages, sexes, surnames and roles, each ``(households, size)``, of households of one type."""
    n = len(family)
    lo, hi = kind.head_ages
    head = draw_ages(rng, lo, hi, n)
    ages: list[np.ndarray] = [head]
    if kind.heads == 2:
        head_male = np.ones(n, dtype=bool)
        spouse = np.clip(head - np.rint(rng.normal(2.2, 2.5, n)), 18, MAX_AGE).astype(np.int64)
        ages.append(spouse)
        males: list[np.ndarray] = [head_male, np.zeros(n, dtype=bool)]
        surnames: list[np.ndarray] = [family[:, 0], family[:, 1]]
        roles = [HEAD, SPOUSE]
        mother = spouse
    else:
        head_male = rng.random(n) >= kind.female_head
        males = [head_male]
        surnames = [np.where(head_male, family[:, 0], family[:, 1])]
        roles = [HEAD]
        mother = head - 2 * head_male  # a father is a little older than the mother would be
    if kind.elders:
        # Parents of the husband, or of the wife; a lone parent is usually the widowed mother.
        from_husband = (rng.random(n) < 0.6) | (kind.heads == 1)
        base = np.where(from_husband, head, ages[-1])
        side = np.where(from_husband & head_male, family[:, 0], family[:, 1])
        first = np.minimum(base + rng.integers(24, 35, n), MAX_AGE)
        if kind.elders == 1:
            female = rng.random(n) < 0.72
            ages.append(first)
            males.append(~female)
            surnames.append(np.where(female, family[:, 2], side))
            roles.append(ELDER)
        else:
            ages += [first, np.clip(first - np.rint(rng.normal(2.2, 2.5, n)), 0, MAX_AGE).astype(np.int64)]
            males += [np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]
            surnames += [side, family[:, 2]]
            roles += [ELDER, ELDER]
    for _ in range(kind.children):
        # Born when the mother was child_gap years old, the younger ages being the rarer ones.
        ages.append(draw_ages(rng, mother - kind.child_gap[1], mother - kind.child_gap[0], n))
        males.append(rng.random(n) < 0.515)
        # Children carry the father's surname; a lone mother's child usually the absent father's.
        fathers = (head_male & (rng.random(n) < 0.95)) | (~head_male & (rng.random(n) < 0.35))
        surnames.append(np.where(fathers, family[:, 0], family[:, 1]))
        roles.append(CHILD)
    return (np.stack(ages, axis=1).astype(np.int16), np.stack(males, axis=1), np.stack(surnames, axis=1),
            np.broadcast_to(np.array(roles, dtype=np.int8), (n, kind.size)))


def birth_dates(rng: np.random.Generator, age: np.ndarray, start: date) -> np.ndarray:
    """Birth dates (``datetime64[D]``) of persons who are ``age`` whole years old on ``start``."""
    month = (start.year - 1970) * 12 + start.month - 1 - 12 * age.astype(np.int64)
    # The day ``age`` years before ``start`` (the latest possible birthday), then up to a year earlier.
    first_of_month = month.astype("datetime64[M]").astype("datetime64[D]")
    month_days = ((month + 1).astype("datetime64[M]").astype("datetime64[D]") - first_of_month).astype(np.int64)
    latest = first_of_month + np.minimum(start.day, month_days) - 1
    earliest = (month - 12).astype("datetime64[M]").astype("datetime64[D]") + (latest - first_of_month) + 1
    span = (latest - earliest).astype(np.int64) + 1
    return earliest + (rng.random(len(age)) * span).astype(np.int64)


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = pa.array(list("10X98765432"))


def id_numbers(rng: np.random.Generator, region: np.ndarray, born: np.ndarray, is_male: np.ndarray) -> pa.StringArray:
    """Unique 18-character resident ID numbers (GB 11643): region, birth date, sequence, check digit.

    The sequence number is odd for men and even for women; it is redrawn until no two persons
    share region, birth date and sequence.
    """
    day = born.astype("datetime64[D]").astype(np.int64)
    k = rng.integers(0, 500, len(day))
    while True:
        key = (region.astype(np.int64) * 100_000 + day + 40_000) * 1000 + 2 * k + is_male
        _, first = np.unique(key, return_index=True)
        clash = np.ones(len(key), dtype=bool)
        clash[first] = False
        if not clash.any():
            break
        k[clash] = rng.integers(0, 500, int(clash.sum()))
    ymd = _yyyymmdd(born)
    first17 = (region.astype(np.int64) * 100_000_000 + ymd) * 1000 + 2 * k + is_male
    total = np.zeros(len(first17), dtype=np.int64)
    rest = first17.copy()
    for w in _ID_WEIGHTS[::-1]:  # from the last digit to the first
        total += (rest % 10) * w
        rest //= 10
    return names.text(names.numbers(first17), _CHECK_CHARS.take(total % 11))


def _yyyymmdd(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` values as integers like 19600101."""
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    y = years.astype(np.int64) + 1970
    m = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    d = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return (y * 100 + m) * 100 + d


# Mobile prefixes in use in 2021, weighted roughly by their numbers of subscribers.
_PHONE_PREFIXES = np.array([130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 145, 147, 150, 151, 152, 153, 155,
                            156, 157, 158, 159, 166, 170, 171, 173, 175, 176, 177, 178, 180, 181, 182, 183, 184,
                            185, 186, 187, 188, 189, 191, 198, 199])
_PHONE_P = np.where(_PHONE_PREFIXES < 140, 3.0, np.where(_PHONE_PREFIXES < 160, 2.0,
                    np.where((_PHONE_PREFIXES >= 180) & (_PHONE_PREFIXES < 190), 2.5, 0.6)))
_PHONE_P = _PHONE_P / _PHONE_P.sum()


def phones(rng: np.random.Generator, age: np.ndarray) -> pa.StringArray:
    """Unique 11-digit mobile numbers; null for a share of the very old (none at 85+ for most)."""
    no_phone_p = np.select([age >= 85, age >= 75, age >= 65], [0.65, 0.35, 0.10], 0.0)
    has = rng.random(len(age)) >= no_phone_p
    number = rng.choice(_PHONE_PREFIXES, size=len(age), p=_PHONE_P) * 100_000_000 + rng.integers(0, 100_000_000,
                                                                                                    len(age))
    while True:
        _, first = np.unique(np.where(has, number, -np.arange(1, len(age) + 1)), return_index=True)
        clash = np.ones(len(age), dtype=bool)
        clash[first] = False
        if not clash.any():
            break
        number[clash] = rng.choice(_PHONE_PREFIXES, size=int(clash.sum()), p=_PHONE_P) * 100_000_000 + \
            rng.integers(0, 100_000_000, int(clash.sum()))
    return pa.array(number, mask=~has).cast(pa.string())
