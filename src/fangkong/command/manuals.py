"""Operation manuals (操作手册): one per task force and one per role, 一册在手、随用随查.

**Storage.** The shipped manuals are Markdown files in the package, ``manuals/<key>.<language>.md``,
each with a TOML front matter between ``+++`` lines:

```
+++
title = "检测专班操作手册"
version = 1
task_force = "testing"            # or: role = "lab"
roles = ["testing_staff", "lab"]  # who it is written for
[pages]                           # the pages it explains: path prefix → section anchor
"/testing" = "rounds"
"/testing/rounds/*/untested" = "door-marks"
+++
```

Sections are the ``##`` headings; ``## Title {#anchor}`` gives a section its anchor (the pages table
points at anchors, so a reworded title keeps its links). The file is version 1. A commander
publishes a new version of the text (``manual_models.ManualVersion``) for their jurisdiction; the
newest version published at or above a reader's jurisdiction is shown to them, the file when there
is none. Title, roles and pages stay those of the file.

**Rendering.** Markdown through markdown-it in CommonMark mode with raw HTML off: a ``<script>`` in a
manual is shown as text, and links to ``javascript:`` are not made.

**The manual of a page.** ``page_section(path, roles)`` finds the section that explains a page from
the pages tables of every manual: the longest matching prefix, a manual written for one of the
reader's roles first; failing that the reader's role manual. The layout's "manual" link goes through
``/manuals/for?path=…``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangkong.command.manual_models import ManualVersion
from fangkong.command.manual_search import Hit, Index
from fangkong.command.manual_search import Section as SearchSection
from fangkong.command.organisation import STANDARD_TASK_FORCES
from fangkong.core import audit, idempotency
from fangkong.core.auth import Permission, Role
from fangkong.core.db import utcnow
from fangkong.core.errors import N_, Conflict, FieldError, Invalid, NotFound
from fangkong.core.i18n import LOCALES
from fangkong.core.scope import Principal, principal_of, system_access
from fangkong.geo.models import Jurisdiction

MANUAL_DIR = Path(__file__).resolve().parent / "manuals"
BASE_LANGUAGE = "zh_CN"  # every manual exists in Chinese; other languages fall back to it
MAX_TEXT = 60_000
MAX_NOTE = 300
_LEVELS = (2, 4, 6, 9, 12)  # lengths of the division codes: province, city, district, street, community
_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*(?:\{#([a-z0-9][a-z0-9-]*)\})?[ \t]*$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
_FRONT = re.compile(r"\A\+\+\+\n(.*?)\n\+\+\+\n", re.DOTALL)

_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


# ---------------------------------------------------------------------------------------------- texts


@dataclass(frozen=True)
class Section:
    """A ``##`` section of a manual: its anchor, its title and its Markdown body."""

    anchor: str
    title: str
    body: str

    @property
    def html(self) -> Markup:
        """The body as HTML (raw HTML in the text escaped)."""
        return render_markdown(self.body)


def render_markdown(text: str) -> Markup:
    """Markdown as safe HTML: no raw HTML passes, no script link is made."""
    return Markup(_markdown.render(text))


def split_sections(text: str) -> list[Section]:
    """The sections of ``text``: what precedes the first ``##`` heading (anchor ``""``), then each heading's."""
    headings = [m for m in _HEADING.finditer(text) if not _inside_fence(text, m.start())]
    found = []
    intro = text[: headings[0].start()] if headings else text
    if intro.strip():
        found.append(Section("", "", intro.strip()))
    used: set[str] = set()
    for n, match in enumerate(headings, start=1):
        end = headings[n].start() if n < len(headings) else len(text)
        anchor = match.group(2) or f"section-{n}"
        if anchor in used:  # a heading copied with its anchor: the first keeps it
            anchor = f"{anchor}-{n}"
        used.add(anchor)
        found.append(Section(anchor, match.group(1).strip(), text[match.end():end].strip()))
    return found


def _inside_fence(text: str, at: int) -> bool:
    return len(_FENCE.findall(text, 0, at)) % 2 == 1


@dataclass(frozen=True)
class ShippedManual:
    """A manual as the package ships it (version 1, or what its front matter says)."""

    key: str
    language: str
    title: str
    version: int
    task_force: str | None
    role: str | None
    roles: tuple[str, ...]
    pages: dict[str, str]
    text: str

    @property
    def sections(self) -> list[Section]:
        """The sections of the shipped text."""
        return split_sections(self.text)


