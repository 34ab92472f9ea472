"""The register's speed (issue #15): department imports, tiers, and a prefecture's register.

    .venv/bin/python -m benchmarks.register                      # the issue's sizes
    .venv/bin/python -m benchmarks.register --people 200000 --households 80000 --rows 20000

Two stages, each in a throwaway embedded PostGIS cluster under ``--work``:

1. **The demo city** with its own register (50,667 people): a civil-affairs allowance list of
   ``--rows`` rows (GBK CSV, the shipped column file) — every demo resident, matched by ID
   number, and new people to the total — planned (dry run) and committed; then every
   household's tier recomputed (``retier``).
2. **A prefecture**: the city regenerated with ``--grids`` grids and a register of ``--people``
   people in ``--households`` households written set-based (``INSERT ... SELECT``; the first
   ``--rows`` // 2 people carry real keyed hashes of valid ID numbers, the rest hashes of
   nothing, which matching treats alike). Then the grid heads' household lists over HTTP
   (``gridgov serve``, the load client of the suite, 4 connections), the same import against
   it, and tier counts per community for the whole city (``tier_counts``, as the map's
   layer reads them). Every household's tier is computed from the tags once it is built.

It prints one line per figure and a JSON document at the end (``--out`` to keep it). Targets
(2 cores): import 100,000 rows < 30 s (dry run and commit each), tiers of the demo city < 5 s;
on the prefecture: a grid's households p99 < 50 ms, the import < 60 s, tier counts < 5 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import ric

from benchmarks.city import make_city
from benchmarks.suite import free_port, gridgov_command, load, machine, served
from gridgov.config import PROJECT_ROOT
from gridgov.db import make_engine, make_session_factory, session_scope
from gridgov.db.embedded import EmbeddedCluster
from gridgov.db.migrate import upgrade
from gridgov.demo import load_demo_city, load_demo_register
from gridgov.register.access import Reader
from gridgov.register.protect import RegisterKeys
from gridgov.register.service import import_register
from gridgov.register.tier_views import tier_counts
from gridgov.register.tiering import retier

GEODATA = PROJECT_ROOT / "geodata"
COLUMNS = GEODATA / "register" / "columns" / "民政局_低保对象名单.csv"
HEADER = ["序号", "姓名", "身份证号码", "性别", "出生日期", "家庭住址", "保障类别"]
HEADER += ["保障起始日期", "保障终止日期"]
TODAY = date(2026, 12, 1)
SECRET = "register benchmark key " + "k" * 20


def id_number(n: int) -> str:
    """The n-th synthetic GB 11643 number (region 9901xx, born 1930-2009, valid check)."""
    born = date(1930 + n % 80, 1 + n // 80 % 12, 1 + n // 960 % 28)
    body = f"9901{n % 6 + 2:02d}{born:%Y%m%d}{n // 26880 % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def write_list(path: Path, known: list[tuple[str, str, str]], rows: int, start: int) -> Path:
    """A civil-affairs list in GBK: ``known`` (ID number, name, birth date) first, then new
    people numbered from ``start`` until ``rows`` rows."""
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for n in range(rows):
            if n < len(known):
                number, name, born = known[n]
            else:
                number = id_number(start + n)
                name, born = f"新居民{n}", f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
            sex = "男" if int(number[16]) % 2 else "女"
            address = f"东澜区合成路{n % 500}号"
            out.writerow([n + 1, name, number, sex, born, address, "城市低保", "2025-01-01", ""])
    return path


@contextmanager
def cluster(root: Path) -> Iterator[str]:
    shutil.rmtree(root, ignore_errors=True)
    embedded = EmbeddedCluster(root=root, fast_unsafe=True)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop()


def timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = work()
    return time.perf_counter() - started, value


def import_figures(factory: sessionmaker[Session], path: Path, keys: RegisterKeys) -> dict:
    """The list planned (dry run, rolled back) and committed, timed apart."""

    def run(commit: bool) -> Any:
        with factory() as session:
            result = import_register(
                session,
                keys=keys,
                path=path,
                columns_path=COLUMNS,
                source="民政局",
                geodata_dir=GEODATA,
                today=TODAY,
                now=datetime.now(UTC),
                commit=commit,
            )
            session.commit() if commit else session.rollback()
            return result.plan.counts()

    dry_s, counts = timed(lambda: run(False))
    commit_s, _ = timed(lambda: run(True))
    return {"dry_run_s": round(dry_s, 2), "commit_s": round(commit_s, 2), "counts": counts}


def retier_seconds(factory: sessionmaker[Session]) -> float:
    """Every household's tier recomputed and stored, committed."""
    with factory() as session:
        seconds, _ = timed(
            lambda: retier(session, household_ids=None, today=TODAY, now=datetime.now(UTC))
        )
        session.commit()
    return round(seconds, 2)


def tier_count_seconds(factory: sessionmaker[Session], reader: Reader) -> tuple[float, int]:
    """Households per tier per community for the whole city, as a city-wide operator reads
    them for the map (small counts suppressed): seconds, communities."""
    with factory() as session:
        seconds, counts = timed(lambda: tier_counts(session, reader=reader, level="community"))
    return round(seconds, 2), len(counts)


