"""Every quality check on small hand-made boundaries (no database)."""

from __future__ import annotations

from shapely.affinity import translate
from shapely.geometry import Polygon, box

from gridgov.boundaries.levels import Level
from gridgov.boundaries.quality import check_boundaries
from tests import shapes
from tests.shapes import STEP, X0, Y0, frame, grid_row, square


def checks(report, severity=None):
    return sorted(f.check for f in report.findings if severity is None or f.severity == severity)


def community():
    return shapes.tiny_city()[Level.COMMUNITY]


def test_tiny_city_passes_every_check():
    city = shapes.tiny_city()
    parent = None
    for level, level_frame in city.items():
        report = check_boundaries(level_frame, level=level, parents=parent)
        assert report.findings == [], report.render("en")
        parent = level_frame


def test_invalid_geometry_reports_reason_and_location():
    bowtie = Polygon([(X0, Y0), (X0 + STEP, Y0 + STEP), (X0 + STEP, Y0), (X0, Y0 + STEP)])
    rows = [*shapes.four_grids()[1:], grid_row("G1", bowtie)]
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community())
    [finding] = [f for f in report.errors if f.check == "invalid_geometry"]
    assert finding.params["code"] == "G1"
    assert "Self-intersection" in finding.params["reason"]
    assert finding.lon is not None and abs(finding.lon - (X0 + STEP / 2)) < 1e-9
    assert finding.lat is not None and abs(finding.lat - (Y0 + STEP / 2)) < 1e-9


def test_empty_and_non_polygon_geometries_are_errors():
    rows = shapes.four_grids()
    rows[0]["geometry"] = Polygon()
    rows[1]["geometry"] = square(1, 0).boundary
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community())
    assert "empty_geometry" in checks(report, "error")
    assert "not_polygon" in checks(report, "error")


def test_overlap_between_siblings_gives_area_in_square_metres():
    rows = shapes.four_grids()
    # Stretch G1 a quarter cell into G2: the overlap is 0.0025° x 0.01°.
    rows[0]["geometry"] = box(X0, Y0, X0 + 1.25 * STEP, Y0 + STEP)
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community())
    [overlap] = [f for f in report.errors if f.check == "overlap"]
    assert {overlap.params["a"], overlap.params["b"]} == {"G1", "G2"}
    # 0.0025° of longitude at 22°N is ~258 m, 0.01° of latitude ~1107 m.
    assert 270_000 < overlap.params["area_m2"] < 300_000


def test_gap_inside_parent_is_an_error_with_its_area():
    rows = shapes.four_grids()
    rows[3]["geometry"] = box(X0 + STEP, Y0 + STEP, X0 + 1.5 * STEP, Y0 + 2 * STEP)
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community())
    [gap] = [f for f in report.errors if f.check == "gap"]
    assert gap.params["parent"] == shapes.COMMUNITY
    assert 500_000 < gap.params["area_m2"] < 600_000


def test_child_outside_its_parent_is_an_error():
    rows = shapes.four_grids()
    rows[1]["geometry"] = box(X0 + STEP, Y0, X0 + 2.5 * STEP, Y0 + STEP)
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community())
    [outside] = [f for f in report.errors if f.check == "outside_parent"]
    assert outside.params["code"] == "G2"
    assert outside.params["area_m2"] > 500_000


def test_small_gap_is_a_sliver_warning_that_does_not_block():
    rows = shapes.four_grids()
    # Pull G4's left edge in by 1e-6° (about 0.1 m): a 0.1 m x 1.1 km sliver of ~115 m².
    rows[3]["geometry"] = box(X0 + STEP + 1e-6, Y0 + STEP, X0 + 2 * STEP, Y0 + 2 * STEP)
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community(), sliver_m2=500)
    assert checks(report) == ["sliver_gap"]
    assert report.ok
    assert report.warnings[0].params["area_m2"] < 500


def test_slivers_bigger_than_the_threshold_are_errors():
    rows = shapes.four_grids()
    rows[3]["geometry"] = box(X0 + STEP + 1e-6, Y0 + STEP, X0 + 2 * STEP, Y0 + 2 * STEP)
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community(), sliver_m2=50)
    assert checks(report, "error") == ["gap"]


def test_duplicate_and_missing_codes_and_names():
    rows = shapes.four_grids()
    rows[1]["code"] = "G1"
    rows[2]["code"] = ""
    rows[3]["name"] = None
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community())
    found = checks(report, "error")
    assert "duplicate_code" in found
    assert "missing_code" in found
    assert "missing_name" in found
    [dup] = [f for f in report.errors if f.check == "duplicate_code"]
    assert dup.params == {"code": "G1", "count": 2}


def test_unknown_and_missing_parent_codes():
    rows = shapes.four_grids()
    rows[0]["parent_code"] = "NOPE"
    rows[1]["parent_code"] = None
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community())
    assert {"unknown_parent", "missing_parent_code"} <= set(checks(report, "error"))


def test_parent_level_must_exist_first():
    report = check_boundaries(frame(shapes.four_grids()), level=Level.GRID, parents=None)
    assert checks(report) == ["no_parent_level"]


def test_parent_without_any_child_is_reported():
    parents = frame(
        [
            {"code": shapes.COMMUNITY, "name": "甲", "geometry": square(0, 0, 2)},
            {"code": "OTHER", "name": "乙", "geometry": translate(square(0, 0, 2), 2 * STEP)},
        ]
    )
    report = check_boundaries(frame(shapes.four_grids()), level=Level.GRID, parents=parents)
    assert checks(report, "error") == ["uncovered_parent"]


def test_report_renders_in_both_languages():
    rows = shapes.four_grids()
    rows[1]["code"] = "G1"
    report = check_boundaries(frame(rows), level=Level.GRID, parents=community())
    assert "重复" in report.render("zh")
    assert "appears 2 times" in report.render("en")


def test_residue_under_a_hundredth_of_a_square_metre_is_ignored():
    # A 1.1 km long gap: 5e-11 degree wide is about 0.006 m² (floating-point residue,
    # nothing to say); 2e-10 degree wide is about 0.023 m², a sliver worth a warning.
    def with_gap(width):
        rows = shapes.four_grids()
        rows[3]["geometry"] = box(X0 + STEP + width, Y0 + STEP, X0 + 2 * STEP, Y0 + 2 * STEP)
        return check_boundaries(frame(rows), level=Level.GRID, parents=community())

    assert with_gap(5e-11).findings == []
    warned = with_gap(2e-10)
    assert checks(warned) == ["sliver_gap"]
    assert 0.01 < warned.warnings[0].params["area_m2"] < 0.05
