"""Hand-made stockpiles for the supplies tests, east of the demo city's centre."""

from __future__ import annotations

import math

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridgov.supplies.models import Item
from gridgov.supplies.stock import import_stock

ORIGIN = (109.10, 21.55)
OWNER = "990105-YJ"


def east(km: float, north_km: float = 0.0) -> tuple[float, float]:
    """A point ``km`` east (and ``north_km`` north) of the origin."""
    lon0, lat0 = ORIGIN
    return (
        lon0 + km * 1000 / (111_320 * math.cos(math.radians(lat0))),
        lat0 + north_km * 1000 / 110_574,
    )


def add_items(session: Session, *codes: str) -> None:
    for code in codes:
        session.add(Item(code=code, name_zh=code, name_en=code, unit_zh="个", unit_en="piece"))
    session.flush()


def stock_row(
    code: str, at: tuple[float, float], item: str, quantity: int, expires: str = ""
) -> dict[str, str]:
    return {
        "stockpile_code": code,
        "stockpile_name": f"测试储备点{code}",
        "kind": "warehouse",
        "owner_department": OWNER,
        "contact_name": "测试",
        "contact_phone": "13900009999",
        "opening_hours": "24小时",
        "lon": f"{at[0]:.7f}",
        "lat": f"{at[1]:.7f}",
        "crs": "",
        "item": item,
        "quantity": str(quantity),
        "expires_on": expires,
    }


def hand_made(session: Session) -> None:
    """A (1 km): 50 tents of which 20 reserved; B (2 km): 100 expired tents and 40 good ones;
    C (3 km): 500 tents; D (5 km): 1,000 water and 10 tents."""
    add_items(session, "test_tent", "test_water")
    rows = [
        stock_row("T-A", east(1), "test_tent", 50),
        stock_row("T-B", east(2), "test_tent", 100, "2020-01-01"),
        stock_row("T-B", east(2), "test_tent", 40, "2030-01-01"),
        stock_row("T-C", east(3), "test_tent", 500),
        stock_row("T-D", east(5), "test_water", 1000, "2030-06-30"),
        stock_row("T-D", east(5), "test_tent", 10),
    ]
    import_stock(session, rows=rows)
    session.execute(
        text(
            "UPDATE stock_lots SET reserved = 20 FROM stockpiles s "
            "WHERE s.id = stock_lots.stockpile_id AND s.code = 'T-A'"
        )
    )
