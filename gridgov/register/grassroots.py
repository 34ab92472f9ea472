"""The grassroots' own register (社区台账): houses, households, people, tags, enterprises
and things, in canonical English columns (see geodata/README.md), loaded as one batch.

Records already in the register (same house, household or thing code, ID number, credit
code) are left as they are: this is the first fill, department imports merge after it.
A row with a problem is listed and skipped, like a department's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from geoalchemy2 import WKTElement
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.register.models import (
    Enterprise,
    House,
    Household,
    Person,
    PersonTag,
    RegisterBatch,
    Thing,
)
from gridgov.register.places import locate_all
from gridgov.register.protect import RegisterKeys
from gridgov.register.rows import ENTERPRISE_FIELDS, ColumnMap, check_enterprise, check_person
from gridgov.register.tiering import retier
from gridgov.register.vocabulary import RELATION, TENURE, THING_KINDS, USE, TagKind
from gridgov.tables import RowProblem, TableError, read_csv_text

SOURCE = "grassroots"
FILES = ("houses", "households", "people", "tags", "enterprises", "things")
CHUNK = 5000


@dataclass
class GrassrootsLoad:
    """What a load wrote, per file, and the rows it skipped."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[str, RowProblem]] = field(default_factory=list)
    batch_id: int | None = None


def _rows(path: Path) -> list[dict[str, str]]:
    frame = read_csv_text(path).frame
    return [
        {str(k).strip(): str(v).strip() for k, v in r.items()} for r in frame.to_dict("records")
    ]


def _point(lon: str, lat: str) -> tuple[float, float] | None:
    try:
        x, y = float(lon), float(lat)
    except ValueError:
        return None
    return (x, y) if -180 <= x <= 180 and -90 <= y <= 90 else None


def _bulk(session: Session, model: Any, rows: list[dict[str, Any]], key: Any) -> dict[Any, int]:
    """Insert rows in chunks; their ids by ``key`` (a column)."""
    ids: dict[Any, int] = {}
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        if chunk:
            for found, row_id in session.execute(insert(model).returning(key, model.id), chunk):
                ids[found] = row_id
    return ids


def load_grassroots(
    session: Session,
    *,
    keys: RegisterKeys,
    folder: Path,
    index: GridIndex | None,
    tags: Mapping[str, TagKind],
    today: date,
    now: datetime,
    user_id: int | None = None,
    geodata_dir: Path | None = None,
) -> GrassrootsLoad:
    """Load the files present in ``folder`` and tier every household (the caller commits;
    ``geodata_dir`` holds the tier rules, default the settings')."""
    load = GrassrootsLoad()
    batch = RegisterBatch(source=SOURCE, file_name=folder.name, created_by=user_id)
    session.add(batch)
    session.flush()
    load.batch_id = batch.id
    entry = {"source": SOURCE, "batch": batch.id, "at": now.isoformat(), "by": user_id}
    files = {name: folder / f"{name}.csv" for name in FILES if (folder / f"{name}.csv").exists()}
    try:
        data = {name: _rows(path) for name, path in files.items()}
    except TableError as exc:
        load.problems.append(
            ("", RowProblem(1, "file", "register.problem.file", (("detail", str(exc)),)))
        )
        return load
    houses = _houses(session, load, data.get("houses", []), index, entry)
    households = _households(session, load, data.get("households", []), houses, entry)
    people = _people(session, keys, load, data.get("people", []), households, tags, today, entry)
    _tags(session, keys, load, data.get("tags", []), people, tags, today, batch.id, user_id)
    _enterprises(session, keys, load, data.get("enterprises", []), index, entry)
    _things(session, load, data.get("things", []), index, entry)
    batch.counts = dict(load.counts)
    session.flush()
    retier(session, today=today, now=now, geodata_dir=geodata_dir)
    return load


