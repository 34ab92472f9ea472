"""The ``gridgov`` command: run the service, manage the database, import and look up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gridgov.boundaries.generations import (
    GenerationError,
    activate_generation,
    create_generation,
    latest_inactive_generation,
    list_generations,
)
from gridgov.boundaries.importer import ImportRefused, import_boundaries
from gridgov.boundaries.io import BoundaryFileError, Columns, read_boundary_file
from gridgov.boundaries.levels import Level
from gridgov.boundaries.quality import DEFAULT_SLIVER_M2
from gridgov.cache import GridIndexCache
from gridgov.config import get_settings
from gridgov.db import session_scope
from gridgov.db.embedded import cluster_for
from gridgov.departments.service import (
    DepartmentFileError,
    read_departments_csv,
    upsert_departments,
)
from gridgov.geo.crs import InputCRS
from gridgov.register import commands as register_commands

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(
    help="gridgov: grid governance on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The embedded PostGIS cluster.", no_args_is_help=True)
import_app = typer.Typer(help="Import boundaries and reference tables.", no_args_is_help=True)
generations_app = typer.Typer(help="Boundary generations.", no_args_is_help=True)
demo_app = typer.Typer(help="The synthetic demo city 示范市.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
forms_app = typer.Typer(help="Department forms (帮我填).", no_args_is_help=True)
secret_app = typer.Typer(help="The key that signs tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(generations_app, name="generations")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
app.add_typer(forms_app, name="forms")
app.add_typer(secret_app, name="secret")
app.add_typer(register_commands.app, name="register")
import_app.command("register")(register_commands.import_register_command)

Lang = Annotated[str, typer.Option(help="Language of the report: zh or en.", envvar="GRIDGOV_LANG")]


def _sessions():
    from gridgov.runtime import session_factory

    return session_factory(get_settings())


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


@app.command()
def serve(
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo",
            help="Load the demo city and its accounts (default: yes, except in production)."
            " Without it, demo accounts that still have the public password are switched off.",
        ),
    ] = None,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes (uvicorn workers). Each keeps its own grid index and live"
            " feed; background jobs run in one of them only. Sign-in throttles count per"
            " process.",
        ),
    ] = 1,
) -> None:
    """Run the HTTP service (migrating the database first)."""
    import uvicorn

    from gridgov.demo import prepare_demo
    from gridgov.logs import configure_logging
    from gridgov.register.protect import register_keys
    from gridgov.users.secret import SecretKeyError, TokenSecret

    settings = get_settings()
    try:
        TokenSecret(settings)  # made (or checked) once, before any worker starts
        keys = register_keys(settings)
    except SecretKeyError as exc:
        raise _fail(str(exc)) from exc
    configure_logging(json_lines=settings.log_format == "json", level=settings.log_level)
    if demo is None:
        demo = settings.environment != "production"
    elif demo and settings.environment == "production":
        raise _fail("the demo accounts have a public password: no --demo in production")
    with session_scope(_sessions()) as session:
        changed = prepare_demo(session, geodata_dir=settings.geodata_dir, load=demo, keys=keys)
    if changed and not demo:
        typer.echo(f"switched off demo accounts with the public password: {', '.join(changed)}")
    uvicorn.run(
        "api.main:serve_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # Logging is ours (JSON, request ids); the request line is written by the app.
        log_config=None,
        access_log=False,
    )


@db_app.command("start")
def db_start() -> None:
    """Start the embedded cluster (creating it on first use) and migrate it."""
    settings = get_settings()
    if settings.database_url:
        raise _fail("GRIDGOV_DATABASE_URL is set: gridgov uses that server, not its own")
    _sessions()
    typer.echo(cluster_for(settings.data_dir).url)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster."""
    stopped = cluster_for(get_settings().data_dir).stop()
    typer.echo("stopped" if stopped else "not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the embedded cluster runs (exit code 1 when it does not)."""
    cluster = cluster_for(get_settings().data_dir)
    if not cluster.is_running():
        typer.echo("not running")
        raise typer.Exit(code=1)
    typer.echo(f"running at {cluster.url}")


@import_app.command("boundaries")
def import_boundaries_command(
    file: Path,
    level: Annotated[Level, typer.Option(help="The level the file holds.")],
    crs: Annotated[
        str | None, typer.Option(help="wgs84, gcj02, bd09, cgcs2000 or EPSG:NNNN.")
    ] = None,
    generation: Annotated[
        int | None, typer.Option(help="Target generation (default: newest inactive, or new).")
    ] = None,
    sliver_m2: Annotated[float, typer.Option(help="Gaps/overlaps below this are warnings.")] = (
        DEFAULT_SLIVER_M2
    ),
    code_column: Annotated[
        str | None, typer.Option(help="Column of the codes (default: code or adcode).")
    ] = None,
    name_column: Annotated[str | None, typer.Option(help="Column of the names.")] = None,
    parent_column: Annotated[
        str | None,
        typer.Option(help="Column of the parent codes; parent.adcode reaches into an object."),
    ] = None,
    within: Annotated[
        str | None,
        typer.Option(help="Import only the part under this area (e.g. one street's grids)."),
    ] = None,
    findings: Annotated[
        Path | None, typer.Option(help="Write the findings as GeoJSON (to look at in QGIS).")
    ] = None,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
    lang: Lang = "zh",
) -> None:
    """Check a boundary file and, with --commit, write it into a generation."""
    columns = Columns(code=code_column, name=name_column, parent=parent_column)
    try:
        frame = read_boundary_file(file, level=level, crs=crs, columns=columns)
    except BoundaryFileError as exc:
        raise _fail(str(exc)) from exc
    with session_scope(_sessions()) as session:
        target = generation
        if target is None:
            latest = latest_inactive_generation(session)
            target = latest.id if latest else create_generation(session, name=file.stem).id
        try:
            result = import_boundaries(
                session,
                frame=frame,
                level=level,
                generation_id=target,
                sliver_m2=sliver_m2,
                dry_run=not commit,
                within=within,
            )
        except ImportRefused as refused:
            typer.echo(refused.report.render(lang))
            _write_findings(findings, refused.report.to_geojson(lang))
            session.rollback()
            raise _fail(f"{file}: refused, nothing written") from refused
        typer.echo(result.report.render(lang))
        _write_findings(findings, result.report.to_geojson(lang))
        if not commit:
            session.rollback()
            typer.echo("dry run: nothing written (add --commit to write)")
        else:
            typer.echo(f"wrote {result.written} {level.value} boundaries to generation {target}")


def _write_findings(path: Path | None, collection: dict[str, object]) -> None:
    if path is not None:
        import json

        path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
        typer.echo(f"findings written to {path}")


@import_app.command("departments")
def import_departments_command(
    file: Path,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
) -> None:
    """Check departments (code, name, level, area_code, role) and, with --commit, load them."""
    from gridgov.departments.service import check_department_areas

    try:
        rows = read_departments_csv(file)
    except DepartmentFileError as exc:
        raise _fail(str(exc)) from exc
    with session_scope(_sessions()) as session:
        if problems := check_department_areas(session, rows=rows):
            raise _fail(f"{file}: " + "; ".join(problems))
        if not commit:
            typer.echo(f"{len(rows)} departments are valid; dry run: add --commit to write")
            return
        upsert_departments(session, rows=rows)
    typer.echo(f"wrote {len(rows)} departments")


@generations_app.command("list")
def generations_list() -> None:
    """List boundary generations."""
    with session_scope(_sessions()) as session:
        for g in list_generations(session):
            state = "active" if g.is_active else "inactive"
            typer.echo(f"{g.id}\t{state}\t{g.created_at:%Y-%m-%d %H:%M}\t{g.name}")


@generations_app.command("new")
def generations_new(name: str) -> None:
    """Create an empty, inactive generation and print its id."""
    with session_scope(_sessions()) as session:
        typer.echo(create_generation(session, name=name).id)


@generations_app.command("activate")
def generations_activate(generation_id: int) -> None:
    """Make a generation the one that answers lookups."""
    with session_scope(_sessions()) as session:
        try:
            activate_generation(
                session,
                generation_id=generation_id,
                edge_tolerance_m=get_settings().edge_tolerance_m,
            )
        except GenerationError as exc:
            raise _fail(str(exc)) from exc
    typer.echo(f"generation {generation_id} is active")


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo city (once) and make it active."""
    from gridgov.demo import prepare_demo

    settings = get_settings()
    if settings.environment == "production":
        raise _fail("the demo accounts have a public password: no demo city in production")
    from gridgov.register.protect import register_keys
    from gridgov.users.secret import SecretKeyError

    try:
        keys = register_keys(settings)
    except SecretKeyError as exc:
        raise _fail(str(exc)) from exc
    with session_scope(_sessions()) as session:
        prepare_demo(session, geodata_dir=settings.geodata_dir, load=True, keys=keys)
    typer.echo("the demo city is loaded and active")


@secret_app.command("rotate")
def secret_rotate() -> None:
    """Replace the generated token-signing key: every token issued so far stops working."""
    from gridgov.users.secret import rotate_secret

    settings = get_settings()
    if settings.secret_key is not None:
        raise _fail("GRIDGOV_SECRET_KEY is set: put a new value there and restart the service")
    path = rotate_secret(settings.data_dir)
    typer.echo(f"new key in {path}: every token issued before is void (running services")
    typer.echo("pick it up on their next request; everyone signs in again)")


@app.command()
def locate(
    file: Path,
    crs: Annotated[InputCRS, typer.Option(help="CRS of the coordinates.")] = InputCRS.WGS84,
    lon_column: Annotated[
        str | None, typer.Option(help="Longitude column (default: lon, lng, 经度 ...).")
    ] = None,
    lat_column: Annotated[
        str | None, typer.Option(help="Latitude column (default: lat, 纬度 ...).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of the CSV (default: detected).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    lang: Lang = "zh",
) -> None:
    """Add grid and area codes to every row of a CSV; every other cell stays as it was."""
    from gridgov.boundaries.points_file import coordinate_columns, locate_table
    from gridgov.errors import FieldError
    from gridgov.i18n import t
    from gridgov.tables import TableError, read_csv_text

    try:
        source = read_csv_text(file, encoding=encoding)
        lon, lat = coordinate_columns(list(source.frame.columns), lon=lon_column, lat=lat_column)
    except TableError as exc:
        raise _fail(str(exc)) from exc
    except FieldError as exc:
        raise _fail(f"{file}: {exc.reason(lang)}") from exc
    with session_scope(_sessions()) as session:
        index = GridIndexCache().get(session)
        if index is None:
            raise _fail(t("locate.no_boundaries", lang))
        result = locate_table(
            session, index=index, table=source.frame, lon_column=lon, lat_column=lat, crs=crs
        )
    for problem in result.unplaced[:20]:
        reason = t(problem.reason, lang, value=problem.value)
        typer.echo(t("locate.row", lang, row=problem.row, reason=reason), err=True)
    if len(result.unplaced) > 20:
        typer.echo(t("locate.more", lang, count=len(result.unplaced) - 20), err=True)
    if output:
        result.frame.to_csv(
            output, index=False, encoding=source.encoding, lineterminator=source.line_terminator
        )
    else:
        typer.echo(result.frame.to_csv(index=False), nl=False)
    summary = t("locate.summary", lang, located=result.located, rows=len(result.frame))
    typer.echo(summary + (f": {output}" if output else ""), err=not output)


@import_app.command("categories")
def import_categories_command(
    file: Path,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
) -> None:
    """Check the incident categories (code, parent_code, name_zh, name_en, urgent); --commit
    writes them."""
    from gridgov.responsibilities.service import load_categories

    _import_catalogue(file, "categories", lambda s: (load_categories(s, path=file), []), commit)


@import_app.command("responsibilities")
def import_responsibilities_command(
    file: Path,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
) -> None:
    """Check a responsibility list (CSV or .xlsx) and, with --commit, make it the list."""
    from gridgov.responsibilities.service import (
        ResponsibilityListError,
        read_responsibility_file,
        replace_rules,
        validate_rules,
    )

    with session_scope(_sessions()) as session:
        try:
            rules = validate_rules(session, read_responsibility_file(file))
        except ResponsibilityListError as exc:
            for problem in exc.problems:
                typer.echo(f"  {problem}")
            raise _fail(f"{file}: refused ({len(exc.problems)} problems), nothing written") from exc
        if not commit:
            typer.echo(f"{len(rules)} rules are valid; dry run: add --commit to write")
            return
        replace_rules(session, rules=rules)
    typer.echo(f"the responsibility list now has {len(rules)} rules")


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin, operator, handler, grid_head or emergency")],
    password: Annotated[
        str | None,
        typer.Option(help="Asked for when not given.", envvar="GRIDGOV_NEW_PASSWORD"),
    ] = None,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Make a random password; printed once.")
    ] = False,
    display_name: Annotated[str | None, typer.Option()] = None,
    area: Annotated[str | None, typer.Option(help="Area code (operators, emergency teams)")] = None,
    department: Annotated[str | None, typer.Option(help="Department code (handlers)")] = None,
    grid: Annotated[str | None, typer.Option(help="Grid code (grid heads)")] = None,
) -> None:
    """Create an account (the first admin of a city that is not the demo, for one)."""
    import secrets

    from gridgov.users.service import UserError, create_user

    if generate_password and password is not None:
        raise _fail("give --password or --generate-password, not both")
    if generate_password:
        password = secrets.token_urlsafe(12)
    elif password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with session_scope(_sessions()) as session:
        try:
            user = create_user(
                session,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                area_code=area,
                department_code=department,
                grid_code=grid,
            )
        except UserError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"user {user.username} ({user.role}) created with id {user.id}")
    if generate_password:
        typer.echo(f"password (shown this once): {password}")


@app.command()
def escalate(
    now: Annotated[bool, typer.Option("--now", help="Run once now (for cron).")] = False,
) -> None:
    """Escalate every incident whose deadline has lapsed (吹哨报到), then exit."""
    from gridgov.incidents.escalation import run_escalation

    if not now:
        raise _fail("say --now to run an escalation pass")
    run = run_escalation(_sessions())
    typer.echo(
        f"escalated {len(run.escalated)}, overdue at the top {len(run.overdue_at_top)}, "
        f"late check-ins {len(run.late_check_ins)}"
    )


@import_app.command("stockpiles")
def import_stockpiles_command(
    file: Path,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
) -> None:
    """Check stockpiles with their stock (CSV or .xlsx, a row per item lot); --commit writes."""
    from gridgov.supplies.stock import StockFileError, import_stock, read_stock_file

    with session_scope(_sessions()) as session:
        try:
            result = import_stock(
                session,
                rows=read_stock_file(file),
                edge_tolerance_m=get_settings().edge_tolerance_m,
            )
        except StockFileError as exc:
            for problem in exc.problems:
                typer.echo(f"  {problem}")
            raise _fail(f"{file}: refused ({len(exc.problems)} problems), nothing written") from exc
        for code, grid, metres in result.attached:
            typer.echo(f"  {code} lies {metres} m outside the city: attached to grid {grid}")
        if not commit:
            session.rollback()
            typer.echo(f"{result.stockpiles} stockpiles, {result.lots} lots are valid; dry run")
            return
    typer.echo(f"wrote {result.stockpiles} stockpiles and {result.lots} lots")


@import_app.command("items")
def import_items_command(
    file: Path,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
) -> None:
    """Check the item catalogue (code, name_zh, name_en, unit_zh, unit_en); --commit writes."""
    from gridgov.supplies.stock import load_items

    _import_catalogue(file, "items", lambda s: (load_items(s, path=file), []), commit)


@import_app.command("incidents")
def import_incidents_command(
    file: Path,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
) -> None:
    """Bring in past incidents (a hotline's or a previous system's) with their original times;
    they notify nobody and escalate nothing. Times without an offset are the city's."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from gridgov.incidents.history import import_history, read_history_file
    from gridgov.tables import RowsRefused, TableError

    settings = get_settings()
    with session_scope(_sessions()) as session:
        index = GridIndexCache().get(session)
        if index is None:
            raise _fail("no boundary generation is active: run gridgov demo load, or import")
        try:
            result = import_history(
                session,
                rows=read_history_file(file),
                index=index,
                timezone=ZoneInfo(settings.timezone),
                now=datetime.now(UTC),
            )
        except RowsRefused as refused:
            for problem in refused.problems[:50]:
                typer.echo(f"  {problem}")
            if len(refused.problems) > 50:
                typer.echo(f"  ... and {len(refused.problems) - 50} more")
            count = len(refused.problems)
            raise _fail(f"{file}: refused ({count} problems), nothing written") from refused
        except TableError as exc:
            raise _fail(str(exc)) from exc
        skipped = f"; {result.already_imported} imported before, skipped"
        if not commit:
            session.rollback()
            typer.echo(f"{result.imported} incidents are valid{skipped}; dry run")
            return
    typer.echo(f"wrote {result.imported} incidents{skipped}")


@import_app.command("roads")
def import_roads_command(
    file: Path,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
) -> None:
    """Replace the road network with the lines of a GeoJSON/GeoPackage/Shapefile."""
    from gridgov.supplies.roads import RoadNetwork, read_roads, replace_roads

    try:
        lines = read_roads(file)
    except Exception as exc:  # pyogrio raises several kinds for unreadable files
        raise _fail(f"{file}: {str(exc).splitlines()[0] if str(exc) else exc}") from exc
    if not lines:
        raise _fail(f"{file}: no lines")
    network = RoadNetwork.from_lines(lines)
    typer.echo(f"{len(lines)} lines, {network.graph.number_of_nodes()} nodes")
    if not commit:
        typer.echo("dry run: nothing written (add --commit to write)")
        return
    with session_scope(_sessions()) as session:
        replace_roads(session, lines=lines)
    typer.echo("the road network is replaced")


@import_app.command("sensors")
def import_sensors_command(
    file: Path,
    crs: Annotated[InputCRS, typer.Option(help="CRS of lon/lat.")] = InputCRS.WGS84,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
) -> None:
    """Check sensors (code, name, kind, owner_department, lon, lat, metrics); --commit writes."""
    from gridgov.sensors.catalogue import import_sensors

    def load(session: Session) -> tuple[int, list[str]]:
        result = import_sensors(
            session, path=file, crs=crs.value, edge_tolerance_m=get_settings().edge_tolerance_m
        )
        notes = [
            f"{code} lies {metres} m outside the city: attached to grid {grid}"
            for code, grid, metres in result.attached
        ] + [
            f"{code} lies outside the city: registered without a grid; its alerts go to its"
            " owner department"
            for code in result.outside
        ]
        return result.count, notes

    _import_catalogue(file, "sensors", load, commit)


@import_app.command("sensor-rules")
def import_sensor_rules_command(
    file: Path,
    commit: Annotated[bool, typer.Option("--commit", help="Write; without it, a dry run.")] = False,
) -> None:
    """Check sensor rules (see geodata/sensor_rules.csv for the columns); --commit writes."""
    from gridgov.sensors.catalogue import import_rules

    _import_catalogue(file, "rules", lambda session: (import_rules(session, path=file), []), commit)


def _import_catalogue(
    file: Path, what: str, load: Callable[[Session], tuple[int, list[str]]], commit: bool
) -> None:
    """Check a catalogue or reference table in a transaction, list every problem, and keep
    it only with --commit (the check needs the database: departments, grids, categories)."""
    from gridgov.sensors.catalogue import CatalogueError
    from gridgov.tables import TableError

    with session_scope(_sessions()) as session:
        try:
            count, notes = load(session)
        except CatalogueError as exc:
            for problem in exc.problems:
                typer.echo(f"  {problem}")
            raise _fail(f"{file}: refused ({len(exc.problems)} problems), nothing written") from exc
        except TableError as exc:
            raise _fail(f"{exc}; nothing written") from exc
        except OSError as exc:
            raise _fail(f"{file}: {exc}") from exc
        for note in notes:
            typer.echo(f"  {note}")
        if not commit:
            session.rollback()
            typer.echo(f"{count} {what} are valid; dry run: add --commit to write")
            return
    typer.echo(f"wrote {count} {what}")


@forms_app.command("audit")
def forms_audit(
    folder: Path,
    xlsx: Annotated[Path | None, typer.Option(help="Also write the audit as a workbook.")] = None,
    indicators: Annotated[
        Path | None, typer.Option(help="The indicator vocabulary (default: the shipped one).")
    ] = None,
    lang: Lang = "zh",
) -> None:
    """Which forms fill themselves, which could merge, and what no indicator covers."""
    from gridgov.forms.audit import FormError, audit_forms
    from gridgov.forms.audit_report import render_text, write_workbook
    from gridgov.forms.indicators import load_indicators

    vocabulary = load_indicators(indicators or get_settings().geodata_dir / "indicators.csv")
    try:
        audit = audit_forms(folder, vocabulary)
    except FormError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(render_text(audit, lang))
    if xlsx is not None:
        write_workbook(audit, xlsx, lang)
        typer.echo(str(xlsx))


def main() -> None:
    """The console entry point: no traceback reaches a user (GRIDGOV_DEBUG=1 shows it)."""
    import os
    import sys

    try:
        app()
    except Exception as exc:
        if os.environ.get("GRIDGOV_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        typer.echo(f"error: {type(exc).__name__}: {first}".rstrip(": "), err=True)
        typer.echo("(GRIDGOV_DEBUG=1 shows the details)", err=True)
        sys.exit(1)
