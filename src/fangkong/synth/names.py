"""Chinese names for synthetic persons, communities, compounds and venues, drawn in bulk.

Surnames follow the national household-register frequencies (王 7.1 %, 李 7.0 %, 张 6.7 % …), with
the surnames that are commoner in the north-east (于, 孙, 姜, 赵, 曲 …) weighted up. Given names
depend on sex and on the birth cohort: a woman born in 1945 is 淑珍 or 桂兰, one born in 2010 is
梓涵 or 欣怡. Person names are built as Arrow string arrays without a Python loop per person.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# (surname, per mille of the population): national register figures, north-eastern ones raised.
_SURNAME_WEIGHTS = (
    ("王", 71.2), ("李", 70.0), ("张", 67.4), ("刘", 55.0), ("陈", 40.0), ("杨", 32.2), ("赵", 28.0),
    ("黄", 18.0), ("周", 17.5), ("吴", 16.0), ("徐", 15.5), ("孙", 22.0), ("马", 13.5), ("朱", 11.5),
    ("胡", 10.5), ("郭", 12.0), ("何", 8.0), ("林", 8.5), ("高", 13.0), ("罗", 7.0), ("郑", 7.5),
    ("梁", 8.0), ("谢", 6.0), ("宋", 9.5), ("唐", 6.0), ("许", 6.0), ("韩", 8.5), ("冯", 6.4),
    ("邓", 5.0), ("曹", 6.2), ("彭", 4.5), ("曾", 3.5), ("肖", 5.0), ("田", 6.5), ("董", 6.8),
    ("袁", 4.8), ("潘", 4.5), ("于", 11.0), ("蒋", 4.0), ("蔡", 3.8), ("余", 3.0), ("杜", 5.0),
    ("叶", 3.8), ("程", 4.5), ("苏", 4.4), ("魏", 5.0), ("吕", 5.0), ("丁", 4.5), ("任", 4.6),
    ("沈", 3.6), ("姚", 3.6), ("卢", 3.5), ("姜", 8.0), ("崔", 5.5), ("钟", 2.5), ("谭", 2.6),
    ("陆", 2.8), ("汪", 2.4), ("范", 3.6), ("金", 4.5), ("石", 3.4), ("廖", 1.8), ("贾", 3.4),
    ("夏", 2.8), ("付", 3.4), ("方", 2.8), ("白", 3.2), ("邹", 3.0), ("孟", 4.2), ("熊", 2.0),
    ("秦", 2.7), ("邱", 2.4), ("江", 2.3), ("尹", 2.6), ("薛", 2.5), ("闫", 2.8), ("段", 2.4),
    ("雷", 2.0), ("侯", 2.6), ("龙", 1.6), ("史", 2.4), ("陶", 1.9), ("贺", 2.0), ("顾", 1.8),
    ("毛", 1.9), ("郝", 2.6), ("邵", 1.9), ("万", 1.7), ("钱", 1.5), ("严", 1.5), ("武", 2.0),
    ("戴", 1.5), ("孔", 1.6), ("汤", 1.3), ("曲", 3.0), ("隋", 1.2), ("宫", 1.2), ("谷", 1.4),
    ("齐", 1.8), ("柴", 1.0), ("滕", 1.0), ("姬", 0.5), ("鞠", 0.8), ("衣", 0.5), ("欧阳", 0.4),
    ("司马", 0.1), ("上官", 0.1), ("诸葛", 0.1),
)
SURNAMES = pa.array([s for s, _ in _SURNAME_WEIGHTS])
_SURNAME_P = np.array([w for _, w in _SURNAME_WEIGHTS]) / sum(w for _, w in _SURNAME_WEIGHTS)

# Given-name characters by cohort (born before 1956, 1956–75, 1976–95, from 1996) and sex:
# (first characters of two-character names, second characters, share of one-character names).
_COHORT_BOUNDS = np.array([1956, 1976, 1996])
_GIVEN: dict[tuple[int, bool], tuple[str, str, float]] = {
    (0, True): ("国建振德明文志玉福永长宝树庆万俊凤洪春殿连克景广金成世学立宪",
                "华林山生才祥发贵荣义忠田武财海清江友堂奎新喜和民全富仁斌昌", 0.25),
    (0, False): ("淑秀玉桂凤素春金翠兰丽俊月彩冬宝亚爱玉淑桂秀",
                 "珍兰英芝华琴芬荣云霞梅香莲娥清花凤贤杰琴荣芝", 0.2),
    (1, True): ("建国志立文永振宏海德卫红军晓光爱长春跃东新忠学", "军华平民国明伟强刚东斌林波勇峰杰涛山红生江", 0.35),
    (1, False): ("丽秀艳桂玉淑红春晓海凤亚美彩雅晓丽秀", "华红梅霞艳萍英芳丽玲杰敏娟燕琴云", 0.3),
    (2, True): ("海志建晓文俊明宏国伟鹏永立春大东子天浩宝", "伟磊强军勇鹏涛明超刚杰峰亮辉龙飞波宇东斌", 0.3),
    (2, False): ("丽晓海艳秀春玉雪静红佳美文婷慧晶", "丽娜静敏燕艳红丹梅霞婷颖莉琳洁娟", 0.3),
    (3, True): ("子梓浩宇俊博晨思一铭皓嘉天沐家奕泽睿雨承", "轩涵宇豪阳辰睿泽博杰然航铭琪恒哲凯晨熙", 0.12),
    (3, False): ("子梓欣诗雨思佳一可紫语梦雅若依心静安嘉美", "涵怡萱琪彤琳妍悦瑶雯菲汐蕊婷宁然馨诺颖", 0.12),
}


def draw_surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` surname indices (into ``SURNAMES``) drawn by their frequencies."""
    return rng.choice(len(_SURNAME_P), size=n, p=_SURNAME_P).astype(np.int32)


