"""Importing boundaries: all or nothing, dry runs, generations, reading files."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely.geometry
from pyproj import Transformer
from shapely.geometry import box
from sqlalchemy import func, select

from gridgov.boundaries.generations import create_generation
from gridgov.boundaries.importer import ImportRefused, import_boundaries
from gridgov.boundaries.io import BoundaryFileError, Columns, read_boundary_file
from gridgov.boundaries.levels import Level
from gridgov.boundaries.models import Area, Grid
from gridgov.geo.crs import from_wgs84
from gridgov.geo.measure import geodesic_distance_m
from tests import shapes


def import_tiny_city(session, *, generation_id, upto=Level.GRID):
    for level, level_frame in shapes.tiny_city().items():
        import_boundaries(session, frame=level_frame, level=level, generation_id=generation_id)
        if level is upto:
            break


def counts(session):
    return (
        session.scalar(select(func.count()).select_from(Area)),
        session.scalar(select(func.count()).select_from(Grid)),
    )


def test_import_writes_every_level_with_parents(session):
    generation = create_generation(session, name="tiny")
    import_tiny_city(session, generation_id=generation.id)
    grids = session.scalars(select(Grid).where(Grid.generation_id == generation.id)).all()
    assert sorted(g.code for g in grids) == ["G1", "G2", "G3", "G4"]
    community = session.get(Area, grids[0].parent_id)
    assert community.code == shapes.COMMUNITY and community.level == "community"
    assert community.parent.code == shapes.STREET
    assert grids[0].households == 100 and grids[0].grid_head_name == "测试员"


def test_refused_import_leaves_the_database_unchanged(session):
    generation = create_generation(session, name="tiny")
    import_tiny_city(session, generation_id=generation.id, upto=Level.COMMUNITY)
    before = counts(session)
    rows = shapes.four_grids()
    rows[0]["geometry"] = box(shapes.X0, shapes.Y0, shapes.X0 + 0.015, shapes.Y0 + 0.01)
    rows[2]["code"] = "G2"
    with pytest.raises(ImportRefused) as refused:
        import_boundaries(
            session, frame=shapes.frame(rows), level=Level.GRID, generation_id=generation.id
        )
    assert {"overlap", "duplicate_code"} <= {f.check for f in refused.value.report.errors}
    assert counts(session) == before


def test_dry_run_checks_but_writes_nothing(session):
    generation = create_generation(session, name="tiny")
    before = counts(session)
    result = import_boundaries(
        session,
        frame=shapes.tiny_city()[Level.CITY],
        level=Level.CITY,
        generation_id=generation.id,
        dry_run=True,
    )
    assert result.report.ok and result.written == 0
    assert counts(session) == before


def test_a_level_cannot_be_imported_twice_into_one_generation(session):
    generation = create_generation(session, name="tiny")
    import_tiny_city(session, generation_id=generation.id, upto=Level.CITY)
    with pytest.raises(ImportRefused) as refused:
        import_tiny_city(session, generation_id=generation.id, upto=Level.CITY)
    assert refused.value.report.errors[0].check == "level_exists"


def test_dry_run_finds_a_code_used_at_another_level(session):
    generation = create_generation(session, name="tiny")
    import_tiny_city(session, generation_id=generation.id, upto=Level.CITY)
    district = shapes.tiny_city()[Level.DISTRICT].assign(code=shapes.CITY)
    with pytest.raises(ImportRefused) as refused:
        import_boundaries(
            session, frame=district, level=Level.DISTRICT, generation_id=generation.id, dry_run=True
        )
    [finding] = refused.value.report.errors
    assert (finding.check, finding.params) == ("code_in_use", {"code": "T100", "level": "city"})


def test_dry_run_finds_values_the_tables_cannot_hold(session):
    generation = create_generation(session, name="tiny")
    import_tiny_city(session, generation_id=generation.id, upto=Level.COMMUNITY)
    rows = shapes.four_grids()
    rows[0]["households"] = "about 300"
    rows[1]["name"] = "网" * 201
    with pytest.raises(ImportRefused) as refused:
        import_boundaries(
            session,
            frame=shapes.frame(rows),
            level=Level.GRID,
            generation_id=generation.id,
            dry_run=True,
        )
    found = {(f.check, f.params["code"], f.params["column"]) for f in refused.value.report.errors}
    assert found == {("not_a_count", "G1", "households"), ("too_long", "G2", "name")}


@pytest.mark.filterwarnings("ignore:Column names longer than 10")
@pytest.mark.filterwarnings("ignore:Normalized/laundered field name")
@pytest.mark.parametrize(
    "driver,suffix", [("GeoJSON", ".geojson"), ("GPKG", ".gpkg"), ("ESRI Shapefile", ".shp")]
)
def test_reads_geojson_geopackage_and_shapefile(tmp_path, driver, suffix):
    path = tmp_path / f"grids{suffix}"
    shapes.frame(shapes.four_grids()).to_file(path, driver=driver)
    frame = read_boundary_file(path, level=Level.GRID)
    assert list(frame["code"]) == ["G1", "G2", "G3", "G4"]
    assert set(frame["parent_code"]) == {shapes.COMMUNITY}  # "T1111" is a code, not a time
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.iloc[0].equals(shapes.square(0, 0))


def test_reads_csv_with_wkt_and_keeps_codes_as_text(tmp_path):
    path = tmp_path / "city.csv"
    path.write_text(
        f'code,name,wkt\n0042,测试市,"{shapes.square(0, 0, 2).wkt}"\n', encoding="utf-8"
    )
    frame = read_boundary_file(path, level=Level.CITY)
    assert frame["code"].tolist() == ["0042"]


def test_reprojects_any_crs_to_wgs84(tmp_path):
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    utm = shapes.frame(shapes.four_grids()).to_crs("EPSG:32649")
    path = tmp_path / "utm.gpkg"
    utm.to_file(path, driver="GPKG")
    frame = read_boundary_file(path, level=Level.GRID)
    x, y = to_utm.transform(shapes.X0, shapes.Y0)
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.iloc[0].bounds[0] == pytest.approx(shapes.X0, abs=1e-8)
    assert x > 100_000 and y > 2_000_000  # the file really was in metres


def test_gcj02_option_converts_coordinates(tmp_path):
    gcj_x, gcj_y = from_wgs84(shapes.X0, shapes.Y0, "gcj02")
    gcj = box(gcj_x, gcj_y, gcj_x + 0.01, gcj_y + 0.01)
    path = tmp_path / "gcj.geojson"
    gpd.GeoDataFrame({"code": ["C"], "name": ["测试"]}, geometry=[gcj], crs=4326).to_file(path)
    frame = read_boundary_file(path, level=Level.CITY, crs="gcj02")
    corners = list(frame.geometry.iloc[0].exterior.coords)
    # The GCJ-02 lower-left corner comes back to the WGS84 corner (within 1 cm).
    assert min(geodesic_distance_m(x, y, shapes.X0, shapes.Y0) for x, y in corners) < 0.01


def test_corrupt_file_gives_one_line_naming_the_file(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(BoundaryFileError) as error:
        read_boundary_file(path, level=Level.CITY)
    assert str(error.value).startswith(str(path))
    assert "\n" not in str(error.value)


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "grids.geojson"
    frame = shapes.frame(shapes.four_grids()).drop(columns=["parent_code"])
    path.write_text(frame.to_json(), encoding="utf-8")
    with pytest.raises(BoundaryFileError, match="parent_code"):
        read_boundary_file(path, level=Level.GRID)


def test_unknown_crs_option_is_refused(tmp_path):
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps(shapes.tiny_city()[Level.CITY].__geo_interface__))
    with pytest.raises(BoundaryFileError, match="unknown CRS"):
        read_boundary_file(path, level=Level.CITY, crs="EPSG:999999")


def datav_feature(adcode: int, name: str, parent: int, geometry) -> dict[str, object]:
    """A feature as the AMap/DataV district download has it (GCJ-02, nested parent)."""
    x, y = geometry.centroid.x, geometry.centroid.y
    return {
        "type": "Feature",
        "properties": {
            "adcode": adcode,
            "name": name,
            "center": [x, y],
            "centroid": [x, y],
            "childrenNum": 0,
            "level": "district",
            "parent": {"adcode": parent},
            "subFeatureIndex": 0,
            "acroutes": [100000, parent],
        },
        "geometry": shapely.geometry.mapping(geometry),
    }


def test_datav_download_reads_as_it_is(tmp_path):
    gcj_x, gcj_y = from_wgs84(shapes.X0, shapes.Y0, "gcj02")
    features = [
        datav_feature(450502, "海城区", 450500, box(gcj_x, gcj_y, gcj_x + 0.02, gcj_y + 0.02))
    ]
    path = tmp_path / "450500_full.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    frame = read_boundary_file(path, level=Level.DISTRICT, crs="gcj02")
    assert frame[["code", "name", "parent_code"]].to_dict("records") == [
        {"code": "450502", "name": "海城区", "parent_code": "450500"}
    ]
    corners = list(frame.geometry.iloc[0].exterior.coords)
    # The GCJ-02 corner comes back to the WGS84 corner (within 1 cm).
    assert min(geodesic_distance_m(x, y, shapes.X0, shapes.Y0) for x, y in corners) < 0.01


def test_a_file_with_parent_and_parent_code_uses_parent_code(tmp_path):
    rows = shapes.four_grids()
    for row in rows:
        row["parent"] = "ignored"
    path = tmp_path / "grids.geojson"
    shapes.frame(rows).to_file(path)
    frame = read_boundary_file(path, level=Level.GRID)
    assert set(frame["parent_code"]) == {shapes.COMMUNITY}


def test_named_columns_win_and_a_wrong_name_lists_the_columns(tmp_path):
    path = tmp_path / "streets.geojson"
    gpd.GeoDataFrame(
        {"jdbm": ["0101"], "jdmc": ["东街"], "code": ["x"], "qx": ["01"]},
        geometry=[shapes.square(0, 0)],
        crs=4326,
    ).to_file(path)
    columns = Columns(code="JDBM", name="jdmc", parent="qx")
    frame = read_boundary_file(path, level=Level.STREET, columns=columns)
    assert frame[["code", "name", "parent_code"]].to_dict("records") == [
        {"code": "0101", "name": "东街", "parent_code": "01"}
    ]
    with pytest.raises(BoundaryFileError, match=r"no column 'bm'; the file's columns: jdbm, jdmc"):
        read_boundary_file(path, level=Level.STREET, columns=Columns(code="bm"))


def two_community_city() -> dict[Level, gpd.GeoDataFrame]:
    """The tiny city with two communities side by side, C1 (west) and C2 (east)."""
    levels = shapes.tiny_city()
    west = box(shapes.X0, shapes.Y0, shapes.X0 + shapes.STEP, shapes.Y0 + 2 * shapes.STEP)
    east = box(shapes.X0 + shapes.STEP, shapes.Y0, shapes.X0 + 2 * shapes.STEP, shapes.Y0 + 0.02)
    levels[Level.COMMUNITY] = shapes.frame(
        [
            {"code": "C1", "name": "西社区", "parent_code": shapes.STREET, "geometry": west},
            {"code": "C2", "name": "东社区", "parent_code": shapes.STREET, "geometry": east},
        ]
    )
    return levels


def grids_of(community: str) -> gpd.GeoDataFrame:
    col = 0 if community == "C1" else 1
    rows = [
        shapes.grid_row(f"{community}-1", shapes.square(col, 0), community),
        shapes.grid_row(f"{community}-2", shapes.square(col, 1), community),
    ]
    return shapes.frame(rows)


def test_grids_come_in_one_community_at_a_time(session):
    generation = create_generation(session, name="two communities")
    for level, frame in two_community_city().items():
        if level is not Level.GRID:
            import_boundaries(session, frame=frame, level=level, generation_id=generation.id)

    def grids(frame, within):
        return import_boundaries(
            session, frame=frame, level=Level.GRID, generation_id=generation.id, within=within
        )

    # Without --within the other community is an uncovered parent.
    with pytest.raises(ImportRefused) as refused:
        grids(grids_of("C1"), None)
    assert [f.check for f in refused.value.report.errors] == ["uncovered_parent"]
    assert grids(grids_of("C1"), "C1").written == 2
    with pytest.raises(ImportRefused) as refused:
        grids(grids_of("C1"), "C1")
    assert refused.value.report.errors[0].params == {"level": "grid", "count": 2}
    with pytest.raises(ImportRefused) as refused:
        grids(grids_of("C2"), "C1")
    found = {f.check for f in refused.value.report.errors}
    assert found == {"level_exists", "outside_within", "uncovered_parent"}
    assert grids(grids_of("C2"), "C2").written == 2
    codes = session.scalars(select(Grid.code).where(Grid.generation_id == generation.id)).all()
    assert sorted(codes) == ["C1-1", "C1-2", "C2-1", "C2-2"]
