"""The demo city: the real 通化市 divisions with a small generated population and demo users.

District and county codes are the national ones; street, community and compound names below the
districts are representative, with codes in the national pattern. Persons are generated from a
fixed seed, so the same seed gives the same city (tests rely on this). Every generated ID number
is valid: a real date, the district's region code and a correct check digit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core import audit
from fangkong.core.auth import Role, hash_password
from fangkong.geo.models import (
    Building,
    Compound,
    Facility,
    FacilityKind,
    Jurisdiction,
    Place,
    PlaceCategory,
    Unit,
)
from fangkong.people import identity
from fangkong.people.models import Household, Person, Sex
from fangkong.users.models import RoleGrant, User

DEMO_PASSWORD = "fangkong-demo-2021"

PROVINCE = ("22", "吉林省")
CITY = ("2205", "通化市")
# The seven districts and counties of 通化市, each with a few streets/towns and their communities.
DISTRICTS: list[tuple[str, str, list[tuple[str, str, list[str]]]]] = [
    ("220502", "东昌区", [
        ("001", "新站街道", ["新站社区", "江南社区", "民主社区"]),
        ("002", "老站街道", ["老站社区", "胜利社区"]),
        ("003", "团结街道", ["团结社区", "玉龙湾社区"]),
    ]),
    ("220503", "二道江区", [
        ("001", "东通化街道", ["东通化社区", "钢铁社区"]),
        ("002", "桃源街道", ["桃源社区", "铁厂社区"]),
    ]),
    ("220521", "通化县", [
        ("100", "快大茂镇", ["快大茂社区", "繁荣社区"]),
        ("101", "二密镇", ["二密村"]),
    ]),
    ("220523", "辉南县", [
        ("100", "朝阳镇", ["朝阳社区", "龙湾社区"]),
        ("101", "辉南镇", ["辉南村"]),
    ]),
    ("220524", "柳河县", [
        ("100", "柳河镇", ["柳河社区", "新华社区"]),
        ("101", "三源浦镇", ["三源浦村"]),
    ]),
    ("220581", "梅河口市", [
        ("001", "新华街道", ["新华社区", "建设社区"]),
        ("002", "和平街道", ["和平社区", "福民社区"]),
    ]),
    ("220582", "集安市", [
        ("001", "团结街道", ["团结社区", "鸭绿江社区"]),
        ("002", "黎明街道", ["黎明社区"]),
    ]),
]

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏"
    "卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
    "玉兰萍毅浩宇轩然欣怡子涵梓晨佳琪建国建华淑珍凤兰桂芝秀云玉珍"
)
COMPOUND_WORDS = ["花园", "家园", "小区", "新村", "佳苑", "名邸"]


@dataclass(frozen=True)
class DemoUser:
    """A demo login."""

    username: str
    display_name: str
    role: Role
    code: str
    facility: str | None = None


DEMO_USERS: list[DemoUser] = [
    DemoUser("admin", "系统管理员", Role.ADMIN, "2205"),
    DemoUser("province_commander", "省指挥长", Role.COMMANDER, "22"),
    DemoUser("city_commander", "市指挥长", Role.COMMANDER, "2205"),
    DemoUser("dongchang_commander", "东昌区指挥长", Role.COMMANDER, "220502"),
    DemoUser("testing", "检测专班", Role.TESTING_STAFF, "2205"),
    DemoUser("dongchang_testing", "东昌区检测专班", Role.TESTING_STAFF, "220502"),
    DemoUser("tracer", "流调专班", Role.TRACER, "2205"),
    DemoUser("dongchang_tracer", "东昌区流调组", Role.TRACER, "220502"),
    DemoUser("isolation", "隔离转运专班", Role.ISOLATION_STAFF, "2205"),
    DemoUser("supply", "保供专班", Role.SUPPLY_STAFF, "2205"),
    DemoUser("care", "医疗救治专班", Role.CARE_STAFF, "2205"),
    DemoUser("publicity", "宣传专班", Role.PUBLICITY_STAFF, "2205"),
    DemoUser("dongchang_worker", "新站社区网格员", Role.COMMUNITY_WORKER, "220502001001"),
    DemoUser("erdaojiang_worker", "东通化社区网格员", Role.COMMUNITY_WORKER, "220503001001"),
    DemoUser("lab", "东昌区疾控实验室", Role.LAB, "220502", facility="东昌区疾控中心实验室"),
    DemoUser("inspector", "督导检查组", Role.INSPECTOR, "2205"),
    DemoUser("viewer", "观察员", Role.VIEWER, "2205"),
]


def is_loaded(session: Session) -> bool:
    """Whether the database already holds a jurisdiction tree."""
    return bool(session.execute(select(func.count()).select_from(Jurisdiction)).scalar_one())


def load(session: Session, *, seed: int = 2021, households_per_unit: int = 4) -> dict[str, int]:
    """Write the demo city into an empty database; returns how many rows of each kind."""
    rng = random.Random(seed)
    audit.bulk(session, f"demo load, seed {seed}")
    counts = {"jurisdictions": 0, "persons": 0, "households": 0, "users": 0}
    session.add(Jurisdiction(code=PROVINCE[0], name=PROVINCE[1]))
    session.add(Jurisdiction(code=CITY[0], name=CITY[1], parent_code=PROVINCE[0]))
    counts["jurisdictions"] += 2
    used_ids: set[str] = set()
    used_phones: set[str] = set()
    facilities: dict[str, Facility] = {}
    for dcode, dname, streets in DISTRICTS:
        session.add(Jurisdiction(code=dcode, name=dname, parent_code=CITY[0]))
        counts["jurisdictions"] += 1
        for kind, suffix in [(FacilityKind.LAB, "疾控中心实验室"), (FacilityKind.HOSPITAL, "人民医院"),
                             (FacilityKind.ISOLATION_SITE, "集中隔离点"), (FacilityKind.SAMPLING_SITE, "核酸采样点"),
                             (FacilityKind.WAREHOUSE, "应急物资仓库")]:
            f = Facility(name=dname + suffix, kind=kind, jurisdiction_code=dcode,
                         code=f"LAB{dcode}" if kind is FacilityKind.LAB else None,
                         capacity=rng.randint(50, 400) if kind is FacilityKind.ISOLATION_SITE else None)
            session.add(f)
            facilities[f.name] = f
        for scode, sname, communities in streets:
            street = dcode + scode
            session.add(Jurisdiction(code=street, name=sname, parent_code=dcode))
            counts["jurisdictions"] += 1
            for i, cname in enumerate(communities, start=1):
                community = f"{street}{i:03d}"
                session.add(Jurisdiction(code=community, name=cname, parent_code=street))
                counts["jurisdictions"] += 1
                _populate(session, rng, community, dcode, cname, households_per_unit, used_ids, used_phones, counts)
    session.flush()
    _places(session)
    password_hash = hash_password(DEMO_PASSWORD)  # one password for every demo login: hash it once
    for demo in DEMO_USERS:
        facility = facilities.get(demo.facility) if demo.facility else None
        session.add(User(username=demo.username, display_name=demo.display_name,
                         password_hash=password_hash, jurisdiction_code=demo.code,
                         facility_id=facility.id if facility else None,
                         grants=[RoleGrant(role=demo.role, jurisdiction_code=demo.code)]))
        counts["users"] += 1
    session.flush()
    counts.update(_command_organisation(session))
    return counts


def _command_organisation(session: Session) -> dict[str, int]:
    """The command module's setup of the demo: headquarters, the standard task forces, two committees."""
    from fangkong.command import organisation

    return organisation.seed_demo(session, city=CITY[0], city_name=CITY[1],
                                  districts=[(code, name) for code, name, _ in DISTRICTS])


