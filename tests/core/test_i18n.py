"""The zh_CN catalog covers every string in the source tree, and the locale plumbing works."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from fangkong.core import i18n
from fangkong.core.errors import N_

ROOT = Path(__file__).resolve().parents[2]
# The same keywords as `pybabel extract -k N_` (N_ is among babel's defaults; named here to be explicit).
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
PLACEHOLDER = re.compile(r"\{(\w+)\}|%\((\w+)\)[sdifr]")


def source_messages() -> dict[tuple[str, str | None], list[str]]:
    """Every (msgid, context) in the source tree, found as ``pybabel extract`` finds it (babel.cfg),
    with where; a plural message is keyed by its singular, as in the catalog."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[tuple[str, str | None], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault((msgid, context), []).append(f"{filename}:{lineno}")
    return found


def zh_catalog() -> Catalog:
    """The zh_CN catalog as committed."""
    with i18n.po_path("zh_CN").open("rb") as fh:
        return read_po(fh, locale="zh_CN")


def placeholders(text: str) -> set[str]:
    """The named placeholders in ``text``, ``{x}`` and ``%(x)s`` alike, each kept with its style."""
    return {f"{{{brace}}}" if brace else f"%({percent})" for brace, percent in PLACEHOLDER.findall(text)}


@pytest.fixture
def restore_locale() -> Iterator[None]:
    """Put the locale back as it was, so that no other test runs in the one set here."""
    before = i18n.get_locale()
    yield
    i18n.set_locale(before)


def test_extraction_finds_the_strings_of_python_and_templates() -> None:
    found = source_messages()
    assert ("Please log in.", None) in found  # N_ in Python
    assert ("Page %(page)s of %(pages)s", None) in found  # _() with a placeholder in a template
    assert any(".html:" in where for where in found["Log in", None])


def test_every_source_string_has_a_chinese_translation() -> None:
    catalog = zh_catalog()
    missing = []
    for (msgid, context), where in sorted(source_messages().items(), key=lambda item: item[1][0]):
        message = catalog.get(msgid, context)
        if message is None or message.fuzzy or not message.string or not all(message.string):
            missing.append(f"{msgid!r}{f' [{context}]' if context else ''} ({where[0]})")
    assert not missing, "untranslated in zh_CN (see docs/i18n.md):\n" + "\n".join(missing)


def test_translations_keep_the_placeholders_of_their_msgid() -> None:
    wrong = []
    for message in zh_catalog():
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set().union(*(placeholders(i) for i in ids))
        wrong += [f"{message.id!r} -> {s!r}" for s in strings if placeholders(s) != expected]
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_the_catalog_passes_babels_format_checks() -> None:
    problems = [f"{message.id!r}: {errors}" for message, errors in zh_catalog().check()]
    assert not problems


def test_translate_speaks_chinese_under_zh_cn_and_english_under_en(restore_locale: None) -> None:
    taken = N_("The user name {name} is taken.")
    i18n.set_locale("zh_CN")
    assert i18n.translate(N_("Please log in.")) == "请先登录。"
    assert i18n.translate(taken, {"name": "zhang3"}) == "用户名 zhang3 已被占用。"
    i18n.set_locale("en")
    assert i18n.translate(N_("Please log in.")) == "Please log in."
    assert i18n.translate(taken, {"name": "zhang3"}) == "The user name zhang3 is taken."


def test_an_unknown_locale_falls_back_to_the_default(restore_locale: None) -> None:
    i18n.set_locale("fr")
    assert i18n.get_locale() == i18n.DEFAULT_LOCALE


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("en-US,en;q=0.9", "en"),
        ("en", "en"),
        ("zh-CN", "zh_CN"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("zh-TW", "zh_CN"),
        ("fr-FR,de;q=0.5,en;q=0.3", "en"),
    ],
)
def test_negotiate_picks_the_first_supported_language(header: str, locale: str) -> None:
    assert i18n.negotiate(header) == locale


@pytest.mark.parametrize("header", [None, "", "fr-FR", "ja,ko;q=0.5"])
def test_negotiate_falls_back_to_chinese(header: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    # create_app() may set the default from settings; the shipped default is Chinese.
    monkeypatch.setattr(i18n, "DEFAULT_LOCALE", "zh_CN")
    assert i18n.negotiate(header) == "zh_CN"


def test_negotiate_prefers_the_earlier_candidate() -> None:
    assert i18n.negotiate(None, "en", "zh-CN") == "en"
    assert i18n.negotiate("zh_CN", "en-US") == "zh_CN"
