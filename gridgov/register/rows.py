"""A department's list as rows of canonical fields: its column file, its headers mapped,
every cell checked. A row with a problem is listed (row, column as the file names it, why)
and never written; the rest go on to matching."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from gridgov.register.vocabulary import (
    INDUSTRY,
    RISK,
    SEX,
    TagKind,
    id_birth_date,
    id_sex,
    parse_date,
    parse_grade,
    valid_credit_code,
    valid_id_number,
)
from gridgov.tables import RowProblem, TableError, read_csv_text, read_table

PERSON_FIELDS = ("name", "id_number", "sex", "birth_date", "phone", "address")
TAG_FIELDS = ("tag", "tag.kind", "tag.grade", "tag.valid_from", "tag.valid_to")
ENTERPRISE_FIELDS = (
    "credit_code",
    "name",
    "address",
    "industry",
    "risk_class",
    "contact",
    "phone",
    "lon",
    "lat",
)
KNOWN_FIELDS = frozenset(PERSON_FIELDS + TAG_FIELDS + ENTERPRISE_FIELDS)
EARLIEST_BIRTH = date(1890, 1, 1)


@dataclass(frozen=True)
class ColumnMap:
    """How one department's headers name the register's fields, and the values every row
    of its list carries (e.g. ``tag = allowance`` for civil affairs' allowance list)."""

    headers: dict[str, str]  # the file's header -> field
    constants: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``enterprises`` when the list names credit codes, else ``people``."""
        return "enterprises" if "credit_code" in self.headers.values() else "people"

    def header_of(self, name: str) -> str:
        """The file's header for a field (the field itself for a constant)."""
        for header, mapped in self.headers.items():
            if mapped == name:
                return header
        return name


def read_column_file(path: Path) -> ColumnMap:
    """A column file: ``header,field,value`` rows; an empty field ignores the header, an
    empty header gives every row ``value`` for ``field``."""
    try:
        frame = read_csv_text(path).frame
    except TableError:
        raise
    missing = {"header", "field"} - set(frame.columns)
    if missing:
        raise TableError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    headers, constants = {}, {}
    for number, row in enumerate(frame.to_dict("records"), start=2):
        header, name = str(row["header"]).strip(), str(row["field"]).strip()
        value = str(row.get("value", "")).strip()
        if name and name not in KNOWN_FIELDS:
            raise TableError(f"{path}: row {number}: unknown field {name!r}")
        if header and name:
            headers[header] = name
        elif name:
            constants[name] = value
    return ColumnMap(headers=headers, constants=constants)


@dataclass
class Row:
    """One checked row: its number as a spreadsheet shows it and its canonical values."""

    number: int
    values: dict[str, Any]


def _problem(number: int, column: str, key: str, **params: Any) -> RowProblem:
    return RowProblem(number, column, key, tuple(sorted((k, str(v)) for k, v in params.items())))


def read_rows(path: Path, columns: ColumnMap) -> tuple[list[dict[str, str]], list[RowProblem]]:
    """The file's rows as canonical field -> text; a file that cannot be read, or lacks a
    mapped column, is one problem on row 1 and no rows."""
    try:
        table = read_table(path, {})
    except TableError as exc:
        reason = "register.problem.encoding" if "encoding" in str(exc) else "register.problem.file"
        return [], [_problem(1, path.name, reason, detail=str(exc))]
    present = {str(c) for c in table.columns}
    headers = {h.lower() if h.isascii() else h: f for h, f in columns.headers.items()}
    missing = [h for h in headers if h not in present]
    if missing:
        return [], [_problem(1, h, "register.problem.missing_column") for h in missing]
    rows = []
    for record in table.to_dict("records"):
        values = {name: str(record.get(header, "")).strip() for header, name in headers.items()}
        rows.append({**columns.constants, **values})
    return rows, []


def check_person(
    number: int,
    raw: Mapping[str, str],
    columns: ColumnMap,
    tags: Mapping[str, TagKind],
    today: date,
) -> tuple[Row | None, list[RowProblem]]:
    """One person row checked: ID number, sex and birth date (and their agreement with the
    ID), phone, and the tag it grants with the tag's details and dates."""
    problems: list[RowProblem] = []

    def bad(name: str, key: str, **params: Any) -> None:
        problems.append(_problem(number, columns.header_of(name), key, **params))

    values: dict[str, Any] = {k: v for k, v in raw.items() if v}
    number_text = values.get("id_number")
    id_number = valid_id_number(number_text) if number_text else None
    if number_text and id_number is None:
        bad("id_number", "register.problem.id_number")
    if number_text and id_number:
        values["id_number"] = id_number
        if id_birth_date(id_number) > today:
            bad("id_number", "register.problem.birth_date")
    if "sex" in values:
        sex = SEX.get(values["sex"].lower())
        if sex is None:
            bad("sex", "register.problem.sex")
        elif id_number and sex != id_sex(id_number):
            bad("sex", "register.problem.sex_id")
        values["sex"] = sex
    elif id_number:
        values["sex"] = id_sex(id_number)
    if "birth_date" in values:
        born = parse_date(values["birth_date"])
        if born is None or not EARLIEST_BIRTH <= born <= today:
            bad("birth_date", "register.problem.birth_date")
        elif id_number and born != id_birth_date(id_number):
            bad("birth_date", "register.problem.birth_id")
        values["birth_date"] = born
    elif id_number:
        values["birth_date"] = id_birth_date(id_number)
    if "phone" in values:
        phone = values["phone"].replace(" ", "")
        if not 7 <= len(phone) <= 20 or not phone.replace("-", "").isdigit():
            bad("phone", "register.problem.phone")
        values["phone"] = phone
    if not number_text and not all(k in values for k in ("name", "birth_date", "address")):
        bad("id_number", "register.problem.unidentified")
    _check_tag(values, tags, bad)
    return (None if problems else Row(number, values)), problems


def _check_tag(values: dict[str, Any], tags: Mapping[str, TagKind], bad: Any) -> None:
    key = values.pop("tag", None)
    details = {d: values.pop(f"tag.{d}") for d in ("kind", "grade") if f"tag.{d}" in values}
    dates = {d: values.pop(f"tag.{d}") for d in ("valid_from", "valid_to") if f"tag.{d}" in values}
    if key is None:
        return
    if key not in tags:
        bad("tag", "register.problem.tag", tag=key)
        return
    if "kind" in details:
        details["kind"] = tags[key].kind_key(details["kind"])
    if "grade" in details:
        grade = parse_grade(details["grade"])
        if grade is None:
            bad("tag.grade", "register.problem.grade")
        details["grade"] = grade
    parsed: dict[str, date | None] = {}
    for name, text in dates.items():
        parsed[name] = parse_date(text)
        if parsed[name] is None:
            bad(f"tag.{name}", "register.problem.date")
    start, end = parsed.get("valid_from"), parsed.get("valid_to")
    if start and end and end < start:
        bad("tag.valid_to", "register.problem.date_order")
    values["tag"] = {"tag": key, "details": details, "valid_from": start, "valid_to": end}


def check_enterprise(
    number: int, raw: Mapping[str, str], columns: ColumnMap
) -> tuple[Row | None, list[RowProblem]]:
    """One enterprise row checked: credit code, industry, risk class, position, phone."""
    problems: list[RowProblem] = []

    def bad(name: str, key: str, **params: Any) -> None:
        problems.append(_problem(number, columns.header_of(name), key, **params))

    values: dict[str, Any] = {k: v for k, v in raw.items() if v}
    code = valid_credit_code(values.get("credit_code", ""))
    if code is None:
        bad("credit_code", "register.problem.credit_code")
    values["credit_code"] = code
    if "industry" in values:
        industry = INDUSTRY.get(values["industry"], values["industry"])
        if industry not in set(INDUSTRY.values()):
            bad("industry", "register.problem.industry", value=values["industry"])
        values["industry"] = industry
    if "risk_class" in values:
        risk = RISK.get(values["risk_class"])
        if risk is None:
            bad("risk_class", "register.problem.risk_class", value=values["risk_class"])
        values["risk_class"] = risk
    if "phone" in values:
        values["phone"] = values["phone"].replace(" ", "")
    if ("lon" in values) != ("lat" in values):
        bad("lon" if "lon" not in values else "lat", "register.problem.position")
    elif "lon" in values:
        try:
            lon, lat = float(values.pop("lon")), float(values.pop("lat"))
        except ValueError:
            bad("lon", "register.problem.position")
        else:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                bad("lon", "register.problem.position")
            values["position"] = (lon, lat)
    return (None if problems else Row(number, values)), problems
