"""The gridgov command: imports are dry runs unless --commit, refusals write nothing."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, func, select, text
from typer.testing import CliRunner

from gridgov.boundaries.levels import Level
from gridgov.boundaries.models import Area, Generation
from gridgov.cli import app
from gridgov.config import PROJECT_ROOT, get_settings
from gridgov.db import make_session_factory, session_scope
from gridgov.sensors.models import Sensor, SensorRule
from gridgov.users.models import User
from gridgov.users.service import authenticate
from tests import shapes

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch, database_url, demo_generation_id):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDGOV_LANG", "en")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def area_count(engine):
    with session_scope(make_session_factory(engine)) as session:
        return session.scalar(select(func.count()).select_from(Area))


def write_city(tmp_path, frame=None):
    path = tmp_path / "city.geojson"
    path.write_text((frame if frame is not None else shapes.tiny_city()[Level.CITY]).to_json())
    return path


def test_import_without_commit_is_a_dry_run(cli_env, engine, tmp_path):
    before = area_count(engine)
    result = runner.invoke(
        app, ["import", "boundaries", str(write_city(tmp_path)), "--level", "city"]
    )
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output and "dry run" in result.output
    assert area_count(engine) == before


def test_import_with_commit_writes_into_a_new_generation(cli_env, engine, tmp_path):
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        generation = Generation(name="cli test")
        session.add(generation)
        session.flush()
        generation_id = generation.id
    try:
        result = runner.invoke(
            app,
            [
                "import",
                "boundaries",
                str(write_city(tmp_path)),
                "--level",
                "city",
                "--generation",
                str(generation_id),
                "--commit",
            ],
        )
        assert result.exit_code == 0, result.output
        with session_scope(factory) as session:
            codes = session.scalars(
                select(Area.code).where(Area.generation_id == generation_id)
            ).all()
        assert codes == [shapes.CITY]
    finally:
        with session_scope(factory) as session:
            session.execute(delete(Generation).where(Generation.id == generation_id))


def test_file_with_errors_is_refused_whole_listing_every_error(cli_env, engine, tmp_path):
    rows = shapes.four_grids()
    rows[1]["code"] = "G1"
    rows[2]["geometry"] = shapes.square(0, 0, 2)
    path = tmp_path / "grids.geojson"
    path.write_text(shapes.frame(rows).to_json())
    before = area_count(engine)
    findings = tmp_path / "findings.geojson"
    result = runner.invoke(
        app,
        ["import", "boundaries", str(path), "--level", "grid", "--commit", "--findings", findings],
    )
    assert result.exit_code == 1
    assert "duplicate_code" in result.output and "overlap" in result.output
    collection = json.loads(findings.read_text(encoding="utf-8"))
    overlap = next(f for f in collection["features"] if f["properties"]["check"] == "overlap")
    assert overlap["geometry"]["type"] == "Polygon" and overlap["properties"]["area_m2"] > 100
    assert {f["properties"]["check"] for f in collection["features"]} >= {"duplicate_code"}
    assert "refused, nothing written" in result.output
    assert area_count(engine) == before


def test_corrupt_file_is_one_line_naming_file_and_reason(cli_env, engine, tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"this is not a geopackage")
    before = area_count(engine)
    result = runner.invoke(app, ["import", "boundaries", str(path), "--level", "city", "--commit"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ")
    assert area_count(engine) == before


# Shapefiles cut field names to 10 characters; the importer knows the short forms.
@pytest.mark.filterwarnings("ignore:Column names longer", "ignore:Normalized/laundered")
def test_projected_shapefile_without_prj_says_which_option_to_pass(cli_env, tmp_path):
    projected = shapes.tiny_city()[Level.CITY].to_crs("EPSG:4545")
    path = tmp_path / "city.shp"
    projected.to_file(path)
    path.with_suffix(".prj").unlink()
    result = runner.invoke(app, ["import", "boundaries", str(path), "--level", "city"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert f"error: {path}: " in result.output and "--crs EPSG:4545" in result.output
    declared = runner.invoke(
        app, ["import", "boundaries", str(path), "--level", "city", "--crs", "EPSG:4545"]
    )
    assert declared.exit_code == 0, declared.output
    assert "0 errors" in declared.output


def test_an_unexpected_failure_is_one_line_without_a_traceback(monkeypatch, capsys):
    from gridgov import cli

    def broken() -> None:
        raise RuntimeError("the disk is full\nsecond line")

    monkeypatch.setattr(cli, "app", broken)
    monkeypatch.delenv("GRIDGOV_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "error: RuntimeError: the disk is full"
    assert "Traceback" not in err


def test_locate_csv_adds_codes_to_every_row(cli_env, tmp_path):
    rng = np.random.default_rng(3)
    points = pd.DataFrame(
        {
            "id": range(300),
            "lon": rng.uniform(109.0, 109.2, 300),
            "lat": rng.uniform(21.45, 21.65, 300),
        }
    )
    source, target = tmp_path / "points.csv", tmp_path / "out.csv"
    points.to_csv(source, index=False)
    result = runner.invoke(app, ["locate", str(source), "--output", str(target)])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(target, dtype={"grid_code": str, "community_code": str})
    assert list(out["id"]) == list(range(300))
    located = out.dropna(subset=["grid_code"])
    assert len(located) > 150
    assert all(
        g.startswith(c)
        for g, c in zip(located["grid_code"], located["community_code"], strict=True)
    )


def test_locate_names_a_missing_column(cli_env, tmp_path):
    source = tmp_path / "points.csv"
    source.write_text("x,y\n1,2\n")
    result = runner.invoke(app, ["locate", str(source)])
    assert result.exit_code == 1
    assert "no longitude column" in result.output and "x, y" in result.output


def sensor_codes(engine):
    with session_scope(make_session_factory(engine)) as session:
        return session.scalars(select(Sensor.code).where(Sensor.code.like("T-CLI%"))).all()


def rule_names(engine):
    with session_scope(make_session_factory(engine)) as session:
        return session.scalars(select(SensorRule.name).where(SensorRule.name.like("T-CLI%"))).all()


def test_sensor_imports_are_dry_runs_unless_commit(cli_env, engine, tmp_path):
    sensors = tmp_path / "sensors.csv"
    sensors.write_text(
        "code,name,kind,owner_department,lon,lat,metrics\n"
        "T-CLI1,命令行水质站,water_quality,990105-HB,109.1,21.55,ph:pH\n",
        encoding="utf-8",
    )
    rules = tmp_path / "rules.csv"
    rules.write_text(
        "name,sensor,metric,condition,low,high,max_rate_per_minute,sustain_count,"
        "sustain_minutes,clear_minutes,category_code\n"
        "T-CLI pH,T-CLI1,ph,above,,9,,1,0,0,0602\n",
        encoding="utf-8",
    )
    try:
        dry = runner.invoke(app, ["import", "sensors", str(sensors)])
        assert dry.exit_code == 0, dry.output
        assert dry.output == "1 sensors are valid; dry run: add --commit to write\n"
        assert sensor_codes(engine) == []
        wrote = runner.invoke(app, ["import", "sensors", str(sensors), "--commit"])
        assert (wrote.exit_code, wrote.output) == (0, "wrote 1 sensors\n")
        assert sensor_codes(engine) == ["T-CLI1"]
        dry = runner.invoke(app, ["import", "sensor-rules", str(rules)])
        assert dry.exit_code == 0, dry.output
        assert dry.output == "1 rules are valid; dry run: add --commit to write\n"
        assert rule_names(engine) == []
        wrote = runner.invoke(app, ["import", "sensor-rules", str(rules), "--commit"])
        assert (wrote.exit_code, wrote.output) == (0, "wrote 1 rules\n")
        assert rule_names(engine) == ["T-CLI pH"]
    finally:
        with session_scope(make_session_factory(engine)) as session:
            session.execute(delete(SensorRule).where(SensorRule.name.like("T-CLI%")))
            session.execute(delete(Sensor).where(Sensor.code.like("T-CLI%")))


def test_a_bad_sensors_file_lists_every_problem_and_writes_nothing(cli_env, engine, tmp_path):
    sensors = tmp_path / "sensors.csv"
    sensors.write_text(
        "code,name,kind,owner_department,lon,lat,metrics\n"
        "T-CLI1,,water_quality,NOPE,109.1,21.55,ph:pH\n"
        "T-CLI2,,water_quality,990105-HB,east,21.55,ph:pH\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", "sensors", str(sensors), "--commit"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "  line 2: owner_department: no department NOPE",
        "  line 3: lon: 'east' is not a number",
        f"error: {sensors}: refused (2 problems), nothing written",
    ]
    assert sensor_codes(engine) == []


def test_users_add_makes_an_account_that_can_sign_in(cli_env, engine):
    factory = make_session_factory(engine)
    try:
        made = runner.invoke(
            app,
            ["users", "add", "cli_head", "--role", "grid_head", "--grid", "990105009003007"],
            env={"GRIDGOV_NEW_PASSWORD": "a-long-password-1"},
        )
        assert made.exit_code == 0, made.output
        assert "cli_head (grid_head)" in made.output
        with session_scope(factory) as session:
            user = authenticate(session, username="cli_head", password="a-long-password-1")
            assert user is not None and user.grid_code == "990105009003007"
        again = runner.invoke(
            app, ["users", "add", "cli_head", "--role", "grid_head", "--grid", "990105009003007"],
            env={"GRIDGOV_NEW_PASSWORD": "a-long-password-1"},
        )  # fmt: skip
        assert again.exit_code != 0
        bad_role = runner.invoke(app, ["users", "add", "cli_x", "--role", "king"],
                                 env={"GRIDGOV_NEW_PASSWORD": "a-long-password-1"})  # fmt: skip
        assert bad_role.exit_code != 0
    finally:
        with session_scope(factory) as session:
            session.execute(delete(User).where(User.username.in_(["cli_head", "cli_x"])))


def test_generations_new_list_and_activate(cli_env, engine, demo_generation_id):
    factory = make_session_factory(engine)
    made = runner.invoke(app, ["generations", "new", "cli empty"])
    assert made.exit_code == 0, made.output
    new_id = int(made.output.strip())
    try:
        listed = runner.invoke(app, ["generations", "list"]).output.splitlines()
        rows = {int(line.split("\t")[0]): line.split("\t") for line in listed}
        assert rows[new_id][1] == "inactive" and rows[new_id][3] == "cli empty"
        assert rows[demo_generation_id][1] == "active"
        # A generation without grids cannot answer lookups: refused, the demo stays active.
        refused = runner.invoke(app, ["generations", "activate", str(new_id)])
        assert refused.exit_code != 0
        assert (
            runner.invoke(app, ["generations", "activate", str(demo_generation_id)]).exit_code == 0
        )
        with session_scope(factory) as session:
            assert session.get(Generation, demo_generation_id).is_active
            assert not session.get(Generation, new_id).is_active
    finally:
        with session_scope(factory) as session:
            session.execute(delete(Generation).where(Generation.id == new_id))


def test_demo_load_is_done_once(
    cli_env, engine, demo_generation_id, committed, tmp_path, monkeypatch
):
    # ``committed``: the demo register it loads (sealed with this run's key) is truncated
    # after, or later tests would read people sealed with a key they do not hold.
    monkeypatch.setenv("GRIDGOV_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    before = generation_ids(engine)
    result = runner.invoke(app, ["demo", "load"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "the demo city is loaded and active"
    assert generation_ids(engine) == before and demo_generation_id in before


def generation_ids(engine):
    with session_scope(make_session_factory(engine)) as session:
        return set(session.scalars(select(Generation.id)))


def test_serve_runs_the_app_factory_where_it_is_told(cli_env, monkeypatch, committed, tmp_path):
    import uvicorn

    # ``committed``: the demo register serve loads is truncated after (see the test above).
    monkeypatch.setenv("GRIDGOV_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    # With the demo (loaded already: nothing changes). --no-demo would switch the demo
    # accounts off in the database every later test signs in with; tests/test_tokens.py
    # checks that in a rolled-back session.
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        result = runner.invoke(app, ["serve", "--host", "127.0.0.1", "--port", "8765"])
    finally:  # serve sets up the service's JSON logging; the later tests read plain output
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert result.exit_code == 0, result.output
    [(target, options)] = calls
    assert target == "api.main:serve_app"
    assert options | {"factory": True, "host": "127.0.0.1", "port": 8765, "workers": 1} == options


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["departments", "demo_city/departments.csv"], "departments are valid; dry run"),
        (["responsibilities", "demo_city/responsibilities.csv"], "rules are valid; dry run"),
        (["stockpiles", "demo_city/stockpiles.csv"], "lots are valid; dry run"),
        (["roads", "demo_city/roads.geojson"], "dry run: nothing written"),
        (["sensors", "demo_city/sensors.csv"], "dry run"),
        (["sensor-rules", "sensor_rules.csv"], "dry run"),
        (["categories", "categories.csv"], "dry run"),
        (["items", "items.csv"], "dry run"),
    ],
)
def test_every_import_reads_the_demo_citys_own_files(cli_env, engine, args, said):
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        before = {t: session.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES}
    kind, path = args
    result = runner.invoke(app, ["import", kind, str(PROJECT_ROOT / "geodata" / path)])
    assert result.exit_code == 0, result.output
    assert said in result.output
    with session_scope(factory) as session:
        assert {t: session.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES} == before
    missing = runner.invoke(app, ["import", kind, str(PROJECT_ROOT / "geodata" / "nothing.csv")])
    assert missing.exit_code != 0


TABLES = ("departments", "responsibility_rules", "stockpiles", "stock_lots", "roads",
          "sensors", "sensor_rules", "categories", "items")  # fmt: skip
