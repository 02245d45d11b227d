"""Venues (places with a venue code, 场所码) and the response's facilities of one district.

Counts follow the population generated (a restaurant per 300 persons, a pharmacy per 2,500 …,
with a floor so that a small slice still has every kind), and each venue gets a capacity the
simulation can use as its size or pull:

- ``workplace``: employees; all workplaces of a district together employ about 70 % of its
  persons aged 20–59 and 15 % of those aged 60–64, in sizes with a heavy tail (a few large works,
  many small shops and offices);
- ``school`` and ``kindergarten``: pupils enrolled; the schools of one kind share exactly the
  district's persons of their age (kindergarten 3–5, primary 6–11, junior middle 12–14, senior
  high 15–17);
- every other kind: typical visitors a day, heavy-tailed, so that one wholesale market or big
  supermarket draws a large crowd.

Venues sit in a community, weighted by its population (some kinds only in town). The seat
district holds the city's large vegetable wholesale market (``Scenario.wholesale_market``) and
the city-wide hospitals and labs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fangkong.synth import schema
from fangkong.synth.divisions import DistrictPlan, stem
from fangkong.synth.names import BRANDS, words
from fangkong.synth.scenario import Scenario


@dataclass(frozen=True)
class VenueKind:
    """A kind of venue drawn in proportion to the population."""

    kind: str
    category: str  # one of schema.PLACE_CATEGORIES
    persons_per_venue: int
    minimum: int  # per district, whatever its size
    visits: float  # visits a day per person of the district, over all venues of this kind
    spread: float  # sigma of the log-normal popularity of one venue
    rural: float  # weight of a village relative to a town community of the same size


VENUE_KINDS: tuple[VenueKind, ...] = (
    VenueKind("farmers_market", "market", 25_000, 1, 0.03, 0.6, 0.3),
    VenueKind("hypermarket", "supermarket", 60_000, 1, 0.04, 0.4, 0.0),
    VenueKind("supermarket", "supermarket", 4_000, 1, 0.06, 0.7, 0.4),
    VenueKind("convenience_store", "supermarket", 1_500, 1, 0.12, 0.5, 0.8),
    VenueKind("restaurant", "restaurant", 300, 2, 0.15, 0.8, 0.5),
    VenueKind("general_hospital", "hospital", 100_000, 1, 0.006, 0.4, 0.0),
    VenueKind("clinic", "hospital", 5_000, 0, 0.004, 0.5, 0.8),
    VenueKind("pharmacy", "pharmacy", 2_500, 1, 0.025, 0.5, 0.5),
    VenueKind("bus_line", "bus", 25_000, 2, 0.10, 0.7, 0.2),
    VenueKind("health_product_hall", "gathering", 20_000, 2, 0.004, 0.5, 0.1),
    VenueKind("chess_room", "gathering", 6_000, 1, 0.01, 0.5, 0.6),
    VenueKind("bathhouse", "other", 15_000, 1, 0.01, 0.6, 0.2),
    VenueKind("hotel", "other", 8_000, 1, 0.004, 0.6, 0.1),
    VenueKind("bank", "other", 6_000, 1, 0.01, 0.5, 0.3),
    VenueKind("barber", "other", 2_000, 1, 0.02, 0.5, 0.7),
    VenueKind("gym", "other", 20_000, 0, 0.005, 0.6, 0.0),
    VenueKind("internet_cafe", "other", 25_000, 0, 0.004, 0.6, 0.1),
)
# Schools: (kind, category, ages enrolled, pupils per school).
SCHOOL_KINDS = (
    ("kindergarten", "kindergarten", (3, 5), 120),
    ("primary_school", "school", (6, 11), 450),
    ("junior_middle_school", "school", (12, 14), 900),
    ("senior_high_school", "school", (15, 17), 1500),
)
# Gathering venues where older people meet: the index case's sales gatherings are in such rooms.
OLDER_PEOPLE_GATHERINGS = ("activity_room", "health_product_hall", "chess_room")
EMPLOYED_20_59 = 0.70
EMPLOYED_60_64 = 0.15

_RESTAURANTS = words("饺子馆 烧烤店 火锅店 家常菜馆 冷面馆 酸菜馆 饭店 酒楼 面馆 包子铺 麻辣烫 铁锅炖 串店"
                     " 快餐店 砂锅居")
_PHARMACIES = words("老百姓大药房 益丰大药房 吉林大药房 康乐大药房 国药大药房 同仁堂药店 大参林药房 万和堂药房")
_BANKS = words("中国工商银行 中国农业银行 中国银行 中国建设银行 吉林银行 中国邮政储蓄银行 农村商业银行")
_INDUSTRIES = words(
    "商贸 建筑工程 物流 食品 药业 机械制造 装饰工程 汽车维修 物业管理 信息技术 餐饮管理 家政服务 印刷 服装 建材"
    " 农业科技 酒业 木业 矿业 运输 人参制品 葡萄酒 钢材 电力工程 房地产开发 保安服务 劳务派遣 广告 医疗器械 化工"
)
_COMPANY_SUFFIXES = ("有限公司", "有限公司", "有限责任公司", "厂", "中心", "经销处")
_HOTEL_SUFFIXES = ("酒店", "宾馆", "大酒店", "商务酒店", "快捷酒店")


@dataclass
class VenueRows:
    """Rows of places or facilities of one district, columns as lists."""

    kind: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    community: list[int] = field(default_factory=list)
    capacity: list[int | None] = field(default_factory=list)

    def add(self, kind: str, category: str, name: str, community: int, capacity: int | None) -> None:
        """Append one row."""
        self.kind.append(kind)
        self.category.append(category)
        self.name.append(name)
        self.community.append(community)
        self.capacity.append(capacity)


def draw_places(rng: np.random.Generator, scenario: Scenario, plan: DistrictPlan, community_persons: np.ndarray,
                age: np.ndarray) -> VenueRows:
    """The places of one district; ``age`` holds the ages of its persons."""
    rows = VenueRows()
    persons = int(community_persons.sum())
    naming = _Naming.of(scenario, plan)
    is_seat = plan.district.code == scenario.seat_district

    def where(n: int, rural: float) -> list[int]:
        w = community_persons * np.where(plan.is_village, rural, 1.0)
        if w.sum() == 0:
            w = community_persons.astype(float)
        return rng.choice(len(w), size=n, p=w / w.sum()).tolist()

    def pull(n: int, visits: float, spread: float) -> list[int]:
        w = rng.lognormal(0.0, spread, n)
        return np.maximum(1, np.rint(visits * persons * w / w.sum())).astype(np.int64).tolist()

    # The wholesale market of the district: the city's large one in the seat district, one in
    # each other district of 150,000 people or more.
    if is_seat or plan.district.population >= 150_000:
        seat_market = scenario.wholesale_market or f"{naming.city}蔬菜批发市场"
        name = seat_market if is_seat else f"{naming.short}农副产品批发市场"
        rows.add("wholesale_market", "market", name, where(1, 0.0)[0], pull(1, 0.05 if is_seat else 0.03, 0)[0])

    for vk in VENUE_KINDS:
        n = max(vk.minimum, round(persons / vk.persons_per_venue))
        if n == 0:
            continue
        for i, (c, cap) in enumerate(zip(where(n, vk.rural), pull(n, vk.visits, vk.spread), strict=True)):
            rows.add(vk.kind, vk.category, _venue_name(rng, vk.kind, i, plan.community_names[c], naming), c, cap)

    # A community health centre per street (a health centre, 卫生院, in towns) and an activity room per community.
    for s, street in enumerate(plan.street_names):
        c = int(np.flatnonzero(plan.community_street == s)[0])
        name = f"{stem(street)}社区卫生服务中心" if street.endswith("街道") else f"{street}卫生院"
        rows.add("health_centre", "hospital", name, c, pull(1, 0.003 / len(plan.street_names), 0)[0])
    caps = pull(len(plan.community_codes), 0.03, 0.4)
    for c, community in enumerate(plan.community_names):
        rows.add("activity_room", "gathering", f"{community}老年活动室", c, caps[c])

    # Schools and kindergartens share the district's children of their ages.
    for kind, category, (lo, hi), size in SCHOOL_KINDS:
        pupils = int(((age >= lo) & (age <= hi)).sum())
        n = max(1, round(pupils / size))
        w = rng.lognormal(0.0, 0.3, n)
        enrolled = _apportion(pupils, w)
        for i, c in enumerate(where(n, 0.3 if kind in ("kindergarten", "primary_school") else 0.05)):
            rows.add(kind, category, _school_name(kind, i, plan.community_names[c], naming), c, int(enrolled[i]))

    # Workplaces: heavy-tailed sizes that together employ the district's workers.
    workers = round(EMPLOYED_20_59 * ((age >= 20) & (age <= 59)).sum()
                    + EMPLOYED_60_64 * ((age >= 60) & (age <= 64)).sum())
    sizes = _workplace_sizes(rng, int(workers))
    for c, size in zip(where(len(sizes), 0.3), sizes.tolist(), strict=True):
        rows.add("workplace", "workplace", _company_name(rng, size, naming.company), c, size)
    return rows


def draw_facilities(rng: np.random.Generator, scenario: Scenario, plan: DistrictPlan,
                    community_persons: np.ndarray) -> VenueRows:
    """Labs, sampling sites, isolation hotels (capacity: rooms), hospitals (beds) and warehouses."""
    rows = VenueRows()
    persons = int(community_persons.sum())
    district = plan.district.name
    city = scenario.city[1]
    is_seat = plan.district.code == scenario.seat_district
    urban = np.flatnonzero(~plan.is_village)
    town = urban if len(urban) else np.arange(len(plan.community_codes))

    def somewhere() -> int:
        w = community_persons[town].astype(float)
        return int(town[rng.choice(len(town), p=w / w.sum())]) if w.sum() else int(town[0])

    hospitals = [f"{district}人民医院", *(city_hospitals(scenario) if is_seat else ())]
    for name in hospitals:
        rows.add("hospital", "hospital", name, somewhere(), max(20, round(persons * rng.uniform(0.001, 0.002))))
    labs = [f"{district}疾病预防控制中心实验室", f"{hospitals[0]}检验科实验室"]
    if is_seat:
        labs += [f"{city}疾病预防控制中心实验室", f"{BRANDS[rng.integers(len(BRANDS))]}医学检验实验室"]
    for name in labs:
        rows.add("lab", "lab", name, somewhere(), None)
    for c, community in enumerate(plan.community_names):
        extra = int(community_persons[c] // 3000)
        for k in range(1 + extra):
            rows.add("sampling_site", "sampling_site", f"{community}{'' if k == 0 else f'第{_cn(k + 1)}'}核酸采样点",
                     c, None)
    # Isolation hotels: rooms for about one person in 200.
    rooms_needed = max(40, round(persons * 0.005))
    brands = rng.permutation(len(BRANDS)).tolist()
    rooms = 0
    i = 0
    while rooms < rooms_needed:
        size = int(np.clip(rng.lognormal(np.log(110), 0.5), 30, 300))
        brand = BRANDS[brands[i % len(brands)]] + ("" if i < len(brands) else str(i // len(brands) + 1))
        rows.add("isolation_site", "isolation_site", f"{brand}{_HOTEL_SUFFIXES[i % len(_HOTEL_SUFFIXES)]}",
                 somewhere(), size)
        rooms += size
        i += 1
    rows.add("warehouse", "warehouse", f"{district}应急物资储备库", somewhere(), None)
    if persons >= 100_000 or is_seat:
        rows.add("warehouse", "warehouse", f"{district}生活物资保供仓库", somewhere(), None)
    return rows


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` adding up to ``total`` (largest remainder)."""
    exact = total * weights / weights.sum()
    out = np.floor(exact).astype(np.int64)
    out[np.argsort(-(exact - out), kind="stable")[: total - int(out.sum())]] += 1
    return out