def demo_stage(work: Path, rows: int, keys: RegisterKeys) -> dict[str, Any]:
    with cluster(work / "pg-demo") as url:
        engine = make_engine(url)
        upgrade(engine)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            load_demo_city(session, geodata_dir=GEODATA, accounts=False)
            load_demo_register(session, geodata_dir=GEODATA, keys=keys)
        with (GEODATA / "demo_city" / "register" / "people.csv").open(encoding="utf-8") as fh:
            known = [(r["id_number"], r["name"], r["birth_date"]) for r in csv.DictReader(fh)]
        path = write_list(work / "allowance-demo.csv", known[:rows], rows, start=10_000_000)
        _analyze(engine)
        figures: dict[str, Any] = {"people": len(known), "rows": rows}
        figures["import"] = import_figures(factory, path, keys)
        print(f"demo city: import {rows} rows {figures['import']}", flush=True)
        figures["retier_s"] = retier_seconds(factory)
        print(f"demo city: every household's tier in {figures['retier_s']} s", flush=True)
        engine.dispose()
    return figures


def _analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


GRIDS_TABLE = """
CREATE TEMP TABLE bench_grids AS
SELECT row_number() OVER (ORDER BY g.code) - 1 AS n, g.code, c.code AS community,
       s.code AS street, d.code AS district, city.code AS city, ST_PointOnSurface(g.geom) AS pos
FROM grids g JOIN boundary_generations gen ON gen.id = g.generation_id AND gen.is_active
JOIN areas c ON c.id = g.parent_id JOIN areas s ON s.id = c.parent_id
JOIN areas d ON d.id = s.parent_id JOIN areas city ON city.id = d.parent_id
"""
HOUSES = """
INSERT INTO houses (code, address, position, grid_code, community_code, street_code,
                    district_code, city_code, use, tenure)
SELECT 'BH' || h, '合成地址' || h || '号', g.pos, g.code, g.community, g.street, g.district,
       g.city, 'residential', CASE WHEN h % 5 = 0 THEN 'rented' ELSE 'owned' END
FROM generate_series(0, :households - 1) h JOIN bench_grids g ON g.n = h % :grids
"""
HOUSEHOLDS = """
INSERT INTO households (code, house_id)
SELECT 'BHH' || substr(code, 3), id FROM houses WHERE code LIKE 'BH%'
"""
PEOPLE = """
INSERT INTO people (name, id_hash, id_sealed, sex, birth_date, phone_sealed, household_id,
                    relation)
SELECT '居民' || p, sha256(('bench' || p)::bytea), :id_sealed,
       CASE WHEN p % 2 = 0 THEN 'male' ELSE 'female' END,
       date '1930-01-01' + (p::bigint * 7919 % 29000)::int, :phone_sealed,
       :first_household + p % :households,
       CASE WHEN p < :households THEN 'head' ELSE 'other' END
FROM generate_series(:from_person, :people - 1) p
"""
TAGS = """
INSERT INTO person_tags (person_id, tag, source)
SELECT id, CASE WHEN id % 3 = 0 THEN 'allowance' ELSE 'living_alone' END, 'bench'
FROM people WHERE id % 11 = 0
"""


def build_register(
    factory: sessionmaker[Session], keys: RegisterKeys, *, people: int, households: int, known: int
) -> list[tuple[str, str, str]]:
    """The prefecture's register, set-based; the first ``known`` people with real keyed
    hashes (returned as ID number, name, birth date for the import list)."""
    sealed_id = keys.seal("990102194003120118", field="id_number")
    sealed_phone = keys.seal("13812345678", field="phone")
    with session_scope(factory) as session:
        session.execute(text(GRIDS_TABLE))
        grids = session.scalar(text("SELECT count(*) FROM bench_grids"))
        session.execute(text(HOUSES), {"households": households, "grids": grids})
        session.execute(text(HOUSEHOLDS))
        first = session.scalar(text("SELECT min(id) FROM households WHERE code LIKE 'BHH%'"))
        rows = []
        for p in range(known):
            number = id_number(p)
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            rows.append(
                {
                    "name": f"居民{p}",
                    "id_hash": keys.id_hash(number),
                    "born": born,
                    "household": first + p % households,
                    "sex": "male" if int(number[16]) % 2 else "female",
                }
            )
        session.execute(
            text(
                "INSERT INTO people (name, id_hash, id_sealed, sex, birth_date, phone_sealed,"
                " household_id, relation) VALUES (:name, :id_hash, :id_sealed, :sex, :born,"
                " :phone_sealed, :household, 'other')"
            ),
            [{**r, "id_sealed": sealed_id, "phone_sealed": sealed_phone} for r in rows],
        )
        session.execute(
            text(PEOPLE),
            {
                "id_sealed": sealed_id,
                "phone_sealed": sealed_phone,
                "first_household": first,
                "households": households,
                "from_person": known,
                "people": people,
            },
        )
        session.execute(text(TAGS))
    return [(id_number(p), f"居民{p}", r["born"].isoformat()) for p, r in enumerate(rows)]