def _houses(
    session: Session,
    load: GrassrootsLoad,
    rows: list[dict[str, str]],
    index: GridIndex | None,
    entry: dict[str, Any],
) -> dict[str, int]:
    existing = dict(session.execute(select(House.code, House.id)).all())
    fresh: list[dict[str, str]] = []
    points: list[tuple[float, float]] = []
    for number, row in enumerate(rows, start=2):
        point = _point(row.get("lon", ""), row.get("lat", ""))
        problem = None
        if not row.get("house_code") or not row.get("address"):
            problem = RowProblem(number, "house_code", "register.problem.name")
        elif point is None:
            problem = RowProblem(number, "lon", "register.problem.position")
        elif (row.get("use") or "residential") not in USE or (
            row.get("tenure") or "owned"
        ) not in TENURE:
            problem = RowProblem(number, "use", "register.problem.value")
        if problem or point is None:
            load.problems.extend(("houses", p) for p in (problem,) if p)
        elif row["house_code"] not in existing:
            fresh.append(row)
            points.append(point)
            existing[row["house_code"]] = -1
    values = []
    for row, point, codes in zip(fresh, points, locate_all(index, points), strict=True):
        values.append(
            {
                "code": row["house_code"],
                "address": row["address"],
                "building": row.get("building", ""),
                "unit": row.get("unit", ""),
                "room": row.get("room", ""),
                "use": USE[row.get("use") or "residential"],
                "tenure": TENURE[row.get("tenure") or "owned"],
                "position": WKTElement(f"POINT({point[0]} {point[1]})", srid=4326),
                "provenance": dict.fromkeys(("address", "use", "tenure", "position"), entry),
                **codes.columns(),
            }
        )
    existing.update(_bulk(session, House, values, House.code))
    load.counts["houses"] = len(values)
    return existing


def _households(
    session: Session,
    load: GrassrootsLoad,
    rows: list[dict[str, str]],
    houses: dict[str, int],
    entry: dict[str, Any],
) -> dict[str, int]:
    existing = dict(session.execute(select(Household.code, Household.id)).all())
    values = []
    for number, row in enumerate(rows, start=2):
        code, house = row.get("household_code", ""), row.get("house_code", "")
        if not code or house not in houses:
            load.problems.append(
                ("households", RowProblem(number, "house_code", "register.problem.house"))
            )
        elif code not in existing:
            values.append({"code": code, "house_id": houses[house], "provenance": {"house": entry}})
            existing[code] = -1
    existing.update(_bulk(session, Household, values, Household.code))
    load.counts["households"] = len(values)
    return existing


def _people(
    session: Session,
    keys: RegisterKeys,
    load: GrassrootsLoad,
    rows: list[dict[str, str]],
    households: dict[str, int],
    tags: Mapping[str, TagKind],
    today: date,
    entry: dict[str, Any],
) -> dict[bytes, int]:
    columns = ColumnMap(headers={n: n for n in ("id_number", "name", "sex", "birth_date", "phone")})
    known: dict[bytes, int] = {
        digest: person_id
        for digest, person_id in session.execute(
            select(Person.id_hash, Person.id).where(Person.id_hash.is_not(None))
        )
        if digest is not None
    }
    values = []
    for number, raw in enumerate(rows, start=2):
        person = {k: raw.get(k, "") for k in columns.headers}
        checked, problems = check_person(number, person, columns, tags, today)
        relation = RELATION.get(raw.get("relation", ""))
        household = raw.get("household_code", "")
        if relation is None:
            problems.append(RowProblem(number, "relation", "register.problem.value"))
        if household and household not in households:
            problems.append(RowProblem(number, "household_code", "register.problem.house"))
        if not person["id_number"] or not person["name"]:
            problems.append(RowProblem(number, "id_number", "register.problem.unidentified"))
        if problems or checked is None:
            load.problems.extend(("people", p) for p in problems)
            continue
        digest = keys.id_hash(checked.values["id_number"])
        if digest in known:
            continue
        known[digest] = -1
        phone = checked.values.get("phone")
        values.append(
            {
                "name": checked.values["name"],
                "id_hash": digest,
                "id_sealed": keys.seal(checked.values["id_number"], field="id_number"),
                "sex": checked.values.get("sex"),
                "birth_date": checked.values.get("birth_date"),
                "phone_sealed": keys.seal(phone, field="phone") if phone else None,
                "household_id": households.get(household),
                "relation": relation,
                "provenance": dict.fromkeys(
                    ("name", "id_number", "sex", "birth_date", "phone", "household", "relation"),
                    entry,
                ),
            }
        )
    known.update(_bulk(session, Person, values, Person.id_hash))
    load.counts["people"] = len(values)
    return known


