"""Search in the operation manuals, in Chinese and English, with no session and no database.

Chinese is written without spaces, so words cannot be split on them: every run of CJK characters is
indexed as its characters and its character bigrams (核酸检测 → 核, 酸, 检, 测, 核酸, 酸检, 检测), and a
query's CJK run as its bigrams (one character alone as itself). A query 核酸 thus finds 核酸检测. Latin
text is indexed as lower-cased words, and a query word also matches words it begins (upload → uploads).
A section matches when it holds every term of the query — in its title, its text or the title of its
manual (核酸 上传 finds the upload section of the testing manual); it ranks by where and how often the
terms occur (the section's title counts most, the manual's least) and whether the query occurs there as
written.

The manuals are a few hundred sections: the index is built in memory over the versions a reader sees.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

# CJK unified ideographs (with extension A and the compatibility block), and Latin words with digits.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[0-9a-z]+(?:[._'’-][0-9a-z]+)*", re.IGNORECASE)
_IS_CJK = re.compile(rf"[{_CJK}]")
# Markdown markup that should not be searched or shown in a snippet.
_MARKUP = re.compile(r"(^|\n)\s{0,3}(#{1,6}|[-*+]|\d+[.)]|>)\s+|[*_`|]+|:?-{3,}:?|!?\[([^\]]*)\]\([^)]*\)")

TITLE_WEIGHT = 3  # a term in the section's title counts this many times one in its text
MANUAL_WEIGHT = 0.5  # a term only in the manual's title
PHRASE_IN_TITLE = 10  # bonus when the whole query occurs as written in the title
PHRASE_IN_TEXT = 4  # … or in the text
SNIPPET_CHARS = 90


def plain(markdown: str) -> str:
    """The text of ``markdown`` without its markup (headings, list marks, emphasis, link targets)."""
    return re.sub(r"[ \t]+", " ", _MARKUP.sub(lambda m: (m.group(1) or "") + (m.group(3) or ""), markdown)).strip()


def _cjk_terms(run: str, *, for_index: bool) -> list[str]:
    bigrams = [run[i:i + 2] for i in range(len(run) - 1)]
    if for_index:
        return list(run) + bigrams
    return bigrams or [run]


def index_terms(text: str) -> list[str]:
    """The terms ``text`` is indexed under (with repeats, for counting)."""
    terms: list[str] = []
    for match in _TOKEN.finditer(text.casefold()):
        token = match.group()
        terms.extend(_cjk_terms(token, for_index=True) if _IS_CJK.match(token) else [token])
    return terms


def query_terms(query: str) -> list[str]:
    """The distinct terms a section must hold to match ``query``."""
    terms: list[str] = []
    for match in _TOKEN.finditer(query.casefold()):
        token = match.group()
        for term in _cjk_terms(token, for_index=False) if _IS_CJK.match(token) else [token]:
            if term not in terms:
                terms.append(term)
    return terms


@dataclass(frozen=True)
class Section:
    """One section of a manual, as the index sees it."""

    manual_key: str
    manual_title: str
    anchor: str
    title: str
    text: str  # Markdown


@dataclass(frozen=True)
class Hit:
    """A section that matched, its score and a snippet as (text, is highlighted) pieces."""

    section: Section
    score: float
    snippet: list[tuple[str, bool]]
    title: list[tuple[str, bool]]


@dataclass
class _Entry:
    section: Section
    plain: str
    title_terms: Counter[str] = field(default_factory=Counter)
    text_terms: Counter[str] = field(default_factory=Counter)
    manual_terms: Counter[str] = field(default_factory=Counter)


class Index:
    """An in-memory index of sections."""

    def __init__(self, sections: Iterable[Section]) -> None:
        self._entries = []
        for section in sections:
            text = plain(section.text)
            self._entries.append(_Entry(section, text, Counter(index_terms(section.title)),
                                        Counter(index_terms(text)), Counter(index_terms(section.manual_title))))

    def __len__(self) -> int:
        return len(self._entries)

    def search(self, query: str, *, limit: int = 30) -> list[Hit]:
        """The sections holding every term of ``query``, best first (ties keep the manuals' order)."""
        terms = query_terms(query)
        if not terms:
            return []
        phrase = " ".join(query.split()).casefold()
        scored = []
        for order, entry in enumerate(self._entries):
            score = 0.0
            for term in terms:
                in_title, in_text = _count(entry.title_terms, term), _count(entry.text_terms, term)
                in_manual = _count(entry.manual_terms, term)
                if not (in_title or in_text or in_manual):
                    break
                # A term found many times adds less each time: one long section should not win on length.
                score += TITLE_WEIGHT * min(in_title, 3) + min(in_text, 8) ** 0.5 + (MANUAL_WEIGHT if in_manual else 0)
            else:
                if phrase in entry.section.title.casefold():
                    score += PHRASE_IN_TITLE
                elif phrase in entry.plain.casefold():
                    score += PHRASE_IN_TEXT
                scored.append((-score, order, entry))
        scored.sort(key=lambda s: (s[0], s[1]))
        return [Hit(e.section, -neg, snippet(e.plain, query), highlight(e.section.title, query))
                for neg, _, e in scored[:limit]]


def _count(counter: Counter[str], term: str) -> int:
    if term in counter or _IS_CJK.match(term) or len(term) < 3:
        return counter.get(term, 0)
    return sum(n for word, n in counter.items() if word.startswith(term))  # a Latin word begun


def _needles(query: str) -> list[str]:
    """What to highlight: the query's words and CJK runs as written, then the CJK runs' bigrams."""
    tokens = [m.group().casefold() for m in _TOKEN.finditer(query)]
    bigrams = [t for token in tokens if _IS_CJK.match(token) and len(token) > 2
               for t in _cjk_terms(token, for_index=False)]
    phrase = " ".join(query.split()).casefold()
    return sorted({phrase, *tokens, *bigrams} - {""}, key=len, reverse=True)


def _spans(text: str, query: str) -> list[tuple[int, int]]:
    """Where in ``text`` the query's words and runs occur (non-overlapping, longest first)."""
    folded = text.casefold()
    taken = [False] * len(text)
    spans = []
    for needle in _needles(query):
        start = folded.find(needle)
        while start >= 0:
            end = start + len(needle)
            if not any(taken[start:end]):
                spans.append((start, end))
                taken[start:end] = [True] * (end - start)
            start = folded.find(needle, end)
    return sorted(spans)


def highlight(text: str, query: str) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is a match of the query) pieces."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in _spans(text, query):
        if start > at:
            pieces.append((text[at:start], False))
        pieces.append((text[start:end], True))
        at = end
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


def snippet(text: str, query: str, width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """About ``width`` characters of ``text`` around the first match, highlighted."""
    spans = _spans(text, query)
    first = spans[0][0] if spans else 0
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    piece = text[start:end].replace("\n", " ")
    cut = highlight(piece, query)
    if start > 0:
        cut.insert(0, ("…", False))
    if end < len(text):
        cut.append(("…", False))
    return cut
