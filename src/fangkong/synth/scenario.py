"""Scenarios: the real divisions a synthetic city is built on, and when its simulation starts.

A scenario names a province, a city and its districts and counties with their national division
codes (行政区划代码), populations and seat coordinates, plus the streets and towns (街道/乡镇)
of each. The first district is the city's seat, where city-wide institutions are. Persons are
spread over the districts in proportion to ``District.population``; streets share their
district's persons in proportion to ``Street.weight``.

tonghua-2021 (通化市, 吉林省): the city total (1,812,114), 东昌区 (355,300) and 通化县 (175,114)
are the 2020 census figures; the other five are approximate and chosen to add up to the total.
Street weights are the street populations of the 2000 census where known, else estimates. Seat
coordinates are those of each district's seat town, to about a kilometre.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Street:
    """A street or town (街道/镇/乡) of a district: the last three digits of its 9-digit code."""

    suffix: str
    name: str
    weight: float  # relative population within its district

    @property
    def is_urban(self) -> bool:
        """A street (街道) or a town large enough to be mostly urban communities."""
        return self.name.endswith("街道") or (self.name.endswith("镇") and self.weight >= 50_000)


@dataclass(frozen=True)
class District:
    """A district or county (区/县/县级市) with the seat its coordinates point to."""

    code: str
    name: str
    population: int
    lon: float
    lat: float
    streets: tuple[Street, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A city to synthesise and the first day of its simulation."""

    name: str
    province: tuple[str, str]
    city: tuple[str, str]
    districts: tuple[District, ...]
    start: date
    worst_district: str
    wholesale_market: str = ""  # the seat district's large vegetable wholesale market, if it has a known name

    @property
    def seat_district(self) -> str:
        """Code of the district holding the city government and city-wide institutions: the first one."""
        return self.districts[0].code

    def district(self, code: str) -> District:
        """The district with this code; ValueError if the scenario has none."""
        for d in self.districts:
            if d.code == code:
                return d
        known = ", ".join(d.code for d in self.districts)
        raise ValueError(f"unknown district {code!r} in scenario {self.name}, known: {known}")


def _streets(*rows: tuple[str, str, float]) -> tuple[Street, ...]:
    return tuple(Street(suffix, name, weight) for suffix, name, weight in rows)


TONGHUA_2021 = Scenario(
    name="tonghua-2021",
    province=("22", "吉林省"),
    city=("2205", "通化市"),
    start=date(2021, 1, 1),
    worst_district="220502",
    wholesale_market="西关蔬菜批发市场",
    districts=(
        District("220502", "东昌区", 355_300, 125.940, 41.728, _streets(
            ("001", "东昌街道", 23_561), ("002", "民主街道", 28_734), ("003", "老站街道", 48_480),
            ("004", "团结街道", 44_857), ("005", "新站街道", 35_113), ("006", "光明街道", 43_366),
            ("007", "龙泉街道", 35_974), ("008", "陆港街道", 20_000), ("009", "滨江街道", 20_000),
            ("100", "金厂镇", 14_934), ("200", "环通乡", 16_221), ("201", "江东乡", 16_618),
        )),
        District("220503", "二道江区", 107_000, 126.042, 41.775, _streets(
            ("001", "东通化街道", 37_969), ("002", "桃园街道", 34_396), ("100", "铁厂镇", 22_058),
            ("101", "五道江镇", 21_816), ("102", "鸭园镇", 21_032), ("200", "二道江乡", 10_319),
        )),
        District("220521", "通化县", 175_114, 125.753, 41.675, _streets(
            ("001", "茂山街道", 25_000), ("002", "东安街道", 22_000), ("100", "快大茂镇", 20_000),
            ("101", "二密镇", 9_000), ("102", "果松镇", 9_000), ("103", "石湖镇", 8_000),
            ("104", "大安镇", 10_000), ("105", "光华镇", 9_000), ("106", "兴林镇", 8_000),
            ("107", "英额布镇", 8_000), ("108", "三棵榆树镇", 7_000), ("109", "西江镇", 8_000),
            ("200", "富江乡", 5_000), ("201", "四棚乡", 4_000), ("202", "东来乡", 5_000),
            ("203", "大泉源满族朝鲜族乡", 6_000), ("204", "金斗朝鲜族满族乡", 5_000),
        )),
        District("220523", "辉南县", 215_000, 126.046, 42.684, _streets(
            ("100", "朝阳镇", 100_000), ("101", "辉南镇", 12_000), ("102", "样子哨镇", 14_000),
            ("103", "杉松岗镇", 10_000), ("104", "石道河镇", 10_000), ("105", "辉发城镇", 13_000),
            ("106", "抚民镇", 11_000), ("107", "金川镇", 9_000), ("108", "庆阳镇", 10_000),
            ("109", "团林镇", 9_000), ("200", "楼街朝鲜族乡", 6_000),
        )),
        District("220524", "柳河县", 232_000, 125.739, 42.282, _streets(
            ("100", "柳河镇", 90_000), ("101", "三源浦朝鲜族镇", 16_000), ("102", "驼腰岭镇", 12_000),
            ("103", "孤山子镇", 11_000), ("104", "圣水镇", 10_000), ("105", "安口镇", 13_000),
            ("106", "向阳镇", 10_000), ("107", "红石镇", 8_000), ("108", "凉水河子镇", 9_000),
            ("109", "罗通山镇", 8_000), ("200", "时家店乡", 6_000), ("201", "姜家店朝鲜族乡", 5_000),
            ("202", "柳南乡", 5_000),
        )),
        District("220581", "梅河口市", 551_000, 125.678, 42.528, _streets(
            ("001", "新华街道", 70_000), ("002", "和平街道", 65_000), ("003", "解放街道", 55_000),
            ("004", "福民街道", 50_000), ("100", "山城镇", 30_000), ("101", "红梅镇", 22_000),
            ("102", "海龙镇", 25_000), ("103", "新合镇", 18_000), ("104", "曙光镇", 16_000),
            ("105", "中和镇", 17_000), ("106", "黑山头镇", 14_000), ("107", "水道镇", 15_000),
            ("108", "进化镇", 14_000), ("109", "一座营镇", 15_000), ("110", "康大营镇", 14_000),
            ("111", "牛心顶镇", 16_000), ("112", "杏岭镇", 13_000), ("200", "李炉乡", 8_000),
            ("201", "双兴乡", 7_000), ("202", "小杨满族朝鲜族乡", 7_000), ("203", "吉乐乡", 6_000),
        )),
        District("220582", "集安市", 176_700, 126.194, 41.126, _streets(
            ("001", "团结街道", 31_139), ("002", "黎明街道", 21_725), ("003", "通胜街道", 20_000),
            ("100", "青石镇", 12_000), ("101", "榆林镇", 11_000), ("102", "花甸镇", 10_000),
            ("103", "头道镇", 10_000), ("104", "清河镇", 11_000), ("105", "台上镇", 9_000),
            ("106", "财源镇", 9_000), ("107", "大路镇", 8_000), ("108", "太王镇", 12_000),
            ("200", "麻线乡", 5_000), ("201", "凉水朝鲜族乡", 4_000),
        )),
    ),
)

SCENARIOS: dict[str, Scenario] = {TONGHUA_2021.name: TONGHUA_2021}


def get_scenario(name: str) -> Scenario:
    """The scenario of this name; ValueError naming the known ones if there is none."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}, known: {', '.join(sorted(SCENARIOS))}") from None