def _tags(
    session: Session,
    keys: RegisterKeys,
    load: GrassrootsLoad,
    rows: list[dict[str, str]],
    people: dict[bytes, int],
    tags: Mapping[str, TagKind],
    today: date,
    batch_id: int,
    user_id: int | None,
) -> None:
    columns = ColumnMap(
        headers={
            "id_number": "id_number",
            "tag": "tag",
            "kind": "tag.kind",
            "grade": "tag.grade",
            "valid_from": "tag.valid_from",
            "valid_to": "tag.valid_to",
        }
    )
    have: set[tuple[int, str]] = {
        (person, tag) for person, tag in session.execute(select(PersonTag.person_id, PersonTag.tag))
    }
    values = []
    for number, raw in enumerate(rows, start=2):
        mapped = {name: raw.get(header, "") for header, name in columns.headers.items()}
        checked, problems = check_person(number, mapped, columns, tags, today)
        if checked is None or "tag" not in checked.values or "id_number" not in checked.values:
            load.problems.extend(("tags", p) for p in problems)
            continue
        person_id = people.get(keys.id_hash(checked.values["id_number"]))
        tag = checked.values["tag"]
        if person_id is None:
            load.problems.append(
                ("tags", RowProblem(number, "id_number", "register.problem.person"))
            )
            continue
        if (person_id, tag["tag"]) in have:
            continue
        have.add((person_id, tag["tag"]))
        values.append(
            {
                "person_id": person_id,
                "tag": tag["tag"],
                "details": {k: v for k, v in tag["details"].items() if v not in (None, "")},
                "valid_from": tag["valid_from"],
                "valid_to": tag["valid_to"],
                "source": SOURCE,
                "batch_id": batch_id,
                "recorded_by": user_id,
            }
        )
    for start in range(0, len(values), CHUNK):
        session.execute(insert(PersonTag), values[start : start + CHUNK])
    load.counts["tags"] = len(values)


def _enterprises(
    session: Session,
    keys: RegisterKeys,
    load: GrassrootsLoad,
    rows: list[dict[str, str]],
    index: GridIndex | None,
    entry: dict[str, Any],
) -> None:
    columns = ColumnMap(headers={n: n for n in ENTERPRISE_FIELDS})
    known = set(session.scalars(select(Enterprise.credit_code)))
    fresh = []
    for number, raw in enumerate(rows, start=2):
        checked, problems = check_enterprise(
            number, {k: raw.get(k, "") for k in columns.headers}, columns
        )
        if checked is None:
            load.problems.extend(("enterprises", p) for p in problems)
        elif checked.values["credit_code"] not in known and checked.values.get("name"):
            known.add(checked.values["credit_code"])
            fresh.append(checked.values)
    placed = [v for v in fresh if "position" in v]
    codes = dict(
        zip(map(id, placed), locate_all(index, [v["position"] for v in placed]), strict=True)
    )
    values = []
    for v in fresh:
        position = v.get("position")
        values.append(
            {
                "credit_code": v["credit_code"],
                "name": v["name"],
                "address": v.get("address", ""),
                "industry": v.get("industry"),
                "risk_class": v.get("risk_class"),
                "contact": v.get("contact"),
                "phone_sealed": keys.seal(v["phone"], field="phone") if v.get("phone") else None,
                "position": WKTElement(f"POINT({position[0]} {position[1]})", srid=4326)
                if position
                else None,
                "provenance": dict.fromkeys(v, entry),
                **(codes[id(v)].columns() if position else {}),
            }
        )
    _bulk(session, Enterprise, values, Enterprise.credit_code)
    load.counts["enterprises"] = len(values)


def _things(
    session: Session,
    load: GrassrootsLoad,
    rows: list[dict[str, str]],
    index: GridIndex | None,
    entry: dict[str, Any],
) -> None:
    known = set(session.scalars(select(Thing.code)))
    fresh: list[dict[str, str]] = []
    points: list[tuple[float, float]] = []
    for number, row in enumerate(rows, start=2):
        point = _point(row.get("lon", ""), row.get("lat", ""))
        if not row.get("thing_code") or row.get("kind") not in THING_KINDS:
            load.problems.append(("things", RowProblem(number, "kind", "register.problem.value")))
        elif point is None:
            load.problems.append(("things", RowProblem(number, "lon", "register.problem.position")))
        elif row["thing_code"] not in known:
            known.add(row["thing_code"])
            fresh.append(row)
            points.append(point)
    values = [
        {
            "code": row["thing_code"],
            "kind": row["kind"],
            "name": row.get("name", ""),
            "position": WKTElement(f"POINT({p[0]} {p[1]})", srid=4326),
            "provenance": dict.fromkeys(("kind", "name", "position"), entry),
            **codes.columns(),
        }
        for row, p, codes in zip(fresh, points, locate_all(index, points), strict=True)
    ]
    _bulk(session, Thing, values, Thing.code)
    load.counts["things"] = len(values)
