"""Load the item catalogue and import stockpiles with their inventory (CSV or .xlsx)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.index import GridIndex
from gridgov.boundaries.levels import Level
from gridgov.boundaries.lookup import locate_near
from gridgov.db import upsert, upsert_statement
from gridgov.departments.models import Department
from gridgov.geo.crs import InputCRS, to_wgs84
from gridgov.i18n import Message
from gridgov.supplies.models import Item, StockLot, Stockpile
from gridgov.tables import Column, TableError, line_problem, read_reference_table, read_table

HEADERS = {
    "储备点编码": "stockpile_code", "储备点名称": "stockpile_name", "类型": "kind",
    "权属部门": "owner_department", "联系人": "contact_name", "联系电话": "contact_phone",
    "开放时间": "opening_hours", "经度": "lon", "纬度": "lat", "坐标系": "crs",
    "物资编码": "item", "数量": "quantity", "有效期至": "expires_on",
}  # fmt: skip
REQUIRED = (
    "stockpile_code",
    "stockpile_name",
    "kind",
    "owner_department",
    "lon",
    "lat",
    "item",
    "quantity",
)
OPTIONAL = ("contact_name", "contact_phone", "opening_hours", "crs", "expires_on")
STOCKPILE_FIELDS = ("stockpile_name", "kind", "owner_department", "contact_name",
                    "contact_phone", "opening_hours", "lon", "lat", "crs")  # fmt: skip


@dataclass(frozen=True)
class StockProblem:
    line: int | None
    field: str
    reason: str | Message

    def say(self, lang: str = "zh") -> str:
        """The problem in ``lang``: ``第 3 行：quantity：'x' 不是 ≥ 0 的整数``."""
        return line_problem(lang, self.line, self.field, self.reason)

    def __str__(self) -> str:
        return self.say("en")


class StockFileError(ValueError):
    """The file has problems; nothing was written. ``problems`` lists every one."""

    def __init__(self, problems: list[StockProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class StockImport:
    stockpiles: int
    lots: int
    # Stockpiles just outside every grid, attached to the nearest: (code, grid, metres).
    attached: list[tuple[str, str, float]] = field(default_factory=list)


ITEM_COLUMNS = (
    Column("code", 32, headers=("编码", "物资编码")),
    Column("name_zh", 100, headers=("名称", "物资名称")),
    Column("name_en", 100, headers=("英文名称",)),
    Column("unit_zh", 16, headers=("单位",)),
    Column("unit_en", 16, headers=("英文单位",)),
)


def load_items(session: Session, *, path: Path) -> int:
    """Insert or update the item catalogue from a file (code, names, units)."""
    return upsert(session, Item, read_reference_table(path, ITEM_COLUMNS), keys=["code"])


def read_stock_file(path: Path | str) -> list[dict[str, str]]:
    """Rows of a stockpile file (one row per stockpile and item lot), headers normalised."""
    try:
        table = read_table(path, HEADERS)
    except TableError as exc:
        raise StockFileError([StockProblem(None, "file", Message(exc.key, exc.params))]) from exc
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise StockFileError(
            [StockProblem(None, c, Message("stock.missing_column")) for c in missing]
        )
    for column in OPTIONAL:
        if column not in table.columns:
            table[column] = ""
    return [
        {c: str(row[c]).strip() for c in (*REQUIRED, *OPTIONAL)} for row in table.to_dict("records")
    ]


def import_stock(
    session: Session,
    *,
    rows: list[dict[str, str]],
    index: GridIndex | None = None,
    edge_tolerance_m: float = 0.0,
) -> StockImport:
    """Validate every row, then upsert stockpiles and their lots (all or nothing).

    A lot's quantity is set to the file's; it may not drop below what is already reserved.
    A stockpile outside every grid but within ``edge_tolerance_m`` of one belongs to it.
    """
    items = set(session.scalars(select(Item.code)))
    departments = set(session.scalars(select(Department.code)))
    problems: list[StockProblem] = []
    stockpiles: dict[str, dict[str, str]] = {}
    lots: dict[tuple[str, str, date | None], int] = {}
    first_line: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        _check_row(line, row, items, departments, problems)
        code = row["stockpile_code"]
        if code in stockpiles:
            differs = [f for f in STOCKPILE_FIELDS if row[f] != stockpiles[code][f]]
            for name in differs:
                problems.append(
                    StockProblem(
                        line,
                        name,
                        Message("stock.differs", {"line": first_line[code], "code": code}),
                    )
                )
        else:
            stockpiles[code], first_line[code] = row, line
        key = (code, row["item"], _date_or_none(row["expires_on"]))
        if key in lots:
            problems.append(
                StockProblem(line, "item", Message("stock.lot_twice", {"item": row["item"]}))
            )
        lots[key] = _int(row["quantity"]) or 0
    places, attached = _places(session, stockpiles, first_line, problems, index, edge_tolerance_m)
    if problems:
        raise StockFileError(problems)
    ids = {
        code: _upsert_stockpile(session, code, row, places[code])
        for code, row in stockpiles.items()
    }
    _upsert_lots(session, lots, ids, problems)
    if problems:
        raise StockFileError(problems)
    session.flush()
    return StockImport(stockpiles=len(ids), lots=len(lots), attached=attached)


def _check_row(
    line: int,
    row: dict[str, str],
    items: set[str],
    departments: set[str],
    problems: list[StockProblem],
) -> None:
    for column in REQUIRED:
        if not row[column]:
            problems.append(StockProblem(line, column, Message("stock.empty")))
    if row["item"] and row["item"] not in items:
        problems.append(
            StockProblem(line, "item", Message("stock.unknown_item", {"item": row["item"]}))
        )
    if row["owner_department"] and row["owner_department"] not in departments:
        problems.append(
            StockProblem(
                line,
                "owner_department",
                Message("stock.no_department", {"code": row["owner_department"]}),
            )
        )
    if row["quantity"] and (_int(row["quantity"]) is None or (_int(row["quantity"]) or 0) < 0):
        problems.append(
            StockProblem(
                line, "quantity", Message("stock.bad_quantity", {"value": row["quantity"]})
            )
        )
    if row["expires_on"]:
        try:
            _date(row["expires_on"])
        except ValueError:
            problems.append(
                StockProblem(
                    line, "expires_on", Message("stock.bad_date", {"value": row["expires_on"]})
                )
            )
    for column, low, high in (("lon", -180, 180), ("lat", -90, 90)):
        value = _float(row[column])
        if row[column] and (value is None or not low <= value <= high):
            problems.append(
                StockProblem(
                    line,
                    column,
                    Message("stock.out_of_range", {"value": row[column], "low": low, "high": high}),
                )
            )
    if row["crs"] and row["crs"].lower() not in {c.value for c in InputCRS}:
        problems.append(
            StockProblem(line, "crs", Message("stock.unknown_crs", {"crs": row["crs"]}))
        )


Place = tuple[float, float, dict[Level, str], str]  # WGS84 lon, lat, area chain, grid


def _places(
    session: Session,
    stockpiles: dict[str, dict[str, str]],
    first_line: dict[str, int],
    problems: list[StockProblem],
    index: GridIndex | None,
    tolerance_m: float,
) -> tuple[dict[str, Place], list[tuple[str, str, float]]]:
    """WGS84 position and area codes of each stockpile, and those attached to a grid they
    lie just outside; beyond the tolerance is a problem."""
    generation = active_generation(session)
    if generation is None:
        problems.append(StockProblem(None, "file", Message("error.no_active_generation")))
        return {}, []
    known_crs = {c.value for c in InputCRS}
    places: dict[str, Place] = {}
    attached: list[tuple[str, str, float]] = []
    for code, row in stockpiles.items():
        lon, lat = _float(row["lon"]), _float(row["lat"])
        crs = (row["crs"] or "wgs84").lower()
        if lon is None or lat is None or crs not in known_crs:
            continue
        wgs = to_wgs84(lon, lat, crs)
        place, distance = locate_near(
            session,
            lon=wgs[0],
            lat=wgs[1],
            generation_id=generation.id,
            index=index,
            tolerance_m=tolerance_m,
        )
        if place is None:
            reason = Message("stock.outside", {"code": code, "distance": f"{distance:.0f}"})
            problems.append(StockProblem(first_line[code], "lon", reason))
            continue
        if distance > 0:
            attached.append((code, place.grid.code, round(distance, 1)))
        chain = {Level(a.level): a.code for a in place.areas}
        places[code] = (wgs[0], wgs[1], chain, place.grid.code)
    return places, attached


def _upsert_stockpile(session: Session, code: str, row: dict[str, str], place: Place) -> int:
    lon, lat, chain, grid = place
    values = {
        "code": code,
        "name": row["stockpile_name"],
        "kind": row["kind"],
        "owner_department": row["owner_department"],
        "contact_name": row["contact_name"],
        "contact_phone": row["contact_phone"],
        "opening_hours": row["opening_hours"],
        "position": from_shape(Point(lon, lat), srid=4326),
        "grid_code": grid,
        "community_code": chain.get(Level.COMMUNITY),
        "street_code": chain.get(Level.STREET),
        "district_code": chain.get(Level.DISTRICT),
        "city_code": chain.get(Level.CITY),
    }
    statement = upsert_statement(Stockpile, [values], keys=["code"]).returning(Stockpile.id)
    stockpile_id = int(session.execute(statement).scalar_one())
    # Lots carry the position too (for the KNN index): keep them where the stockpile is.
    session.execute(
        update(StockLot)
        .where(StockLot.stockpile_id == stockpile_id)
        .values(position=f"SRID=4326;POINT({lon} {lat})")
    )
    return stockpile_id


def _upsert_lots(
    session: Session,
    lots: dict[tuple[str, str, date | None], int],
    ids: dict[str, int],
    problems: list[StockProblem],
) -> None:
    by_stockpile: dict[int, list[tuple[str, date | None, int]]] = defaultdict(list)
    for (code, item, expires), quantity in lots.items():
        by_stockpile[ids[code]].append((item, expires, quantity))
    for stockpile_id, entries in by_stockpile.items():
        position = session.scalar(
            select(Stockpile.position.ST_AsEWKT()).where(Stockpile.id == stockpile_id)
        )
        existing = {
            (lot.item_code, lot.expires_on): lot
            for lot in session.scalars(
                select(StockLot).where(StockLot.stockpile_id == stockpile_id).with_for_update()
            )
        }
        for item, expires, quantity in entries:
            lot = existing.get((item, expires))
            if lot is None:
                lot = StockLot(
                    stockpile_id=stockpile_id,
                    item_code=item,
                    quantity=quantity,
                    reserved=0,
                    expires_on=expires,
                    position=position,
                )
                session.add(lot)
            elif quantity < lot.reserved:
                values = {
                    "item": item,
                    "stockpile": stockpile_id,
                    "quantity": quantity,
                    "reserved": lot.reserved,
                }
                reason = Message("stock.below_reserved", values)
                problems.append(StockProblem(None, "quantity", reason))
            else:
                lot.quantity = quantity


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _date(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def _date_or_none(value: str) -> date | None:
    try:
        return _date(value)
    except ValueError:
        return None
