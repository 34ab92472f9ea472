"""Generate the synthetic demo city 示范市 (deterministic: the same files every run).

    python geodata/demo_city/generate.py [OUTPUT_DIR]

Grids are Voronoi cells of a jittered hexagonal lattice of seeds (about 570 m apart) in
UTM zone 49N around 109.1°E 21.55°N. Communities, streets and districts are unions of
whole cells, so every level tiles its parent exactly: parents are built from their
children's edges, never drawn separately. Everything here is invented.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, Polygon, mapping

SEED = 20261122
CENTRE = (109.10, 21.55)  # lon, lat: inside China, so GCJ-02 differs from WGS84
UTM = "EPSG:32649"
RADIUS_M = 14_000
GRID_SPACING_M = 570
COMMUNITY_SPACING_M = 2_500
STREET_SPACING_M = 5_600
# Quadrants in order: east, north, west, south.
DISTRICTS = [("990102", "东澜区"), ("990103", "北岚区"), ("990104", "西屿区"), ("990105", "南湾区")]
CITY = ("990100", "示范市")
SYLLABLES = list(
    "青石桂兰滨云溪松柳泉湖港湾竹梅枫槐榕椰珠银金玉文华和平安康宁泰丰盛新兴锦绣光明长乐福瑞祥德仁"
)
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华建国红玲春海")
DEPARTMENT_ROLES = {
    "city": [
        ("CG", "城市管理局"),
        ("ZJ", "住房和城乡建设局"),
        ("HB", "生态环境局"),
        ("YJ", "应急管理局"),
        ("SJ", "市场监督管理局"),
        ("GA", "公安局"),
        ("JT", "交通运输局"),
        ("SW", "水务局"),
        ("MZ", "民政局"),
        ("CL", "残疾人联合会"),
    ],
    "street": [
        ("ZF", "综合行政执法队"),
        ("CG", "城市管理办公室"),
        ("YJ", "应急管理办公室"),
        ("GA", "派出所"),
    ],
    "community": [("JW", "居民委员会")],
}


def hex_lattice(rng: np.random.Generator, spacing: float, radius: float) -> np.ndarray:
    """Jittered hexagonal lattice of points within a square of half-width ``radius``."""
    rows = np.arange(-radius, radius + spacing, spacing * np.sqrt(3) / 2)
    points = []
    for i, y in enumerate(rows):
        offset = spacing / 2 if i % 2 else 0.0
        for x in np.arange(-radius - offset, radius + spacing, spacing):
            points.append((x + offset, y))
    pts = np.array(points)
    return pts + rng.uniform(-0.3, 0.3, pts.shape) * spacing


def outline(rng: np.random.Generator) -> Polygon:
    """A lobed city outline in local metres."""
    phase = rng.uniform(0, 2 * np.pi, 3)
    theta = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    r = RADIUS_M * (
        1
        + 0.12 * np.sin(3 * theta + phase[0])
        + 0.07 * np.sin(5 * theta + phase[1])
        + 0.04 * np.sin(9 * theta + phase[2])
    )
    return Polygon(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))


def grid_cells(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeds inside the outline and their Voronoi cells (in local metres)."""
    shape = outline(rng)
    seeds = hex_lattice(rng, GRID_SPACING_M, RADIUS_M * 1.4)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(MultiPoint(seeds), extend_to=shape.buffer(RADIUS_M))
    )
    # voronoi_polygons does not keep the input order: match each cell to its seed.
    tree = shapely.STRtree(cells)
    seed_points = shapely.points(seeds)
    owner = tree.query(seed_points, predicate="within")
    cell_of_seed = np.empty(len(seeds), dtype=object)
    cell_of_seed[owner[0]] = cells[owner[1]]
    inside = shapely.contains(shape, seed_points)
    return seeds[inside], cell_of_seed[inside]


def nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each point."""
    d = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(d.argmin(axis=1))


def make_contiguous(labels: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Hand every cell in a detached piece of a region to a neighbouring region."""
    tree = shapely.STRtree(cells)
    neighbours = defaultdict(set)
    a, b = tree.query(cells, predicate="touches")
    for i, j in zip(a, b, strict=True):
        neighbours[int(i)].add(int(j))
    labels = labels.copy()
    changed = True
    while changed:
        changed = False
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            pieces = components(members, neighbours, labels)
            for piece in sorted(pieces, key=len, reverse=True)[1:]:
                for cell in piece:
                    others = [labels[n] for n in sorted(neighbours[cell]) if labels[n] != label]
                    if others:
                        labels[cell] = others[0]
                        changed = True
    return labels


