"""The map layer of household tiers: every grid or community the caller may count in, with
its households per tier (small counts hidden: tier_views.tier_counts) and the colour of the
worst tier present, as GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.boundaries.models import Area, Grid
from gridgov.errors import OutOfScope
from gridgov.register.access import AGGREGATES, Reader, reach_of
from gridgov.register.tier_views import tier_counts
from gridgov.register.tiering import tier_config
from gridgov.register.tiers import TIERS

DECIMALS = 6


def worst_tier(counts: dict[str, int | None]) -> str:
    """The worst tier with anyone in it (a hidden count of 1-4 is someone).

    >>> worst_tier({"red": 0, "yellow": None, "green": 40})
    'yellow'
    """
    return next((tier for tier in TIERS if counts.get(tier) != 0), "green")


def tier_layer(
    session: Session,
    *,
    reader: Reader,
    level: str,
    generation_id: int,
    lang: str,
    geodata_dir: Path | None = None,
) -> dict[str, Any]:
    """GeoJSON of the grids or communities (``level``) with their tier counts; the tiers'
    names and colours (tier_levels.csv) come along for the legend."""
    if reach_of(reader, AGGREGATES) is None:
        raise OutOfScope("scope.register_aggregates")
    config = tier_config(geodata_dir)
    found = {c.code: c.counts for c in tier_counts(session, reader=reader, level=level)}
    model: Any = Grid if level == "grid" else Area
    query = select(model.code, model.name, func.ST_AsGeoJSON(model.geom, DECIMALS)).where(
        model.generation_id == generation_id, model.code.in_(list(found))
    )
    if level == "community":
        query = query.where(Area.level == "community")
    features = []
    for code, name, geometry in session.execute(query.order_by(model.code)) if found else []:
        counts = found[code]
        worst = worst_tier(counts)
        features.append(
            {
                "type": "Feature",
                "id": code,
                "geometry": json.loads(geometry),
                "properties": {
                    "code": code,
                    "name": name,
                    "counts": counts,
                    "tier": worst,
                    "colour": config.levels[worst].colour,
                },
            }
        )
    levels = {
        tier: {
            "name": level_.name_en if lang == "en" else level_.name_zh,
            "colour": level_.colour,
            "visit_every_months": level_.visit_every_months,
        }
        for tier, level_ in config.levels.items()
    }
    return {"type": "FeatureCollection", "level": level, "tiers": levels, "features": features}
