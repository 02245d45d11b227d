"""Resident ID numbers, mobile numbers, masks and pinyin keys."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangkong.core.errors import Invalid
from fangkong.people import identity

# A published example of the GB 11643 check: 11010519491231002X (Beijing, 1949-12-31, female).
KNOWN_VALID = "11010519491231002X"


def make_id(region: str, born: date, seq: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + identity.check_digit(first17)


def test_a_known_id_number_is_valid_and_read() -> None:
    parsed = identity.parse_id_number(KNOWN_VALID)
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.region_code == "110105"
    assert parsed.is_male is False


def test_lower_case_x_and_spaces_are_normalised() -> None:
    assert identity.parse_id_number(" 11010519491231002x ").number == KNOWN_VALID


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("11010519491231002", "17 digits"),
        ("1101051949123100211", "17 digits"),
        ("11010519491231002Y", "17 digits"),
        ("110105194912310021", "check digit"),
        ("990105194912310020", "region code"),
        ("110105194902300020", "birth date"),  # 30 February
        ("110105289912310020", "birth date"),  # in the future
    ],
)
def test_bad_id_numbers_are_refused_naming_the_field(raw: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        identity.parse_id_number(raw)
    assert caught.value.errors[0].field == "id_number"
    assert reason in caught.value.message


@given(
    region=st.sampled_from(["220502", "220503", "110105", "440305"]),
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31)),
    seq=st.integers(min_value=0, max_value=999),
)
def test_every_generated_number_round_trips(region: str, born: date, seq: int) -> None:
    number = make_id(region, born, seq)
    parsed = identity.parse_id_number(number)
    assert parsed.birth_date == born
    assert parsed.is_male == (seq % 2 == 1)


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31)),
    seq=st.integers(min_value=0, max_value=999),
    position=st.integers(min_value=0, max_value=16),
    delta=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_typo_is_caught(born: date, seq: int, position: int, delta: int) -> None:
    number = make_id("220502", born, seq)
    digit = (int(number[position]) + delta) % 10
    typo = number[:position] + str(digit) + number[position + 1:]
    with pytest.raises(Invalid):
        identity.parse_id_number(typo)


@pytest.mark.parametrize("raw", ["13812345678", "138 1234 5678", "+8613812345678", "138-1234-5678"])
def test_mobile_numbers_are_normalised(raw: str) -> None:
    assert identity.normalize_phone(raw) == "13812345678"


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "138123456789", "0431-8888888"])
def test_bad_mobile_numbers_are_refused(raw: str) -> None:
    with pytest.raises(Invalid) as caught:
        identity.normalize_phone(raw)
    assert caught.value.errors[0].field == "phone"


def test_masks_hide_the_middle() -> None:
    assert identity.mask_name("张三") == "张*"
    assert identity.mask_name("欧阳娜娜") == "欧***"
    assert identity.mask_phone("13812341234") == "138****1234"
    assert identity.mask_id_number("22050219600101123X") == "2205**********123X"


def test_pinyin_keys() -> None:
    assert identity.pinyin_keys("张三") == ("zs", "zhangsan")
    assert identity.pinyin_keys("李秀英") == ("lxy", "lixiuying")