def _populate(session: Session, rng: random.Random, community: str, district: str, cname: str,
              households_per_unit: int, used_ids: set[str], used_phones: set[str], counts: dict[str, int]) -> None:
    base = cname.removesuffix("社区").removesuffix("村")
    for c in range(rng.randint(1, 2)):
        compound = Compound(name=("中盛玉龙湾" if base == "玉龙湾" and c == 0 else base + rng.choice(COMPOUND_WORDS)),
                            jurisdiction_code=community, address=f"{base}路{rng.randint(1, 300)}号")
        session.add(compound)
        for b in range(1, 3):
            building = Building(compound=compound, number=str(b), jurisdiction_code=community)
            session.add(building)
            for u in range(1, 3):
                unit = Unit(building=building, number=str(u), jurisdiction_code=community)
                session.add(unit)
                for h in range(households_per_unit):
                    door = f"{h // 2 + 1}0{h % 2 + 1}"
                    household = Household(unit=unit, door=door, jurisdiction_code=community)
                    session.add(household)
                    counts["households"] += 1
                    surname = rng.choice(SURNAMES)
                    for _ in range(rng.choice([1, 2, 2, 3, 3, 4])):
                        person = _person(rng, surname, district, community, used_ids, used_phones)
                        person.household = household
                        person.address = f"{compound.address} {b}栋{u}单元{door}室"
                        session.add(person)
                        counts["persons"] += 1


def _person(rng: random.Random, surname: str, district: str, community: str, used_ids: set[str],
            used_phones: set[str]) -> Person:
    name = surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
    # An older population, as in the outbreak the demo is modelled on.
    born = date(1935, 1, 1) + timedelta(days=rng.randint(0, 365 * 85))
    while True:
        seq = f"{rng.randint(0, 999):03d}"
        first17 = f"{district}{born:%Y%m%d}{seq}"
        number = first17 + identity.check_digit(first17)
        if number not in used_ids:
            used_ids.add(number)
            break
    phone: str | None = None
    if born.year > 1945 or rng.random() < 0.5:
        while phone is None or phone in used_phones:
            phone = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
        used_phones.add(phone)
    initials, full = identity.pinyin_keys(name)
    return Person(id_number=number, id_number_rev=number[::-1], name=name, name_initials=initials,
                  name_pinyin=full, phone=phone, phone_rev=phone[::-1] if phone else None,
                  sex=Sex.MALE if int(seq[-1]) % 2 else Sex.FEMALE, birth_date=born, jurisdiction_code=community)


def _places(session: Session) -> None:
    """A few venues of the kinds the tracing module will need."""
    for name, category, code in [
        ("西关蔬菜批发市场", PlaceCategory.MARKET, "220502001001"),
        ("东昌区欧亚超市", PlaceCategory.SUPERMARKET, "220502002001"),
        ("新站健康讲座会场", PlaceCategory.GATHERING_VENUE, "220502001002"),
        ("二道江区第一中学", PlaceCategory.SCHOOL, "220503001001"),
        ("通化市中心医院", PlaceCategory.HOSPITAL, "220502003001"),
        ("梅河口市公交3路", PlaceCategory.BUS_LINE, "220581001001"),
    ]:
        session.add(Place(name=name, category=category, venue_code=f"V{code}{len(name):02d}",
                          jurisdiction_code=code))
