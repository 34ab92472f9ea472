"""Departments: who incidents can be sent to, and who can be summoned."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.security import UserDep
from gridgov.departments.service import list_departments

router = APIRouter(prefix="/api/v1", tags=["departments"])


@router.get("/departments", summary="Departments, optionally of some areas")
def get_departments(
    session: SessionDep,
    user: UserDep,
    area: Annotated[list[str], Query(description="area codes (repeat for several)")] = [],  # noqa: B006
) -> list[dict[str, Any]]:
    """Nearest level first (community, street, district, city): the page that dispatches
    or summons offers the departments of the incident's own areas."""
    return [
        {"code": d.code, "name": d.name, "level": d.level, "area_code": d.area_code}
        for d in list_departments(session, area_codes=area)
    ]