def components(
    members: np.ndarray, neighbours: dict[int, set[int]], labels: np.ndarray
) -> list[list[int]]:
    """Connected pieces of one region (cells sharing an edge or a corner)."""
    todo, pieces = set(int(m) for m in members), []
    while todo:
        start = min(todo)
        stack, piece = [start], []
        todo.discard(start)
        while stack:
            cell = stack.pop()
            piece.append(cell)
            for n in neighbours[cell]:
                if n in todo and labels[n] == labels[cell]:
                    todo.discard(n)
                    stack.append(n)
        pieces.append(sorted(piece))
    return pieces


def unique_names(rng: np.random.Generator, count: int, suffix: str, taken: set[str]) -> list[str]:
    """``count`` distinct two-syllable names ending in ``suffix``."""
    names: list[str] = []
    while len(names) < count:
        a, b = rng.choice(len(SYLLABLES), 2, replace=False)
        name = SYLLABLES[a] + SYLLABLES[b] + suffix
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    """UTM metres to WGS84 degrees, rounded to 1e-7° (1 cm): shared vertices stay shared."""
    transformer = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    east0, north0 = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(*CENTRE)

    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(coords[:, 0] + east0, coords[:, 1] + north0)
        return np.round(np.column_stack([lon, lat]), 7)

    return shapely.transform(geom, convert)


