"""Fill a report for a user: who may fill which area, the shipped templates, the fill itself."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path

from sqlalchemy.orm import Session

from gridgov.boundaries.levels import Level
from gridgov.errors import FieldError, OutOfScope
from gridgov.forms.indicators import load_indicators
from gridgov.reports.fill import FillContext, Progress, fill_template
from gridgov.reports.indicators import Vocabulary, find_place, month_period
from gridgov.reports.sources import Place
from gridgov.users.roles import Action, Actor, Role, Target, allowed
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


def may_see_people(actor: Actor, place: Place) -> bool:
    """Whether small counts of people in ``place`` may be shown to ``actor`` unsuppressed.

    The register's read table (issue #15, ``gridgov.register.access``) is the authority; it
    lets a grid head see the people of their own grid and gives everyone else (the admin
    included) counts only, which is what this answers until the two are joined."""
    return actor.role is Role.GRID_HEAD and actor.grid_code == place.code


def fill_report(
    session: Session,
    *,
    data: bytes,
    area: str,
    period: str,
    geodata_dir: Path,
    timezone: str,
    actor: Actor | None = None,
    lang: str = "zh",
    today: date | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> bytes:
    """The template ``data`` filled for ``area`` and ``period`` (YYYY-MM). ``actor`` None is
    the command line (the database's own operator): no scope, small counts suppressed."""
    place = find_place(session, code=area)
    if actor is not None and not allowed(actor, Action.READ, place_target(session, place)):
        raise OutOfScope("reports.forbidden_area", code=area)
    context = FillContext(
        place=place,
        period=month_period(period, timezone=timezone, now=now),
        lang=lang,
        today=today,
        may_see_people=actor is not None and may_see_people(actor, place),
    )
    return fill_template(
        session,
        data=data,
        vocabulary=vocabulary(geodata_dir),
        context=context,
        progress=progress,
    )