def _workplace_sizes(rng: np.random.Generator, workers: int) -> np.ndarray:
    """Employees per workplace: Pareto (α 1.2, at least 3), capped, adding up to ``workers``."""
    if workers <= 0:
        return np.array([3])
    cap = min(5_000, max(30, workers // 30))
    sizes = np.minimum(np.floor(3 * rng.random(workers // 10 + 10) ** (-1 / 1.2)), cap).astype(np.int64)
    while sizes.sum() < workers:
        sizes = np.concatenate([sizes, np.minimum(np.floor(3 * rng.random(100) ** (-1 / 1.2)), cap).astype(np.int64)])
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, workers))
    sizes = sizes[: k + 1].copy()
    sizes[-1] = workers - (int(cum[k - 1]) if k else 0)
    if len(sizes) > 1 and sizes[-1] < 3:
        sizes[-2] += sizes[-1]
        sizes = sizes[:-1]
    return sizes


@dataclass(frozen=True)
class _Naming:
    """How venues of a district are named."""

    district: str  # 东昌区
    short: str  # 东昌, 梅河口, 通化县
    city: str  # 通化
    company: str  # prefix of company names: 通化, 梅河口
    bus: str  # 通化公交, 梅河口公交
    bus_offset: int  # line numbers of the district start after this
    school: str  # 通化市 (第一中学), 梅河口市 (第一中学)
    city_hospitals: tuple[str, ...]  # in the seat district: 通化市中心医院

    @classmethod
    def of(cls, scenario: Scenario, plan: DistrictPlan) -> _Naming:
        """The naming of a district's venues."""
        name = plan.district.name
        city = scenario.city[1].removesuffix("市")
        short = name[:-1] if name.endswith(("区", "市")) and len(name) > 2 else name
        # Districts (区) are the city proper: they share its buses, numbered by hundreds per district.
        proper = [d.code for d in scenario.districts if d.name.endswith("区")]
        in_city = plan.district.code in proper
        return cls(district=name, short=short, city=city, company=city if in_city else short,
                   bus=f"{city}公交" if in_city else f"{short}公交",
                   bus_offset=100 * proper.index(plan.district.code) if in_city else 0,
                   school=scenario.city[1] if plan.district.code == scenario.seat_district else name,
                   city_hospitals=city_hospitals(scenario)[:1] if plan.district.code == scenario.seat_district else ())


def city_hospitals(scenario: Scenario) -> tuple[str, str]:
    """The city's central hospital and its hospital for infectious diseases, in the seat district."""
    return f"{scenario.city[1]}中心医院", f"{scenario.city[1]}传染病医院"


def _cn(n: int) -> str:
    """1 → 一, 12 → 十二, 25 → 二十五 (for n below 100)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return f"{digits[tens] if tens > 1 else ''}十{digits[ones] if ones else ''}" if n < 100 else str(n)


def _venue_name(rng: np.random.Generator, kind: str, i: int, community: str, naming: _Naming) -> str:
    place = stem(community)
    brand = BRANDS[int(rng.integers(len(BRANDS)))]
    match kind:
        case "farmers_market":
            return f"{place}{'农贸市场' if i % 2 == 0 else '早市'}"
        case "hypermarket":
            return f"{brand}购物广场{place}店"
        case "supermarket":
            return f"{brand}超市{place}店"
        case "convenience_store":
            return f"{brand}便利店"
        case "restaurant":
            owner = "老" + "王李张刘陈杨赵孙于姜"[int(rng.integers(10))] if rng.random() < 0.4 else brand
            return f"{owner}{_RESTAURANTS[int(rng.integers(len(_RESTAURANTS)))]}"
        case "general_hospital":  # the first ones are also facilities (hospitals with beds)
            names = [*naming.city_hospitals, f"{naming.district}人民医院", f"{naming.district}中医院"]
            return names[i] if i < len(names) else f"{naming.district}第{_cn(i - len(names) + 2)}人民医院"
        case "clinic":
            return f"{place}社区诊所" if rng.random() < 0.5 else f"{brand}中医诊所"
        case "pharmacy":
            return f"{_PHARMACIES[int(rng.integers(len(_PHARMACIES)))]}{place}店"
        case "bus_line":
            return f"{naming.bus}{naming.bus_offset + i + 1}路"
        case "health_product_hall":
            return f"{brand}{('保健品体验馆', '健康养生会馆', '健康讲座会场')[i % 3]}"
        case "chess_room":
            return f"{place}棋牌室"
        case "bathhouse":
            return f"{brand}洗浴中心"
        case "hotel":
            return f"{brand}{_HOTEL_SUFFIXES[i % len(_HOTEL_SUFFIXES)]}"
        case "bank":
            return f"{_BANKS[int(rng.integers(len(_BANKS)))]}{place}支行"
        case "barber":
            return f"{brand}{'理发店' if i % 2 else '美发沙龙'}"
        case "gym":
            return f"{brand}健身中心"
        case "internet_cafe":
            return f"{brand}网吧"
    raise ValueError(f"no name for venue kind {kind}")


def _school_name(kind: str, i: int, community: str, naming: _Naming) -> str:
    place = stem(community)
    match kind:
        case "kindergarten":
            return f"{place}幼儿园" if i % 2 == 0 else f"{naming.district}第{_cn(i // 2 + 1)}幼儿园"
        case "primary_school":
            return f"{place}小学" if i % 2 == 0 else f"{naming.district}第{_cn(i // 2 + 1)}实验小学"
        case "junior_middle_school":
            return f"{naming.school}第{_cn(i + 1)}中学"
        case _:
            return f"{naming.school}第{_cn(i + 1)}高级中学"


def _company_name(rng: np.random.Generator, size: int, prefix: str) -> str:
    brand = BRANDS[int(rng.integers(len(BRANDS)))]
    industry = _INDUSTRIES[int(rng.integers(len(_INDUSTRIES)))]
    if size >= 500:
        return f"{prefix}{brand}{industry}集团有限公司"
    return f"{prefix}{brand}{industry}{_COMPANY_SUFFIXES[int(rng.integers(len(_COMPANY_SUFFIXES)))]}"


assert {vk.category for vk in VENUE_KINDS} | {c for _, c, _, _ in SCHOOL_KINDS} <= set(schema.PLACE_CATEGORIES)
