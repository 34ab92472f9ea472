"""Parameters every route shares: ids in the range of their column, a bounding box, and one
guard that refuses NUL characters and non-finite numbers in any text the caller sends.

PostgreSQL stores no NUL in text and no id beyond its integer type: both reach it as a
driver error (a 500). They are refused here, naming the field, before any route runs.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from gridgov.errors import FieldError

INT4_MAX = 2**31 - 1  # an Integer column
INT8_MAX = 2**63 - 1  # a BigInteger column

Id = Annotated[int, Path(ge=1, le=INT4_MAX, description="an id")]
BigId = Annotated[int, Path(ge=1, le=INT8_MAX, description="an id")]
GenerationParam = Annotated[
    int | None,
    Query(ge=1, le=INT4_MAX, description="Boundary generation id; the active one when omitted."),
]

# 1900-2999: year 0 is no date, 9999-12 ends nowhere.
MONTH = r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"
MonthParam = Annotated[str, Query(pattern=MONTH, description="YYYY-MM")]


def parse_month(text: str) -> date:
    """The first day of a month given as YYYY-MM (already checked against ``MONTH``).

    >>> parse_month("2027-01")
    datetime.date(2027, 1, 1)
    """
    return date(int(text[:4]), int(text[5:7]), 1)


BBox = tuple[float, float, float, float]
BBoxParam = Annotated[str | None, Query(description="min lon,min lat,max lon,max lat (WGS84)")]


def parse_bbox(bbox: str | None) -> BBox | None:
    """The box as four floats, west < east and south < north (FieldError on "bbox" else).

    >>> parse_bbox("109,21.5,109.2,21.6")
    (109.0, 21.5, 109.2, 21.6)
    >>> parse_bbox("1,2,3,4..")
    Traceback (most recent call last):
    gridgov.errors.FieldError: bbox: ...
    """
    if not bbox:
        return None
    try:
        west, south, east, north = (float(v) for v in bbox.split(","))
    except ValueError:  # not four numbers ("nan" and "inf" fail the range check below)
        raise FieldError("bbox", "map.bbox") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise FieldError("bbox", "map.bbox")
    return west, south, east, north


def check_value(value: Any, field: str) -> None:
    """FieldError naming the first NUL character or non-finite number in ``value``, walking
    into lists and objects (``field`` is the name of ``value``; nested names join with dots).

    >>> check_value({"a": ["ok", "b\\x00d"]}, "body")
    Traceback (most recent call last):
    gridgov.errors.FieldError: body.a.1: must not contain a NUL character (\\u0000)
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise FieldError(field, "validation.nul_character")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError(field, "validation.not_finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_value(key, field)
            check_value(item, f"{field}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            check_value(item, f"{field}.{n}")


async def refuse_bad_text(request: Request) -> None:
    """An app-wide dependency: path, query, and the JSON or form body a route has parsed
    (FastAPI keeps it on the request) hold no NUL character and no NaN or Infinity."""
    for name, value in request.path_params.items():
        check_value(value, name)
    for name, value in request.query_params.multi_items():
        check_value(name, name)
        check_value(value, name)
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return  # no body, or one the route reads itself (a batch, checked as it is parsed)
    if request._form is not None:
        for name, field in request._form.multi_items():
            if not isinstance(field, UploadFile):
                check_value(name, name)
                check_value(field, name)
    elif hasattr(request, "_json"):
        body = await request.json()
        for name, value in body.items() if isinstance(body, dict) else [("body", body)]:
            check_value(value, name)