def person_names(rng: np.random.Generator, surname: np.ndarray, is_male: np.ndarray,
                 birth_year: np.ndarray) -> pa.StringArray:
    """Full names: the surname, then one or two given-name characters fitting sex and cohort."""
    n = len(surname)
    cohort = np.searchsorted(_COHORT_BOUNDS, birth_year, side="right")
    first = np.empty(n, dtype=np.int32)
    second = np.empty(n, dtype=np.int32)
    # All characters of all pools in one array; each pool is a slice of it.
    chars: list[str] = []
    for (c, male), (firsts, seconds, single_share) in sorted(_GIVEN.items()):
        rows = np.flatnonzero((cohort == c) & (is_male == male))
        f0 = len(chars)
        chars.extend(firsts)
        s0 = len(chars)
        chars.extend(seconds)
        first[rows] = f0 + rng.integers(0, len(firsts), size=len(rows))
        second[rows] = s0 + rng.integers(0, len(seconds), size=len(rows))
        single = rows[rng.random(len(rows)) < single_share]
        first[single] = -1  # a one-character given name: the second character only
    pool = pa.array([*chars, ""])
    first[first < 0] = len(chars)
    return pc.binary_join_element_wise(SURNAMES.take(surname), pool.take(first), pool.take(second), "")




def words(text: str) -> tuple[str, ...]:
    """The space-separated words of ``text``."""
    return tuple(text.split())


# Words for the names of communities (社区), villages (村), compounds (小区), roads and venues.
COMMUNITY_WORDS = words(
    "建设 胜利 光明 向阳 新华 和平 民主 团结 东风 幸福 跃进 红旗 铁路 站前 江南 江北 滨江 玉龙湾 龙泉 金山 东岭 西岭"
    " 南岭 北山 东升 朝阳 兴华 永安 康宁 福民 惠民 春晖 振兴 复兴 长青 松园 丽园 站北 河东 河西 桥东 桥西 钢城 新兴"
    " 中和 文化 解放 前进 民生 繁荣 新站 老站 东城 西城 山城 江东 江沿 北岸 南岸 东关 西关 南关 北关 青年 育才 工农"
    " 东盛 永兴 兴隆 太平 长兴 富民 安康 新民 新风 友谊 联合 光华 华山 靖宇 东方 利民 安居 和谐 宏伟 新城"
    " 阳光 丽景 绿洲 金桥 翠湖 明珠 锦江 通江 桃园 杏林 春华 松花 长白 钢铁 电厂 龙湾 中心 园林 医药"
)
VILLAGE_WORDS = tuple(
    f"{a}{b}" for a in ("头道", "二道", "三道", "四道", "五道", "大", "小", "东", "西", "南", "北", "前", "后", "新")
    for b in ("沟", "岔", "岭", "河", "甸子", "营", "堡", "屯", "店", "台", "泉", "川", "岗")
) + words("红星 胜利 太平 永安 兴隆 富强 和平 光明 东升 前进 新立 兴安 永胜 长安 红光 向阳 新农 民主 团结 丰收")
COMPOUND_WORDS = words(
    "阳光 锦绣 华府 江南 滨江 金都 龙泉 幸福 和平 建设 铁路 新华 胜利 光明 兴华 御景 鑫城 翰林 绿洲 康乐 佳和 盛世"
    " 丽景 碧水 北岸 南山 东风 振兴 红旗 玉龙湾 中盛 恒泰 万福 金色 龙腾 凤凰 瑞丰 天润 嘉禾 紫荆 银河 春江 怡景"
    " 山水 书香 君悦 金河 东方 明珠 润泽 富源 泰和 江畔 鹏程 鸿运 福泽 颐和 祥和 百合 安居 领秀 学府 医药 钢城"
)
COMPOUND_SUFFIXES = words("花园 家园 小区 新村 佳苑 名邸 嘉园 雅居 华庭 公馆 城 苑 府 丽都")
ROADS = words(
    "新华大街 建设大街 江南大街 中华路 龙泉街 滨江东路 滨江西路 团结路 光明路 民主路 新站路 老站街 胜利路 文化路"
    " 东安路 靖宇路 青年路 江沿街 站前路 朝阳路 人民路 解放路 和平路 兴华路 振兴街 通江路 钢城路 江北街 育才路"
)
BRANDS = words(
    "鑫盛 宏达 华源 金泰 永兴 恒通 盛隆 佳禾 瑞祥 天成 百顺 隆昌 广源 富华 昌盛 东升 北方 长白山 通达 兴业 宏远"
    " 嘉兴 万通 泰丰 福瑞 新世纪 金鼎 同心 诚信 国泰 顺达 众鑫 利民 安达 鼎盛 华美 大成 旭日 山水 康源"
)


def pick_unique(rng: np.random.Generator, words: tuple[str, ...] | list[str], n: int, suffix: str) -> list[str]:
    """``n`` distinct names ``word + suffix``; once the words run out, ``word + 二/三… + suffix``."""
    order = rng.permutation(len(words))
    out: list[str] = []
    numerals = "一二三四五六七八九十"
    for i in range(n):
        word = words[order[i % len(words)]]
        round_ = i // len(words)
        mark = "" if round_ == 0 else numerals[round_] if round_ < len(numerals) else str(round_ + 1)
        out.append(f"{word}{mark}{suffix}")
    return out


def text(*parts: pa.Array | str) -> pa.StringArray:
    """Element-wise concatenation of string arrays and constant strings."""
    return pc.binary_join_element_wise(*parts, "")


def numbers(values: np.ndarray, width: int = 0) -> pa.StringArray:
    """Integers as decimal strings, left-padded with zeros to ``width``."""
    out = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(out, width, "0") if width else out
