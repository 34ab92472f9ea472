"""Load the synthetic demo city 示范市 from geodata/ through the ordinary import paths."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import activate_generation, create_generation
from gridgov.boundaries.importer import import_boundaries
from gridgov.boundaries.index import GridIndex
from gridgov.boundaries.io import read_boundary_file
from gridgov.boundaries.levels import Level
from gridgov.boundaries.models import Generation
from gridgov.departments.service import read_departments_csv, upsert_departments
from gridgov.register.grassroots import SOURCE as GRASSROOTS
from gridgov.register.grassroots import GrassrootsLoad, load_grassroots
from gridgov.register.models import RegisterBatch
from gridgov.register.protect import RegisterKeys
from gridgov.register.vocabulary import load_tags, tags_file
from gridgov.responsibilities.service import (
    load_categories,
    read_responsibility_file,
    replace_rules,
    validate_rules,
)
from gridgov.sensors.catalogue import import_rules, import_sensors
from gridgov.supplies.roads import read_roads, replace_roads
from gridgov.supplies.stock import import_stock, load_items, read_stock_file
from gridgov.users.models import User
from gridgov.users.service import create_user, password_matches

DEMO_GENERATION = "示范市 demo city (synthetic)"
DEMO_PASSWORD = "gridgov-demo"
LEVEL_FILES = {
    Level.CITY: "city.geojson",
    Level.DISTRICT: "districts.geojson",
    Level.STREET: "streets.geojson",
    Level.COMMUNITY: "communities.geojson",
    Level.GRID: "grids.geojson",
}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: str
    area_code: str | None = None
    department_code: str | None = None
    grid_code: str | None = None


# The grid at 109.1°E 21.55°N and the chain above it: 青柳社区, 乐银街道, 南湾区.
DEMO_ACCOUNTS = (
    DemoAccount("admin", "系统管理员", "admin"),
    DemoAccount("operator", "市指挥中心值班员", "operator", area_code="990100"),
    DemoAccount("operator_nw", "南湾区指挥中心值班员", "operator", area_code="990105"),
    DemoAccount("handler_jw", "青柳社区居委会", "handler", department_code="990105009003-JW"),
    DemoAccount("handler_zf", "乐银街道综合行政执法队", "handler", department_code="990105009-ZF"),
    DemoAccount("handler_cg", "乐银街道城市管理办公室", "handler", department_code="990105009-CG"),
    DemoAccount("handler_dcg", "南湾区城市管理局", "handler", department_code="990105-CG"),
    DemoAccount("handler_ccg", "示范市城市管理局", "handler", department_code="990100-CG"),
    # The register's departments, city-wide as their lists are: 民政 reads the allowance,
    # special-care and living-alone tags and their people, 残联 disability (docs/PRIVACY.md).
    DemoAccount("handler_mz", "示范市民政局", "handler", department_code="990100-MZ"),
    DemoAccount("handler_cl", "示范市残疾人联合会", "handler", department_code="990100-CL"),
    DemoAccount("gridhead", "青柳社区第7网格 网格长", "grid_head", grid_code="990105009003007"),
    DemoAccount("emergency", "市应急救援队", "emergency", area_code="990100"),
)


def demo_folder(geodata_dir: Path) -> Path:
    """Where the demo city's files live."""
    return geodata_dir / "demo_city"


def load_demo_city(
    session: Session, *, geodata_dir: Path, activate: bool = True, accounts: bool = True
) -> Generation:
    """Import the demo city (once): boundaries, departments, categories, responsibility list,
    demo accounts, stockpiles, roads, sensors and rules; activate its generation. Without
    ``accounts`` (a generated city of another size, whose codes the demo accounts do not
    name), no account is made."""
    existing = session.scalar(select(Generation).where(Generation.name == DEMO_GENERATION))
    if existing is not None:
        return existing
    folder = demo_folder(geodata_dir)
    generation = create_generation(session, name=DEMO_GENERATION)
    for level, filename in LEVEL_FILES.items():
        frame = read_boundary_file(folder / filename, level=level)
        import_boundaries(session, frame=frame, level=level, generation_id=generation.id)
    upsert_departments(session, rows=read_departments_csv(folder / "departments.csv"))
    load_categories(session, path=geodata_dir / "categories.csv")
    if activate:
        activate_generation(session, generation_id=generation.id)
        rows = read_responsibility_file(folder / "responsibilities.csv")
        replace_rules(session, rules=validate_rules(session, rows))
        if accounts:
            create_demo_accounts(session)
        load_items(session, path=geodata_dir / "items.csv")
        import_stock(session, rows=read_stock_file(folder / "stockpiles.csv"))
        replace_roads(session, lines=read_roads(folder / "roads.geojson"))
        import_sensors(session, path=folder / "sensors.csv")
        import_rules(session, path=geodata_dir / "sensor_rules.csv")
    return generation


def prepare_demo(
    session: Session, *, geodata_dir: Path, load: bool, keys: RegisterKeys | None = None
) -> list[str]:
    """Before serving: with ``load``, the demo city and its accounts (switched on), and with
    ``keys`` its register when its files are there; without, the demo accounts that still
    have the public password switched off. The names changed."""
    if load:
        load_demo_city(session, geodata_dir=geodata_dir)
        if keys is not None:
            load_demo_register(session, geodata_dir=geodata_dir, keys=keys)
    return set_demo_accounts_active(session, active=load)


def load_demo_register(
    session: Session, *, geodata_dir: Path, keys: RegisterKeys
) -> GrassrootsLoad | None:
    """The demo city's own register (geodata/demo_city/register/*.csv), once, when the
    files are there; None when they are not or it is loaded already."""
    folder = demo_folder(geodata_dir) / "register"
    loaded = select(RegisterBatch.id).where(RegisterBatch.source == GRASSROOTS).limit(1)
    if not (folder / "people.csv").exists() or session.scalar(loaded) is not None:
        return None
    generation = session.scalar(select(Generation).where(Generation.is_active))
    index = GridIndex.build(session, generation=generation) if generation else None
    now = datetime.now(UTC)
    return load_grassroots(
        session,
        keys=keys,
        folder=folder,
        index=index,
        tags=load_tags(tags_file(geodata_dir)),
        today=now.date(),
        now=now,
        geodata_dir=geodata_dir,
    )


def set_demo_accounts_active(session: Session, *, active: bool) -> list[str]:
    """Switch the demo accounts that still have the public demo password on or off; the
    names of those changed. A server that is not a demo keeps none it could be entered by;
    a demo account whose password was changed is a real account and is left alone."""
    users = session.scalars(
        select(User).where(
            User.username.in_([a.username for a in DEMO_ACCOUNTS]), User.is_active != active
        )
    )
    changed = []
    for user in users:
        if password_matches(user, DEMO_PASSWORD):
            user.is_active = active
            changed.append(user.username)
    session.flush()
    return changed


def create_demo_accounts(session: Session) -> None:
    """The demo accounts listed in the README (password ``gridgov-demo``), once."""
    for account in DEMO_ACCOUNTS:
        if session.scalar(select(User.id).where(User.username == account.username)) is None:
            create_user(
                session,
                username=account.username,
                password=DEMO_PASSWORD,
                role=account.role,
                display_name=account.display_name,
                area_code=account.area_code,
                department_code=account.department_code,
                grid_code=account.grid_code,
            )