def parse_manual(key: str, language: str, source: str) -> ShippedManual:
    """A shipped manual from its file's text; a malformed front matter is an error of the package."""
    match = _FRONT.match(source.replace("\r\n", "\n"))
    if match is None:
        raise ValueError(f"manual {key}.{language}: no +++ front matter")
    meta = tomllib.loads(match.group(1))
    return ShippedManual(key=key, language=language, title=str(meta["title"]), version=int(meta.get("version", 1)),
                         task_force=meta.get("task_force"), role=meta.get("role"),
                         roles=tuple(meta.get("roles", ())), pages=dict(meta.get("pages", {})),
                         text=source.replace("\r\n", "\n")[match.end():].strip() + "\n")


@cache
def catalogue() -> dict[tuple[str, str], ShippedManual]:
    """Every shipped manual, by (key, language)."""
    found = {}
    for path in sorted(MANUAL_DIR.glob("*.md")):
        key, _, language = path.stem.rpartition(".")
        if language not in LOCALES:
            raise ValueError(f"{path.name}: unknown language {language!r}")
        found[(key, language)] = parse_manual(key, language, path.read_text(encoding="utf-8"))
    return found


def _order(manual: ShippedManual) -> tuple[int, int]:
    forces, roles = list(STANDARD_TASK_FORCES), [r.value for r in Role]
    if manual.task_force in forces:
        return 0, forces.index(manual.task_force)
    if manual.role in roles:
        return 1, roles.index(manual.role)
    return 2, 0


def all_keys() -> list[str]:
    """The manuals' keys: the task forces' in the headquarters' order, then the roles' in the roles' order."""
    base = [m for (_, language), m in catalogue().items() if language == BASE_LANGUAGE]
    return [m.key for m in sorted(base, key=lambda m: (_order(m), m.key))]


def shipped(key: str, language: str = BASE_LANGUAGE) -> ShippedManual | None:
    """The shipped manual ``key`` in ``language``, if there is one."""
    return catalogue().get((key, language))


def role_manual(role: str) -> str | None:
    """The key of the manual written for ``role``."""
    for key in all_keys():
        manual = catalogue()[(key, BASE_LANGUAGE)]
        if manual.role == role:
            return key
    return None


# ----------------------------------------------------------------------------------- the page's manual


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _matches(prefix: str, path: str) -> int | None:
    """How many segments of ``path`` the pages entry ``prefix`` covers (``*`` is any one segment);
    ``"/"`` covers the overview only."""
    wanted, got = _segments(prefix), _segments(path)
    if not wanted:
        return 0 if not got else None
    if len(got) < len(wanted):
        return None
    if all(w == "*" or w == g for w, g in zip(wanted, got, strict=False)):
        return len(wanted)
    return None


def page_section(path: str, roles: Iterable[str]) -> tuple[str, str] | None:
    """(manual key, section anchor) explaining the page at ``path``, from the manuals' pages tables.

    The longest matching prefix wins; among equals, the manual of one of ``roles``, then a manual
    written for one of them, then the first in the manuals' order.
    """
    mine = set(roles)
    best: tuple[tuple[int, int, int], str, str] | None = None
    for order, key in enumerate(all_keys()):
        manual = catalogue()[(key, BASE_LANGUAGE)]
        for prefix, anchor in manual.pages.items():
            length = _matches(prefix, path)
            if length is None:
                continue
            # The reader's own role manual, then a manual written for one of their roles, then any.
            rank = (length, 2 if manual.role in mine else 1 if mine & set(manual.roles) else 0, -order)
            if best is None or rank > best[0]:
                best = (rank, key, anchor)
    return (best[1], best[2]) if best else None


def manual_href(path: str, roles: Iterable[str]) -> str:
    """Where the "manual" link of the page at ``path`` leads: its section, or the reader's role manual."""
    roles = list(roles)
    found = page_section(path, roles) if path.startswith("/") and not path.startswith("//") else None
    if found is not None:
        key, anchor = found
        return f"/manuals/{key}#{anchor}" if anchor else f"/manuals/{key}"
    order = [r.value for r in Role]
    for role in sorted(roles, key=lambda r: order.index(r) if r in order else len(order)):
        own = role_manual(role)
        if own is not None:
            return f"/manuals/{own}"
    return "/manuals"


# ------------------------------------------------------------------------------------------- versions


def _above(code: str) -> set[str]:
    return {code[:n] for n in _LEVELS if n <= len(code)}


def applies(principal: Principal) -> ColumnElement[bool]:
    """The filter on the versions that apply to ``principal``: published at or above one of the
    jurisdictions they work in."""
    if principal.is_system:
        return true()
    codes = {c for g in principal.grants for c in _above(g.jurisdiction_code)}
    return ManualVersion.jurisdiction_code.in_(sorted(codes))


