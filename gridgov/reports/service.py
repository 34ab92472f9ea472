"""Fill a report for a user: who may fill which area, the shipped templates, the fill itself."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path

from sqlalchemy.orm import Session

from gridgov.boundaries.levels import Level
from gridgov.errors import FieldError, OutOfScope
from gridgov.forms.indicators import load_indicators
from gridgov.register.access import AGGREGATES, PEOPLE, Reach, Reader, Where, may_read, reach_of
from gridgov.register.protect import RegisterKeys
from gridgov.register.reading import reader_of
from gridgov.register.vocabulary import load_tags, tags_file
from gridgov.reports.fill import FillContext, Progress, fill_template
from gridgov.reports.indicators import Vocabulary, find_place, month_period
from gridgov.reports.rosters import RosterReader, reason_for
from gridgov.reports.sources import Place
from gridgov.users.models import User
from gridgov.users.roles import Action, Actor, Target, allowed
from gridgov.users.scope import codes_above

TEMPLATE_SUFFIX = ".xlsx"


@cache
def _vocabulary(path: Path, mtime: float) -> Vocabulary:
    return Vocabulary(load_indicators(path))


def vocabulary(geodata_dir: Path) -> Vocabulary:
    """The shipped (or the city's own) indicator vocabulary, read again when it changes."""
    path = geodata_dir / "indicators.csv"
    return _vocabulary(path, path.stat().st_mtime)


def templates_dir(geodata_dir: Path) -> Path:
    return geodata_dir / "reports" / "templates"


def shipped_templates(geodata_dir: Path) -> list[str]:
    """The names of the templates shipped in geodata/reports/templates, sorted."""
    folder = templates_dir(geodata_dir)
    return sorted(p.name for p in folder.glob(f"*{TEMPLATE_SUFFIX}") if not p.name.startswith("~"))


def shipped_template(geodata_dir: Path, name: str) -> bytes:
    """One shipped template's bytes; 422 naming ``template_name`` when there is none."""
    if name not in shipped_templates(geodata_dir):
        raise FieldError("template_name", "reports.unknown_template", name=name)
    return (templates_dir(geodata_dir) / name).read_bytes()


def place_target(session: Session, place: Place) -> Target:
    """The place as the permission table sees it: its chain of areas (and grid)."""
    if place.level is Level.GRID:
        above = codes_above(session, code=place.communities[0]) if place.communities else set()
        return Target(area_codes=frozenset(above) | {place.code}, grid_code=place.code)
    return Target(area_codes=codes_above(session, code=place.code))


def place_where(session: Session, place: Place) -> Where:
    """The place as the register's read table sees it."""
    target = place_target(session, place)
    return Where(target.grid_code, frozenset(target.area_codes))


def may_fill(session: Session, actor: Actor, reader: Reader, place: Place) -> bool:
    """Whether ``actor`` may fill a form for ``place``: the place is in their scope, or the
    register's read table lets them read its aggregates (a civil-affairs handler, whose
    incidents scope is their department's, fills forms for the area it serves)."""
    target = place_target(session, place)
    where = Where(target.grid_code, frozenset(target.area_codes))
    return allowed(actor, Action.READ, target) or may_read(reader, AGGREGATES, where)


def may_see_people(reader: Reader, where: Where) -> bool:
    """Whether small counts of people at ``where`` may be shown to ``reader`` unsuppressed:
    the register's read table lets them read everyone there by name (a grid head their own
    grid, public security its area); a reach by tag (civil affairs) sees tagged people only,
    so its counts of everyone stay suppressed, as do the counts-only roles'."""
    reach = reach_of(reader, PEOPLE)
    return reach is not None and reach is not Reach.TAGGED and may_read(reader, PEOPLE, where)


def reader_of_user(session: Session, user_id: int) -> Reader:
    """The user as the register's read table sees them."""
    user = session.get(User, user_id)
    if user is None:  # the caller's account was checked before: this is a bug
        raise LookupError(f"no user {user_id}")
    return reader_of(session, user)


def tag_names(geodata_dir: Path, lang: str) -> dict[str, str]:
    """The configured tags' names in ``lang`` (rosters show them)."""
    tags = load_tags(tags_file(geodata_dir))
    return {key: (tag.name_en if lang == "en" else tag.name_zh) for key, tag in tags.items()}


def fill_report(
    session: Session,
    *,
    data: bytes,
    area: str,
    period: str,
    geodata_dir: Path,
    timezone: str,
    actor: Actor | None = None,
    keys: RegisterKeys | None = None,
    template_name: str = "",
    lang: str = "zh",
    today: date | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> bytes:
    """The template ``data`` filled for ``area`` and ``period`` (YYYY-MM). ``actor`` None is
    the command line (the database's own operator): no scope, small counts suppressed, no
    roster. Rosters are read as ``actor`` with ``keys``, each person shown logged with the
    template and the period as reason (the caller commits)."""
    place = find_place(session, code=area)
    reader = reader_of_user(session, actor.user_id) if actor is not None else None
    if actor is not None and reader is not None and not may_fill(session, actor, reader, place):
        raise OutOfScope("reports.forbidden_area", code=area)
    month = month_period(period, timezone=timezone, now=now)
    roster, sees_people = None, False
    if reader is not None:
        sees_people = may_see_people(reader, place_where(session, place))
        if keys is not None:
            reason = reason_for(template_name or "report.xlsx", month.label, lang)
            roster = RosterReader(reader, keys, reason, tag_names(geodata_dir, lang))
    context = FillContext(
        place=place,
        period=month,
        lang=lang,
        today=today,
        may_see_people=sees_people,
        roster=roster,
    )
    return fill_template(
        session,
        data=data,
        vocabulary=vocabulary(geodata_dir),
        context=context,
        progress=progress,
    )
