"""Readings in: validate the whole batch, COPY it, skip duplicates, evaluate the rules.

A batch is accepted or refused whole: every bad row is listed and nothing is written.
The usual batch (new readings only) is one COPY straight into the partitioned ``readings``
table; while the server takes it, the rules are evaluated in Python (see ``evaluation``).
If any row is there already, the batch goes through a temporary table and INSERT ... ON
CONFLICT DO NOTHING instead, so a re-sent batch writes nothing twice, and only the new
readings are evaluated: for each (sensor, rule) they touch, the rule goes on from where it
stands (readings in order, the usual case: nothing is read back), or replays the readings
from the last known state before them to the end, in time order (readings out of order),
and the alerts become those of the data in time order (see ``late``). Alerts are opened,
cleared, moved or withdrawn, never deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import isfinite
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.i18n import t
from gridgov.sensors.evaluation import Evaluation
from gridgov.sensors.partitions import Month, ensure_partitions, month_of
from gridgov.tables import TimeCache, parse_number
from gridgov.users.roles import Action, Actor, allowed
from gridgov.users.scope import placed

MAX_FUTURE = timedelta(minutes=5)
Row = tuple[int, str, datetime, float]  # sensor id, metric, time, value
T = TypeVar("T")


@dataclass(frozen=True)
class RowProblem:
    row: int  # 0-based position in the batch
    field: str
    reason: str


class BatchRefused(ValueError):
    """Some rows are bad: none of the batch was written. ``problems`` lists every one."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} bad rows")
        self.problems = problems


@dataclass
class IngestResult:
    received: int = 0
    written: int = 0
    alerts_opened: list[int] = field(default_factory=list)
    alerts_cleared: list[int] = field(default_factory=list)
    alerts_withdrawn: list[int] = field(default_factory=list)  # late readings showed none

    @property
    def duplicates(self) -> int:
        return self.received - self.written


_SENSORS = text(
    "SELECT code, id, kind, metrics, city_code, district_code, street_code, community_code "
    "FROM sensors WHERE code = ANY(:codes)"
)


def validate(
    session: Session,
    rows: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    actor: Actor | None = None,
    timezone: str = "Asia/Shanghai",
) -> list[Row]:
    """Rows as (sensor id, metric, time, value), or BatchRefused with every problem; a time
    without an offset is the city's (``timezone``)."""
    return _validate(session, rows, now=now, actor=actor, timezone=timezone)[0]


def _validate(
    session: Session,
    rows: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    actor: Actor | None = None,
    timezone: str = "Asia/Shanghai",
) -> tuple[list[Row], dict[int, str]]:
    """The good rows, and the kind of each sensor they name; a sensor outside ``actor``'s
    area makes its rows bad (None: a trusted caller, the command line)."""
    checker = _Checker(session, list(rows), now=now, actor=actor, timezone=timezone)
    checker.check_rest()
    checker.refuse_if_bad()
    return checker.valid, checker.kinds


