"""Open311 GeoReport v2 (JSON): existing 311 / 12345 client apps report into gridgov.

A thin face over ``gridgov.incidents.open311`` and the same reporting service as the native
API: a request is located, routed, given a deadline and audited exactly like a grid head's
report. The service list and the discovery document are public; reporting and reading need a
signed-in user: GeoReport's ``api_key`` (a form field of the POST) or the
``Authorization: Bearer`` header carries a token from ``/api/v1/auth/token``, and reads keep
the caller's scope. Errors are the API's one problem document (RFC 9457), with the field named.
Not supported: ``address_string``/``address_id`` without coordinates (no geocoder), and
``media_url`` (gridgov never fetches addresses it is given; send photos to the native API).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request

from api.deps import CatalogueDep, IndexDep, LangDep, SessionDep
from api.security import UserDep, oauth2_scheme, require, user_for_token
from gridgov.errors import FieldError
from gridgov.i18n import t
from gridgov.incidents.open311 import DEFAULT_DAYS, RequestFilter, service_requests, services
from gridgov.incidents.reporting import MAX_DESCRIPTION, report_incident
from gridgov.users.roles import Action

router = APIRouter(prefix="/open311/v2", tags=["open311"])
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


@router.get("/discovery.json", summary="Open311: where and what this endpoint is")
def discovery(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/") + "/open311/v2"
    return {
        "changeset": "2026-12-05T00:00:00Z",
        "contact": "",
        "key_service": str(request.base_url).rstrip("/") + "/api/v1/auth/token",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": "2026-12-05T00:00:00Z",
                "type": "production",
                "formats": ["application/json"],
            }
        ],
    }


@router.get("/services.json", summary="Open311: the kinds of problem one may report")
def list_services(catalogue: CatalogueDep, lang: LangDep) -> list[dict[str, Any]]:
    return services(catalogue, lang)


@router.post("/requests.json", status_code=201, summary="Open311: report a problem")
def post_request(
    request: Request,
    session: SessionDep,
    header_token: Annotated[str | None, Depends(oauth2_scheme)],
    index: IndexDep,
    catalogue: CatalogueDep,
    lang: LangDep,
    service_code: Annotated[str, Form(min_length=1, max_length=16)],
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    long: Annotated[float | None, Form(ge=-180, le=180)] = None,
    description: Annotated[str, Form(max_length=MAX_DESCRIPTION)] = "",
    address_string: Annotated[str | None, Form(max_length=500)] = None,
    device_id: Annotated[str | None, Form(max_length=100)] = None,
    api_key: Annotated[str | None, Form(max_length=4000)] = None,
) -> list[dict[str, Any]]:
    """``[{service_request_id, service_notice, account_id}]``, as GeoReport v2 answers.
    ``device_id`` makes a repeated post of the same report return the first one."""
    user = user_for_token(request, session, header_token or api_key, lang)
    require(user, Action.REPORT, lang)
    if lat is None or long is None:
        raise FieldError("lat" if lat is None else "long", "open311.position_required")
    try:
        result = report_incident(
            session,
            reporter_id=user.id,
            lon=long,
            lat=lat,
            category_code=service_code,
            description=description,
            idempotency_key=f"open311:{device_id}" if device_id else None,
            index=index,
            catalogue=catalogue,
            source="open311",
        )
    except FieldError as error:  # name the field as the client sent it
        if error.field in ("category", "lon"):
            error.field = {"category": "service_code", "lon": "long"}[error.field]
        raise
    return [
        {
            "service_request_id": str(result.incident.id),
            "service_notice": "",
            "account_id": None,
        }
    ]


def _codes(value: str | None, field: str, *, numeric: bool = False) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    if numeric and not all(v.isdigit() and len(v) <= 18 for v in items):
        raise FieldError(field, "open311.bad_ids")
    return items


@router.get("/requests.json", summary="Open311: requests the caller may read")
def get_requests(
    session: SessionDep,
    user: UserDep,
    catalogue: CatalogueDep,
    lang: LangDep,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=2000)] = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: Annotated[str | None, Query(pattern=r"^(open|closed)(,(open|closed))?$")] = None,
) -> list[dict[str, Any]]:
    """Newest first, at most 1000; the last 90 days unless dates are given; with
    ``service_request_id`` (comma separated) the other filters are ignored, as the
    specification says."""
    ids = [int(v) for v in _codes(service_request_id, "service_request_id", numeric=True)]
    if ids:
        filters = RequestFilter(ids=ids)
    else:
        end = end_date
        start = start_date or (end or datetime.now(UTC)) - timedelta(days=DEFAULT_DAYS)
        filters = RequestFilter(
            service_codes=_codes(service_code, "service_code"),
            start=start,
            end=end,
            statuses=_codes(status, "status"),
        )
    return service_requests(
        session, actor=user.actor(), catalogue=catalogue, lang=lang, filters=filters
    )


@router.get("/requests/{request_id}.json", summary="Open311: one request")
def get_request(
    session: SessionDep,
    user: UserDep,
    catalogue: CatalogueDep,
    lang: LangDep,
    request_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> list[dict[str, Any]]:
    """A list of one, as GeoReport v2 answers; 404 when absent or not the caller's to read."""
    found = service_requests(
        session,
        actor=user.actor(),
        catalogue=catalogue,
        lang=lang,
        filters=RequestFilter(ids=[request_id]),
    )
    if not found:
        raise HTTPException(404, detail={"message": t("open311.no_request", lang)})
    return found