def grid_heads(
    factory: sessionmaker[Session], count: int, secret: str
) -> tuple[list[dict[str, Any]], Reader]:
    """``count`` grid heads on grids spread over the city, each with a token, and a
    city-wide operator (who reads the tier counts)."""
    from gridgov.users.service import create_user, issue_token

    heads = []
    with session_scope(factory) as session:
        codes = session.scalars(
            text("SELECT code FROM bench_grids_kept ORDER BY n LIMIT :count"), {"count": count}
        ).all()
        for n, code in enumerate(codes):
            user = create_user(
                session,
                username=f"bench_head_{n}",
                password=secrets.token_urlsafe(16),
                role="grid_head",
                grid_code=code,
            )
            session.flush()
            token = issue_token(user, secret=secret, hours=24).token
            heads.append({"grid": code, "headers": {"Authorization": f"Bearer {token}"}})
        city = session.scalar(text("SELECT city FROM bench_grids_kept LIMIT 1"))
        operator = create_user(
            session,
            username="bench_operator",
            password=secrets.token_urlsafe(16),
            role="operator",
            area_code=city,
        )
        session.flush()
        reader = Reader(operator.id, "operator", area_code=city)
    return heads, reader


def prefecture_stage(work: Path, args: argparse.Namespace, keys: RegisterKeys) -> dict[str, Any]:
    geodata = make_city(work / f"city-{args.grids}", args.grids)
    figures: dict[str, Any] = {"grids": args.grids, "people": args.people}
    figures["households"] = args.households
    with cluster(work / "pg-big") as url:
        engine = make_engine(url)
        upgrade(engine)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            load_demo_city(session, geodata_dir=geodata, accounts=False)
        known_count = args.rows // 2
        seconds, known = timed(
            lambda: build_register(
                factory, keys, people=args.people, households=args.households, known=known_count
            )
        )
        figures["build_s"] = round(seconds, 1)
        with session_scope(factory) as session:
            session.execute(
                text(GRIDS_TABLE.replace("TEMP TABLE bench_grids", "TABLE bench_grids_kept"))
            )
        _analyze(engine)
        print(f"prefecture: {args.people} people written in {seconds:.0f} s", flush=True)
        figures["retier_s"] = retier_seconds(factory)
        print(f"prefecture: every household's tier in {figures['retier_s']} s", flush=True)

        secret = secrets.token_urlsafe(32)
        heads, operator = grid_heads(factory, 20, secret)
        port = free_port()
        env = {
            **os.environ,
            "GRIDGOV_DATABASE_URL": url,
            "GRIDGOV_DATA_DIR": str(work / "var"),
            "GRIDGOV_GEODATA_DIR": str(geodata),
            "GRIDGOV_SECRET_KEY": secret,
            "GRIDGOV_REGISTER_KEY": SECRET,
            "GRIDGOV_LOG_LEVEL": "WARNING",
        }
        with served(
            gridgov_command(port, 1), ready_path="/healthz", port=port, env=env,
            log=work / "serve.log",
        ) as base:  # fmt: skip
            lists = []
            for head in heads:
                found = load(
                    base,
                    [["GET", f"/api/v1/register/households?grid={head['grid']}", None]],
                    connections=1,
                    seconds=args.seconds / len(heads),
                    headers=head["headers"],
                    work=work,
                )
                lists.append(found)
        p99 = sorted(f["p99_ms"] for f in lists)
        figures["households_list"] = {
            "p99_ms_worst_grid": p99[-1],
            "p99_ms_median_grid": p99[len(p99) // 2],
            "p50_ms_median_grid": sorted(f["p50_ms"] for f in lists)[len(lists) // 2],
            "requests": sum(f["requests"] for f in lists),
            "errors": sum(f["errors"] for f in lists),
            "per_grid": round(args.people / args.grids),
        }
        print(f"prefecture: a grid's households {figures['households_list']}", flush=True)

        path = write_list(work / "allowance-big.csv", known, args.rows, start=20_000_000)
        figures["import"] = import_figures(factory, path, keys)
        print(f"prefecture: import {args.rows} rows {figures['import']}", flush=True)

        figures["tier_counts_s"], figures["tier_count_communities"] = tier_count_seconds(
            factory, operator
        )
        print(f"prefecture: tier counts per community in {figures['tier_counts_s']} s", flush=True)
        engine.dispose()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--grids", type=int, default=5000)
    parser.add_argument("--people", type=int, default=5_000_000)
    parser.add_argument("--households", type=int, default=2_000_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="the households-list load")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-prefecture", action="store_true")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="gridgov-register-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    keys = RegisterKeys.from_secret(SECRET)
    result: dict[str, Any] = {"machine": machine(), "at": datetime.now(UTC).isoformat()}
    if not args.skip_demo:
        result["demo_city"] = demo_stage(work, args.rows, keys)
    if not args.skip_prefecture:
        result["prefecture"] = prefecture_stage(work, args, keys)
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str) + "\n")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