class _Checker:
    """A batch's rows checked a slice at a time (so that ``ingest`` can check the next slice
    while the server takes the COPY of the last one): the good ones in ``valid``, every
    problem in ``problems``."""

    def __init__(
        self,
        session: Session,
        rows: list[Mapping[str, Any]],
        *,
        now: datetime,
        actor: Actor | None,
        timezone: str,
    ) -> None:
        self.rows = rows
        # Only a string can name a sensor (any other value is refused, whatever it says).
        codes = sorted({code for r in rows if isinstance(code := r.get("sensor"), str)})
        self.sensors: dict[str, tuple[int, set[str]]] = {}
        self.kinds: dict[int, str] = {}
        self.out_of_reach: set[str] = set()
        for code, sensor_id, kind, metrics, *areas in session.execute(_SENSORS, {"codes": codes}):
            if actor is not None and not allowed(actor, Action.INGEST, placed(session, areas)):
                self.out_of_reach.add(code)
                continue
            self.sensors[code] = (sensor_id, set(metrics))
            self.kinds[sensor_id] = kind
        self.times = TimeCache(ZoneInfo(timezone))
        self.latest = now + MAX_FUTURE
        self.valid: list[Row] = []
        self.problems: list[RowProblem] = []
        self.checked = 0  # rows[:checked] are checked

    def check_next(self, count: int) -> list[Row]:
        """Check the next ``count`` rows; their good rows (also added to ``valid``)."""
        start, self.checked = self.checked, min(self.checked + count, len(self.rows))
        return self._check(start, self.checked)

    def check_rest(self) -> None:
        self.check_next(len(self.rows))

    def months(self) -> set[Month] | None:
        """The months of the batch's good times, from its distinct time values (a batch
        repeats them); None when a value cannot be told apart cheaply (unhashable)."""
        try:
            stamps = {row.get("time") for row in self.rows}
        except TypeError:
            return None
        found = (self.times(stamp) for stamp in stamps)
        return {month_of(at) for at in found if at is not None and at <= self.latest}

    def _check(self, start: int, stop: int) -> list[Row]:
        sensors, times, latest = self.sensors, self.times, self.latest
        out: list[Row] = []
        for n in range(start, stop):
            row = self.rows[n]
            # The happy path first, with as little work as a row allows; any doubt goes to
            # _check_row, which names every problem of the row.
            code = row.get("sensor")
            sensor = sensors.get(code) if isinstance(code, str) else None
            metric = row.get("metric")
            at = times(row.get("time"))
            value = row.get("value")
            # A finite float from JSON needs no parsing; anything else goes to parse_number.
            if type(value) is not float or not isfinite(value):
                value = parse_number(value)
            if (
                sensor is not None
                and isinstance(metric, str)
                and metric in sensor[1]
                and at is not None
                and at <= latest
                and value is not None
            ):
                out.append((sensor[0], str(metric), at, value))
            else:
                self.problems += _check_row(n, row, sensors, at, latest, value, self.out_of_reach)
        self.valid += out
        return out

    def refuse_if_bad(self) -> None:
        if self.problems:
            raise BatchRefused(self.problems)


def _check_row(
    n: int,
    row: Mapping[str, Any],
    sensors: Mapping[str, tuple[int, set[str]]],
    at: datetime | None,
    latest: datetime,
    value: float | None,
    out_of_reach: Container[str] = (),
) -> list[RowProblem]:
    found = []
    code = row.get("sensor")
    sensor = sensors.get(code) if isinstance(code, str) else None
    if not isinstance(code, str):
        found.append(RowProblem(n, "sensor", f"{code!r} is not a sensor code (a code is a string)"))
    elif code in out_of_reach:
        found.append(RowProblem(n, "sensor", t("scope.sensor", "en", code=code)))
    elif sensor is None:
        found.append(RowProblem(n, "sensor", f"unknown sensor {code!r}"))
    metric = row.get("metric")
    if sensor is not None and (not isinstance(metric, str) or metric not in sensor[1]):
        found.append(RowProblem(n, "metric", f"{code} does not report {metric!r}"))
    if at is None:
        found.append(RowProblem(n, "time", f"{row.get('time')!r} is not an ISO 8601 time"))
    elif at > latest:
        found.append(RowProblem(n, "time", f"{at.isoformat()} is in the future"))
    if value is None:
        found.append(RowProblem(n, "value", f"{row.get('value')!r} is not a number"))
    return found


def ingest(
    session: Session,
    *,
    rows: Iterable[Mapping[str, Any]],
    now: datetime | None = None,
    actor: Actor | None = None,
    index: GridIndex | None = None,
    timezone: str = "Asia/Shanghai",
) -> IngestResult:
    """Validate, write (skipping duplicates) and evaluate one batch, in the caller's
    transaction; rows of sensors outside ``actor``'s area refuse it (None: a trusted caller).
    An alert's incident is placed by ``index``, the in-memory grids, when given. A time
    without an offset is the city's (``timezone``, GRIDGOV_TIMEZONE)."""
    now = now or datetime.now(UTC)
    checker = _Checker(session, list(rows), now=now, actor=actor, timezone=timezone)
    months = checker.months()
    if months is None:  # an odd batch: checked whole first, the way any batch once was
        checker.check_rest()
        checker.refuse_if_bad()
        months = {month_of(at) for at in {r[2] for r in checker.valid}}
    result = IngestResult()
    if not checker.rows:
        return result
    # The service makes partitions ahead; a back-fill may reach a month it has not made.
    ensure_partitions(session, months)
    evaluation = Evaluation(session, checker.kinds)
    new, judged = _copy_new(session, checker, meanwhile=lambda: evaluation.judge(checker.valid))
    result.received = len(checker.valid)
    result.written = len(new)
    if judged is None:  # some rows were there already: judge the new ones only
        judged = evaluation.judge(new)
    evaluation.finish(session, judged, result=result, now=now, index=index)
    return result