def visible(principal: Principal) -> ColumnElement[bool]:
    """The versions ``principal`` may read: those that apply to them and those of the areas under them."""
    if principal.is_system:
        return true()
    inside = [ManualVersion.jurisdiction_code.startswith(g.jurisdiction_code, autoescape=True)
              for g in principal.grants]
    return or_(applies(principal), *inside)


@dataclass(frozen=True)
class Shown:
    """A version of a manual as a page shows it."""

    key: str
    language: str
    title: str
    number: int
    text: str
    is_shipped: bool
    author: str | None = None
    at: datetime | None = None
    note: str = ""
    jurisdiction_code: str | None = None
    task_force: str | None = None  # the manual is the task force's (its key) …
    role: str | None = None  # … or the role's
    fallback: bool = False  # shown in Chinese: the reader's language has no version of it
    sections: list[Section] = field(default_factory=list)

    @property
    def contents(self) -> list[Section]:
        """The sections that have a title, for the table of contents."""
        return [s for s in self.sections if s.title]


def _from_version(manual: ShippedManual, version: ManualVersion, *, fallback: bool = False) -> Shown:
    return Shown(key=manual.key, language=version.language, title=manual.title, number=version.number,
                 text=version.text, is_shipped=False, author=version.author_name, at=version.created_at,
                 note=version.note, jurisdiction_code=version.jurisdiction_code, task_force=manual.task_force,
                 role=manual.role, fallback=fallback,
                 sections=split_sections(version.text))


def _from_file(manual: ShippedManual, *, fallback: bool = False) -> Shown:
    return Shown(key=manual.key, language=manual.language, title=manual.title, number=manual.version,
                 text=manual.text, is_shipped=True, task_force=manual.task_force, role=manual.role,
                 fallback=fallback, sections=manual.sections)


def _known(key: str) -> ShippedManual:
    manual = shipped(key)
    if manual is None:
        raise NotFound(N_("No such manual."))
    return manual


def _languages(language: str) -> list[str]:
    return [language] if language == BASE_LANGUAGE else [language, BASE_LANGUAGE]


def newest(session: Session, key: str, language: str) -> ManualVersion | None:
    """The newest version of ``key`` in ``language`` that applies to the session's principal."""
    return session.execute(select(ManualVersion).where(
        ManualVersion.manual_key == key, ManualVersion.language == language, applies(principal_of(session)))
        .order_by(ManualVersion.number.desc()).limit(1)).scalar_one_or_none()


def current(session: Session, key: str, language: str) -> Shown:
    """The version of manual ``key`` to show the session's principal in ``language`` (Chinese failing that)."""
    _known(key)
    for n, lang in enumerate(_languages(language)):
        manual = shipped(key, lang) or _known(key)
        version = newest(session, key, lang)
        if version is not None:
            return _from_version(manual, version, fallback=n > 0)
        if shipped(key, lang) is not None:
            return _from_file(manual, fallback=n > 0)
    raise NotFound(N_("No such manual."))  # pragma: no cover - the base language always exists


def every_current(session: Session, language: str) -> list[Shown]:
    """The version of every manual to show the principal, in the manuals' order (one query)."""
    newest_of: dict[tuple[str, str], ManualVersion] = {}
    for version in session.execute(select(ManualVersion).where(
            ManualVersion.language.in_(_languages(language)), applies(principal_of(session)))
            .order_by(ManualVersion.number)).scalars():
        newest_of[(version.manual_key, version.language)] = version
    shown = []
    for key in all_keys():
        for n, lang in enumerate(_languages(language)):
            manual = shipped(key, lang) or _known(key)
            if (key, lang) in newest_of:
                shown.append(_from_version(manual, newest_of[(key, lang)], fallback=n > 0))
                break
            if shipped(key, lang) is not None:
                shown.append(_from_file(manual, fallback=n > 0))
                break
    return shown


def history(session: Session, key: str, language: str) -> list[Shown]:
    """Every version of ``key`` in ``language`` the principal may read, newest first, the shipped one last."""
    _known(key)
    manual = shipped(key, language) or _known(key)
    found = [_from_version(manual, v) for v in session.execute(select(ManualVersion).where(
        ManualVersion.manual_key == key, ManualVersion.language == language, visible(principal_of(session)))
        .order_by(ManualVersion.number.desc())).scalars()]
    if shipped(key, language) is not None:
        found.append(_from_file(manual))
    return found