def build() -> dict[str, list[dict]]:
    """All levels as lists of feature dicts (geometry in WGS84), plus departments."""
    rng = np.random.default_rng(SEED)
    seeds, cells = grid_cells(rng)
    cells = np.array([to_wgs84(c) for c in cells], dtype=object)
    assert all(c.is_valid for c in cells), "rounding broke a cell"

    community_centres = hex_lattice(rng, COMMUNITY_SPACING_M, RADIUS_M * 1.4)
    street_centres = hex_lattice(rng, STREET_SPACING_M, RADIUS_M * 1.4)
    angle = np.arctan2(seeds[:, 1], seeds[:, 0])
    community_of_cell = make_contiguous(nearest(seeds, community_centres), cells)
    # A community belongs to the street nearest its first cell, a street to a quadrant.
    street_of_cell = make_contiguous(
        nearest(seeds, street_centres)[_first_member(community_of_cell)][community_of_cell], cells
    )
    street_of_cell = _follow_communities(street_of_cell, community_of_cell)
    quadrant = ((angle + np.pi / 4) // (np.pi / 2)).astype(int) % 4
    district_of_cell = make_contiguous(
        quadrant[_first_member(street_of_cell)][street_of_cell], cells
    )
    district_of_cell = _follow_communities(district_of_cell, street_of_cell)
    return _features(rng, cells, community_of_cell, street_of_cell, district_of_cell)


def _first_member(labels: np.ndarray) -> np.ndarray:
    """For every label value, the index of its first cell (array indexed by label)."""
    first = np.full(labels.max() + 1, -1)
    for i in range(len(labels) - 1, -1, -1):
        first[labels[i]] = i
    return first


def _follow_communities(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Make every cell of a lower region take the upper label of its first cell."""
    first = _first_member(lower)
    return upper[first[lower]]


def _features(rng, cells, community_of_cell, street_of_cell, district_of_cell):
    taken: set[str] = set()
    out: dict[str, list[dict]] = defaultdict(list)
    city_geom = shapely.coverage_union_all(cells)
    out["city"].append({"code": CITY[0], "name": CITY[1], "geometry": city_geom})
    for d_index in sorted(set(district_of_cell)):
        d_code, d_name = DISTRICTS[d_index]
        d_cells = np.flatnonzero(district_of_cell == d_index)
        out["districts"].append(
            {
                "code": d_code,
                "name": d_name,
                "parent_code": CITY[0],
                "geometry": shapely.coverage_union_all(cells[d_cells]),
            }
        )
        streets = sorted(set(street_of_cell[d_cells]))
        for s_number, (s_label, s_name) in enumerate(
            zip(streets, unique_names(rng, len(streets), "街道", taken), strict=True), start=1
        ):
            s_code = f"{d_code}{s_number:03d}"
            s_cells = np.flatnonzero(street_of_cell == s_label)
            out["streets"].append(
                {
                    "code": s_code,
                    "name": s_name,
                    "parent_code": d_code,
                    "geometry": shapely.coverage_union_all(cells[s_cells]),
                }
            )
            communities = sorted(set(community_of_cell[s_cells]))
            for c_number, (c_label, c_name) in enumerate(
                zip(communities, unique_names(rng, len(communities), "社区", taken), strict=True),
                start=1,
            ):
                c_code = f"{s_code}{c_number:03d}"
                c_cells = np.flatnonzero(community_of_cell == c_label)
                out["communities"].append(
                    {
                        "code": c_code,
                        "name": c_name,
                        "parent_code": s_code,
                        "geometry": shapely.coverage_union_all(cells[c_cells]),
                    }
                )
                for g_number, cell in enumerate(c_cells, start=1):
                    households = int(rng.integers(150, 450))
                    out["grids"].append(
                        {
                            "code": f"{c_code}{g_number:03d}",
                            "name": f"{c_name}第{g_number}网格",
                            "parent_code": c_code,
                            "grid_head_name": SURNAMES[rng.integers(len(SURNAMES))]
                            + "".join(GIVEN[i] for i in rng.choice(len(GIVEN), 2, replace=False)),
                            "grid_head_phone": f"1380000{len(out['grids']):04d}",
                            "households": households,
                            "population": int(households * rng.uniform(2.2, 3.1)),
                            "geometry": cells[cell],
                        }
                    )
    return out


def departments(features: dict[str, list[dict]]) -> list[dict[str, str]]:

    rows = []
    for code, name, level, roles in (
        [(CITY[0], "示范市", "city", DEPARTMENT_ROLES["city"])]
        + [
            (d["code"], d["name"], "district", DEPARTMENT_ROLES["city"])
            for d in features["districts"]
        ]
        + [
            (s["code"], s["name"], "street", DEPARTMENT_ROLES["street"])
            for s in features["streets"]
        ]
        + [
            (c["code"], c["name"], "community", DEPARTMENT_ROLES["community"])
            for c in features["communities"]
        ]
    ):
        for role, title in roles:
            rows.append(
                {
                    "code": f"{code}-{role}",
                    "name": f"{name}{title}",
                    "level": level,
                    "area_code": code,
                    "role": role,
                }
            )
    return rows


# The demo responsibility list (权责清单): by major class, then sub-class overrides.
CLASS_RULES = {
    "01": [("社区", "JW", 24), ("街道", "CG", 24), ("区", "CG", 48), ("市", "CG", 72)],
    "02": [("社区", "JW", 24), ("街道", "CG", 24), ("区", "CG", 48), ("市", "CG", 72)],
    "03": [("街道", "ZF", 24), ("区", "ZJ", 48), ("市", "ZJ", 72)],
    "04": [("社区", "JW", 1), ("街道", "YJ", 1), ("区", "YJ", 2), ("市", "YJ", 4)],
    "05": [("社区", "JW", 12), ("街道", "ZF", 24), ("区", "CG", 48), ("市", "CG", 72)],
    "06": [("社区", "JW", 48), ("街道", "CG", 48), ("区", "CG", 72), ("市", "CG", 96)],
}
SUBCLASS_RULES = {
    "0101": [("社区", "JW", 24), ("街道", "ZF", 72), ("区", "ZJ", 120), ("市", "ZJ", 168)],
    "0105": [("社区", "JW", 24), ("街道", "CG", 24), ("区", "HB", 48), ("市", "HB", 72)],
    "0402": [("社区", "JW", 1), ("街道", "YJ", 1), ("区", "SW", 2), ("市", "SW", 4)],
    "0403": [("街道", "YJ", 0.5), ("区", "YJ", 1), ("市", "YJ", 2)],
    "0404": [("社区", "JW", 2), ("街道", "YJ", 2), ("区", "SW", 4), ("市", "SW", 8)],
    "0505": [("社区", "JW", 12), ("街道", "GA", 4), ("区", "JT", 24), ("市", "JT", 48)],
    "0602": [("社区", "JW", 24), ("街道", "CG", 24), ("区", "HB", 24), ("市", "HB", 48)],
}
# Area-specific rules: the most specific rule wins over the city-wide one.
AREA_RULES = [
    ("0102", "街道", "990102", "ZF", 12),  # 东澜区: exposed rubbish goes to law enforcement
    ("0505", "街道", "990103001", "990103001-ZF", 2),  # one street's own parking rule
]
RESPONSIBILITY_HEADERS = ["事项编码", "层级", "区域编码", "责任部门", "时限（小时）"]


def responsibilities(categories_csv: Path) -> list[list[str]]:
    """The demo responsibility list, with the headers a city's spreadsheet would have."""
    with categories_csv.open(encoding="utf-8") as fh:
        leaves = [row for row in csv.DictReader(fh) if row["parent_code"]]
    rows = []
    for leaf in leaves:
        for level, role, hours in SUBCLASS_RULES.get(
            leaf["code"], CLASS_RULES[leaf["parent_code"]]
        ):
            rows.append([leaf["code"], level, "", role, f"{hours:g}"])
    rows += [[c, level, area, dept, f"{hours:g}"] for c, level, area, dept, hours in AREA_RULES]
    return rows


STOCKPILE_KINDS = [  # kind, owner level, share, quantity scale, opening hours
    ("community_store", "community", 0.6, 1, "08:00-20:00"),
    ("station", "street", 0.25, 3, "24小时"),
    ("school_shelter", "street", 0.07, 2, "应急时开放"),
    ("warehouse", "district", 0.06, 20, "24小时"),
    ("warehouse", "city", 0.02, 60, "24小时"),
]
KIND_NAMES = {
    "community_store": "应急物资储备点",
    "station": "街道应急站",
    "school_shelter": "学校应急避难场所",
    "warehouse": "应急物资仓库",
}
PERISHABLE = {"water", "instant_food", "rice", "cooking_oil", "medicine_kit", "disinfectant"}


def stockpiles(features: dict[str, list[dict]], items_csv: Path, count: int = 300) -> list[dict]:
    """Stockpiles at random points of random grids, with plausible inventories."""
    rng = np.random.default_rng(SEED + 1)  # its own stream: the boundaries stay as they are
    with items_csv.open(encoding="utf-8") as fh:
        items = [row["code"] for row in csv.DictReader(fh)]
    grids = features["grids"]
    shares = np.array([k[2] for k in STOCKPILE_KINDS])
    rows = []
    for n in range(count):
        kind, level, _, scale, hours = STOCKPILE_KINDS[rng.choice(len(STOCKPILE_KINDS), p=shares)]
        grid = grids[rng.integers(len(grids))]
        point = _random_point_in(rng, grid["geometry"])
        community = grid["parent_code"]
        owner = {"community": f"{community}-JW", "street": f"{community[:9]}-YJ",
                 "district": f"{community[:6]}-YJ", "city": f"{CITY[0]}-YJ"}[level]  # fmt: skip
        contact = SURNAMES[rng.integers(len(SURNAMES))] + GIVEN[rng.integers(len(GIVEN))]
        stocked = rng.choice(len(items), size=int(rng.integers(6, 14)), replace=False)
        for index in sorted(stocked):
            item = items[index]
            expires = ""
            if item in PERISHABLE:
                expires = f"{int(rng.integers(2027, 2030))}-{int(rng.integers(1, 13)):02d}-28"
                if rng.random() < 0.05:
                    expires = "2025-06-30"  # expired: the search must skip it
            rows.append(
                {
                    "stockpile_code": f"SP{n + 1:04d}",
                    "stockpile_name": f"{grid['name'].split('第')[0]}{KIND_NAMES[kind]}{n + 1}号",
                    "kind": kind,
                    "owner_department": owner,
                    "contact_name": contact,
                    "contact_phone": f"1390000{n + 1:04d}",
                    "opening_hours": hours,
                    "lon": f"{point.x:.6f}",
                    "lat": f"{point.y:.6f}",
                    "item": item,
                    "quantity": str(
                        int(rng.integers(5, 60)) * scale * (10 if item in PERISHABLE else 1)
                    ),
                    "expires_on": expires,
                }
            )
    return rows


def _random_point_in(rng: np.random.Generator, polygon: shapely.Geometry) -> shapely.Point:
    minx, miny, maxx, maxy = polygon.bounds
    while True:
        candidate = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if polygon.contains(candidate):
            return candidate


def roads(features: dict[str, list[dict]]) -> list[shapely.Geometry]:
    """The synthetic streets: every grid edge is a street (网格以街巷定界)."""
    edges = shapely.union_all([shapely.boundary(g["geometry"]) for g in features["grids"]])
    merged = shapely.line_merge(edges)
    return sorted(shapely.get_parts(merged), key=lambda line: line.wkt)


SENSOR_KINDS = [  # kind, metrics, share, owner role at the district
    ("water_quality", "dissolved_oxygen:mg/L;ph:pH;turbidity:NTU", 0.25, "HB"),
    ("manhole", "tilt:°;water_level:cm", 0.35, "SW"),
    ("gas", "methane:%LEL", 0.15, "YJ"),
    ("noise", "noise:dB(A)", 0.15, "HB"),
    ("enterprise_safety", "temperature:°C;pressure:MPa", 0.10, "YJ"),
]
SENSOR_NAMES = {
    "water_quality": "水质监测站",
    "manhole": "智能井盖",
    "gas": "燃气监测点",
    "noise": "噪声监测点",
    "enterprise_safety": "企业安全监测点",
}


def sensors(features: dict[str, list[dict]], count: int = 300) -> list[dict]:
    """Sensors of several kinds at random points, owned by the district's bureau."""
    rng = np.random.default_rng(SEED + 2)  # its own stream
    grids = features["grids"]
    shares = np.array([k[2] for k in SENSOR_KINDS])
    rows = []
    for n in range(count):
        kind, metrics, _, role = SENSOR_KINDS[rng.choice(len(SENSOR_KINDS), p=shares)]
        grid = grids[rng.integers(len(grids))]
        point = _random_point_in(rng, grid["geometry"])
        rows.append(
            {
                "code": f"SN{n + 1:04d}",
                "name": f"{grid['name'].split('第')[0]}{SENSOR_NAMES[kind]}{n + 1}号",
                "kind": kind,
                "owner_department": f"{grid['code'][:6]}-{role}",
                "lon": f"{point.x:.6f}",
                "lat": f"{point.y:.6f}",
                "metrics": metrics,
            }
        )
    return rows


def write(features: dict[str, list[dict]], folder: Path) -> None:
    """Write one GeoJSON file per level and departments.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    for level, items in features.items():
        collection = {
            "type": "FeatureCollection",
            "name": level,
            "features": [
                {
                    "type": "Feature",
                    "properties": {k: v for k, v in item.items() if k != "geometry"},
                    "geometry": mapping(item["geometry"]),
                }
                for item in items
            ],
        }
        text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
        (folder / f"{level}.geojson").write_text(
            text.replace('{"type":"Feature"', '\n{"type":"Feature"') + "\n", encoding="utf-8"
        )
    with (folder / "departments.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["code", "name", "level", "area_code", "role"])
        writer.writeheader()
        writer.writerows(departments(features))
    items_csv = Path(__file__).resolve().parents[1] / "items.csv"
    with (folder / "stockpiles.csv").open("w", newline="", encoding="utf-8") as fh:
        rows = stockpiles(features, items_csv)
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with (folder / "sensors.csv").open("w", newline="", encoding="utf-8") as fh:
        rows = sensors(features)
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    streets = {
        "type": "FeatureCollection",
        "name": "roads",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": mapping(line)}
            for line in roads(features)
        ],
    }
    text = json.dumps(streets, separators=(",", ":"))
    (folder / "roads.geojson").write_text(
        text.replace('{"type":"Feature"', '\n{"type":"Feature"') + "\n"
    )
    with (folder / "responsibilities.csv").open("w", newline="", encoding="utf-8") as fh:
        table = csv.writer(fh)
        table.writerow(RESPONSIBILITY_HEADERS)
        table.writerows(responsibilities(Path(__file__).resolve().parents[1] / "categories.csv"))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    result = build()
    write(result, target)
    print({level: len(items) for level, items in result.items()})