PIECE = 2000  # rows per piece of COPY text: the server starts on one while the next is made


def _copy_new(
    session: Session, checker: _Checker, *, meanwhile: Callable[[], T]
) -> tuple[list[Row], T | None]:
    """Check the batch and write the rows that are new, and return them, with what
    ``meanwhile`` returned if it ran while the server took the COPY (only when every row
    was new); BatchRefused, with nothing written, when any row is bad.

    The usual case, a batch of new readings, is one COPY straight into ``readings`` (inside a
    savepoint), each piece checked just before it is sent, so the server inserts one piece
    while Python checks the next. A bad row rolls the savepoint back. If any row is there
    already (or comes twice in the batch), the COPY fails as a whole, the savepoint is
    rolled back, and the batch goes through a temporary table and INSERT ... ON CONFLICT DO
    NOTHING, which reads back the rows that were new.
    """
    raw = session.connection().connection.driver_connection
    assert raw is not None

    def pieces() -> Iterator[str]:
        if checker.checked == len(checker.rows):  # checked whole before (an odd batch)
            yield from _copy_text(checker.valid)
        while checker.checked < len(checker.rows):
            good = checker.check_next(PIECE)
            if good:
                yield _copy_piece(good, stamps)

    stamps: dict[datetime, str] = {}
    try:
        with raw.transaction():  # a savepoint inside the caller's transaction
            found = _copy(
                raw, "readings", pieces(), lambda: None if checker.problems else meanwhile()
            )
            checker.refuse_if_bad()  # raised inside: the savepoint is rolled back
    except psycopg.errors.UniqueViolation:
        pass  # rolled back to the savepoint: take the careful way below
    else:
        return checker.valid, found
    checker.check_rest()  # the COPY may have failed before every piece was checked
    checker.refuse_if_bad()
    rows = checker.valid
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS readings_batch "
            "(sensor_id int, metric text, at timestamptz, value float8) ON COMMIT DELETE ROWS"
        )
    )
    session.execute(text("TRUNCATE readings_batch"))
    _copy(raw, "readings_batch", _copy_text(rows))
    inserted = session.execute(
        text(
            "INSERT INTO readings (sensor_id, metric, at, value) "
            "SELECT DISTINCT ON (sensor_id, metric, at) sensor_id, metric, at, value "
            "FROM readings_batch ON CONFLICT DO NOTHING RETURNING sensor_id, metric, at, value"
        )
    ).all()
    return [(r.sensor_id, r.metric, r.at, r.value) for r in inserted], None


def _copy_text(rows: list[Row]) -> Iterator[str]:
    """The rows as COPY text, a piece at a time."""
    stamps: dict[datetime, str] = {}
    for start in range(0, len(rows), PIECE):
        yield _copy_piece(rows[start : start + PIECE], stamps)


def _copy_piece(rows: list[Row], stamps: dict[datetime, str]) -> str:
    """Rows as COPY text; ``stamps`` keeps the text of each time already written."""
    lines = []
    for sensor_id, metric, at, value in rows:
        stamp = stamps.get(at) or stamps.setdefault(at, at.isoformat())
        lines.append(f"{sensor_id}\t{metric}\t{stamp}\t{value!r}\n")
    return "".join(lines)


def _copy(
    raw: psycopg.Connection[Any],
    table: str,
    pieces: Iterable[str],
    meanwhile: Callable[[], T] | None = None,
) -> T | None:
    """COPY the pieces into the table; ``meanwhile`` (which must not use the database) runs
    before the end of the COPY is awaited, while the server is still taking the rows."""
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} (sensor_id, metric, at, value) FROM STDIN") as copy,
    ):
        # Each piece goes out as soon as it is made (as much as the socket takes; libpq keeps
        # the rest), so the server parses and inserts the first rows while Python formats the
        # next ones and judges the batch.
        for piece in pieces:
            copy.write(piece)
        return meanwhile() if meanwhile else None