def version(session: Session, key: str, language: str, number: int) -> Shown:
    """Version ``number`` of ``key`` in ``language``; one published outside the principal's reach is
    missing to them (and the attempt audited)."""
    manual = shipped(key, language)
    if manual is not None and number == manual.version:
        return _from_file(manual)
    _known(key)
    where = (ManualVersion.manual_key == key, ManualVersion.language == language, ManualVersion.number == number)
    found = session.execute(select(ManualVersion).where(*where, visible(principal_of(session)))).scalar_one_or_none()
    if found is None:
        with system_access(session):
            hidden = session.execute(select(ManualVersion).where(*where)).scalar_one_or_none()
        if hidden is not None:
            audit.record(session, audit.Action.ACCESS_DENIED, entity=hidden, detail={"reason": "outside scope"},
                         survive_rollback=True)
        raise NotFound(N_("No such version of this manual."))
    return _from_version(manual or _known(key), found)


def publishable_codes(principal: Principal) -> list[str]:
    """The jurisdictions ``principal`` may publish a version for (where they hold ``directives:write``)."""
    prefixes = principal.prefixes(Permission.DIRECTIVES_WRITE)
    return [] if prefixes is None else list(prefixes)


def publish(session: Session, key: str, *, language: str, text: str, note: str = "", jurisdiction_code: str,
            author_name: str | None = None, request_key: str | None = None) -> ManualVersion:
    """Publish a new version of manual ``key`` for ``jurisdiction_code`` and everything under it.

    Needs ``directives:write`` over that jurisdiction. A retried form (the same ``request_key``) returns
    the version it published. Every earlier version is kept.
    """
    principal = principal_of(session)
    principal.require(Permission.DIRECTIVES_WRITE)
    _known(key)
    earlier = idempotency.recall(session, request_key, "manual_versions")
    if earlier is not None:
        return session.get_one(ManualVersion, int(earlier))
    text = text.replace("\r\n", "\n").strip()
    note = note.strip()
    errors = []
    if language not in LOCALES:
        errors.append(FieldError("language", N_("This value is not one of the allowed choices.")))
    if not text:
        errors.append(FieldError("manual_text", N_("This field is required.")))
    elif len(text) > MAX_TEXT:
        errors.append(FieldError("manual_text", N_("The text is longer than {limit} characters."), {"limit": MAX_TEXT}))
    if len(note) > MAX_NOTE:
        errors.append(FieldError("change_note", N_("This field is too long.")))
    code = jurisdiction_code.strip()
    if not principal.can(Permission.DIRECTIVES_WRITE, code or "-"):
        errors.append(FieldError("jurisdiction_code", N_("You may publish only for your own jurisdiction.")))
    else:
        with system_access(session):
            exists = session.execute(select(Jurisdiction.code).where(Jurisdiction.code == code)).first()
        if exists is None:
            errors.append(FieldError("jurisdiction_code", N_("No such jurisdiction.")))
    if not errors and language in LOCALES and text == current_for(session, key, language, code).text.strip():
        errors.append(FieldError("manual_text",
                                 N_("The text is the same as the version in force; nothing to publish.")))
    if errors:
        raise Invalid(N_("Please correct the marked fields."), errors=errors)
    with system_access(session):  # numbers count every version, wherever it applies
        top = session.execute(select(func.max(ManualVersion.number)).where(
            ManualVersion.manual_key == key, ManualVersion.language == language)).scalar_one()
    manual = shipped(key, language)
    number = max(top or 0, manual.version if manual else 0) + 1
    made = ManualVersion(manual_key=key, language=language, number=number, text=text + "\n", note=note,
                         author_id=principal.user_id, author_name=(author_name or principal.username)[:80],
                         created_at=utcnow(), jurisdiction_code=code)
    try:
        with session.begin_nested():
            session.add(made)
            session.flush()
    except IntegrityError:
        raise Conflict(N_("Another version was published at the same moment. Reload the page and try again.")) from None
    idempotency.remember(session, request_key, "manual_versions", made.id)
    return made


def current_for(session: Session, key: str, language: str, code: str) -> Shown:
    """The version in force at ``code`` (what a reader working there sees)."""
    with system_access(session):
        version = session.execute(select(ManualVersion).where(
            ManualVersion.manual_key == key, ManualVersion.language == language,
            ManualVersion.jurisdiction_code.in_(sorted(_above(code)))).order_by(ManualVersion.number.desc())
            .limit(1)).scalar_one_or_none()
    manual = shipped(key, language) or _known(key)
    if version is not None:
        return _from_version(manual, version)
    return _from_file(manual) if shipped(key, language) else Shown(key, language, manual.title, 0, "", False)


# --------------------------------------------------------------------------------------------- search


def search(session: Session, query: str, language: str, *, limit: int = 30) -> list[Hit]:
    """The sections of the manuals the principal reads that match ``query``, best first."""
    sections = [SearchSection(m.key, m.title, s.anchor, s.title or m.title, s.body)
                for m in every_current(session, language) for s in m.sections]
    return Index(sections).search(query, limit=limit)
