"""Generate the demo city's synthetic register (deterministic: the same files every run).

    python geodata/demo_city/register_generate.py [OUTPUT_DIR]

Reads the committed city (grids.geojson, communities.geojson, streets.geojson,
districts.geojson, roads.geojson) and writes OUTPUT_DIR (default: register/ beside this
script): houses, households, people, tags, enterprises and things as the grassroots keep
them, then three department lists with planted mistakes (register_departments.py) and
mistakes.json, the manifest of those mistakes. Every person, number and name is invented;
ID numbers carry valid GB 11643 check digits under the fictitious region codes 9901xx, credit
codes valid GB 32100 check characters.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import shapely
from stdnum.cn import ric, uscc

SEED = 20261205
AS_OF = date(2026, 12, 1)  # ages, tags and validity are as of this day
HOUSEHOLDS = 20_000
ENTERPRISES = 400
THINGS = {"hydrant": 600, "camera": 800, "manhole": 500, "aed": 60, "charging_pile": 240}
THING_NAMES = {
    "hydrant": ("HY", "消火栓"),
    "camera": ("CA", "视频监控"),
    "manhole": ("MH", "井盖"),
    "aed": ("AE", "AED除颤仪"),
    "charging_pile": ("CP", "充电桩"),
}
ON_ROADS = {"hydrant", "camera", "manhole"}
# Surnames with rough weights (south China: 陈 黄 林 梁 韦 more common than nationally).
SURNAMES = dict(zip(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁高郑谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦庞莫覃蒙",
    [6, 6, 5, 5, 7, 3, 5, 2, 2, 2, 1.5, 1.5, 1.2, 1.2, 1.1, 1.1, 1.2, 3, 1.2, 2.5, 1, 1, 1,
     .8, .8, .7, .7, .7, .9, .6, .7, .7, .6, .5, .5, .5, .6, .4, .5, .6, .5, .4, .6, .4, .4,
     .4, .3, .3, .3, .3, .3, .4, .3, .3, .5, .4, .3, .3, .3, .2, .4, .6, .3, .3, 1.5, .6, .6,
     .6, .5],
    strict=True,
))  # fmt: skip
GIVEN = {  # (sex, born before): characters names of that time draw on
    ("male", 1960): "国建德福华明志强文富贵生财永忠兴平振荣耀有才顺金",
    ("female", 1960): "秀英桂兰玉凤珍淑梅芳华琴莲娥芬霞翠",
    ("male", 1990): "伟强磊军勇涛斌杰鹏辉刚波明超海峰亮东林",
    ("female", 1990): "丽静敏燕艳娟霞芳玲婷红娜萍莉丹晓",
    ("male", 2100): "浩宇轩子博俊睿泽梓晨皓然杰文豪航铭喆堃",
    ("female", 2100): "欣怡雨涵梓萱婷佳琪诗思可馨悦嘉彤",
}
SYLLABLES = (
    "青石桂兰滨云溪松柳泉湖港湾竹梅枫槐榕椰珠银金玉文华和平安康宁泰丰盛新兴锦绣光明长乐福瑞祥德仁"
)
ROAD_SUFFIXES = ["路", "路", "街", "巷", "大道"]
DISTRICT_CODES = ["990102", "990103", "990104", "990105"]
# Household kinds: weight, then a function of the generator building the members.
KIND_WEIGHTS = {
    "elderly_alone": 0.10,
    "single": 0.14,
    "elderly_couple": 0.15,
    "couple": 0.08,
    "nuclear": 0.27,
    "three_generations": 0.11,
    "skipped_generation": 0.03,
    "single_parent": 0.06,
    "other": 0.06,
}
RENTING = {"single": 0.6, "couple": 0.35, "nuclear": 0.2, "other": 0.5, "single_parent": 0.3}
DISABILITY_KINDS = {
    "physical": 0.45,
    "hearing": 0.15,
    "visual": 0.12,
    "mental": 0.10,
    "multiple": 0.09,
    "intellectual": 0.08,
    "speech": 0.01,
}
GRADES = {1: 0.12, 2: 0.22, 3: 0.30, 4: 0.36}
CHRONIC_KINDS = ["hypertension", "diabetes", "heart_disease", "stroke", "copd"]
INDUSTRIES = {  # key: weight, {risk class: weight}, name words
    "retail": (0.30, {"low": 0.7, "normal": 0.3}, ["便利店", "超市", "五金店", "药店"]),
    "catering": (0.22, {"low": 0.3, "normal": 0.6, "elevated": 0.1}, ["餐馆", "粉店", "茶餐厅"]),
    "services": (0.18, {"low": 0.6, "normal": 0.4}, ["理发店", "洗衣店", "家政服务部"]),
    "manufacturing": (
        0.10,
        {"low": 0.1, "normal": 0.5, "elevated": 0.3, "high": 0.1},
        ["机械制造有限公司", "食品有限公司", "塑料制品厂"],
    ),
    "construction": (0.08, {"normal": 0.5, "elevated": 0.4, "high": 0.1}, ["建筑工程有限公司"]),
    "logistics": (0.07, {"normal": 0.6, "elevated": 0.4}, ["物流有限公司", "仓储中心"]),
    "hazardous_chemicals": (0.05, {"elevated": 0.5, "high": 0.5}, ["化工有限公司", "加油站"]),
}
SMALL_SHOPS = {"retail", "catering", "services"}  # often 个体工商户 (organisation type 2)


@dataclass
class Person:
    id_number: str
    name: str
    sex: str
    birth_date: date
    phone: str
    household_code: str
    relation: str
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def age(self) -> int:
        before = (AS_OF.month, AS_OF.day) < (self.birth_date.month, self.birth_date.day)
        return AS_OF.year - self.birth_date.year - before


@dataclass
class House:
    code: str
    address: str
    building: str
    unit: str
    room: str
    lon: float
    lat: float
    use: str
    tenure: str
    grid: str
    district: str

    @property
    def full_address(self) -> str:
        """The address as offices write it: 东澜区青石路12号3栋2单元501室."""
        if not self.building:
            return self.address
        return f"{self.address}{self.building}栋{self.unit}单元{self.room}室"


def pick(rng: np.random.Generator, weights: dict) -> object:
    """A key of ``weights`` drawn with those weights."""
    keys = list(weights)
    p = np.array([float(w) for w in weights.values()])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


class Register:
    """The synthetic register, built step by step from one random stream."""

    def __init__(self, folder: Path) -> None:
        self.rng = np.random.default_rng(SEED)
        self.folder = folder
        self.names = {
            f["properties"]["code"]: f["properties"]["name"]
            for level in ("districts", "streets", "communities")
            for f in load(folder / f"{level}.geojson")
        }
        self.grids = [
            (f["properties"], shapely.geometry.shape(f["geometry"]))
            for f in load(folder / "grids.geojson")
        ]
        self.roads = [shapely.geometry.shape(f["geometry"]) for f in load(folder / "roads.geojson")]
        self.used_ids: set[str] = set()
        self.used_numbers: dict[str, int] = {}
        self.houses: list[House] = []
        self.households: list[tuple[str, str, str]] = []  # code, house code, kind
        self.people: list[Person] = []
        self.road_names: dict[str, list[str]] = {}
        self.taken_roads: set[str] = set()

    # --- people -------------------------------------------------------------------------

    def id_number(self, region: str, born: date, sex: str) -> str:
        """A fresh 18-digit number: region, birth date, sequence (odd for men), check digit."""
        while True:
            sequence = int(self.rng.integers(0, 500)) * 2 + (1 if sex == "male" else 0)
            body = f"{region}{born:%Y%m%d}{sequence:03d}"
            number = with_check_digit(body)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def name(self, sex: str, born: date, surname: str | None = None) -> str:
        surname = surname or str(pick(self.rng, SURNAMES))
        pool = next(v for (s, year), v in GIVEN.items() if s == sex and born.year < year)
        length = 1 if self.rng.random() < 0.25 else 2
        given = self.rng.choice(len(pool), length, replace=False)
        return surname + "".join(pool[int(i)] for i in given)

    def phone(self, age: int) -> str:
        if age < 12 or (age > 85 and self.rng.random() < 0.5):
            return ""
        prefix = ["13", "15", "18"][int(self.rng.integers(3))] + str(int(self.rng.integers(10)))
        return f"{prefix}0000{int(self.rng.integers(10_000)):04d}"

    def birth(self, age: int) -> date:
        """A birth date making someone ``age`` years old on AS_OF."""
        latest = date(AS_OF.year - age, AS_OF.month, 1)
        return latest - timedelta(days=int(self.rng.integers(0, 365)))

    def person(
        self, household: str, relation: str, sex: str, age: int, district: str, surname=None
    ) -> Person:
        age = int(min(max(age, 0), 101))
        born = self.birth(age)
        # Most were registered where they live; some elsewhere in the city.
        region = district if self.rng.random() < 0.8 else DISTRICT_CODES[self.rng.integers(4)]
        person = Person(
            id_number=self.id_number(region, born, sex),
            name=self.name(sex, born, surname),
            sex=sex,
            birth_date=born,
            phone="",
            household_code=household,
            relation=relation,
        )
        person.phone = self.phone(person.age)
        self.people.append(person)
        return person

    def members(self, code: str, kind: str, district: str) -> list[Person]:
        """The people of one household of ``kind``."""
        r = self.rng
        other = {"male": "female", "female": "male"}

        def add(relation, sex, age, surname=None):
            return self.person(code, relation, sex, age, district, surname)

        sex = "male" if r.random() < 0.55 else "female"
        if kind == "elderly_alone":
            return [add("head", "female" if r.random() < 0.65 else "male", 62 + r.gamma(2, 6))]
        if kind == "single":
            return [add("head", sex, r.integers(19, 60))]
        if kind in ("elderly_couple", "couple"):
            age = 60 + r.gamma(2, 5) if kind == "elderly_couple" else r.integers(22, 60)
            head = add("head", "male", age)
            return [head, add("spouse", "female", age + r.integers(-6, 3))]
        if kind in ("nuclear", "three_generations"):
            age = int(r.integers(28, 56))
            head = add("head", "male", age)
            people = [head, add("spouse", "female", age + r.integers(-5, 3))]
            for _ in range(1 + (r.random() < 0.35) + (r.random() < 0.04)):
                people.append(
                    add(
                        "child",
                        pick(r, {"male": 1, "female": 1}),
                        age - r.integers(22, 36),
                        head.name[0],
                    )
                )
            if kind == "three_generations":
                for parent_sex in ["female", "male"][: 1 + (r.random() < 0.45)]:
                    people.append(add("parent", parent_sex, age + r.integers(24, 34)))
            return people
        if kind == "skipped_generation":
            age = int(r.integers(55, 78))
            head = add("head", "male", age)
            people = [head] + ([add("spouse", "female", age - 2)] if r.random() < 0.7 else [])
            for _ in range(1 + (r.random() < 0.5)):
                people.append(
                    add(
                        "grandchild",
                        pick(r, {"male": 1, "female": 1}),
                        r.integers(3, 16),
                        head.name[0],
                    )
                )
            return people
        if kind == "single_parent":
            age = int(r.integers(26, 56))
            head = add("head", sex, age)
            return [head] + [
                add(
                    "child",
                    other[sex] if r.random() < 0.5 else sex,
                    age - r.integers(20, 34),
                    head.name[0],
                )
                for _ in range(1 + (r.random() < 0.4))
            ]
        head = add("head", sex, r.integers(20, 70))
        return [head] + [
            add("other", pick(r, {"male": 1, "female": 1}), r.integers(18, 70))
            for _ in range(1 + (r.random() < 0.4))
        ]

    # --- houses -------------------------------------------------------------------------

    def road_for(self, community: str) -> str:
        if community not in self.road_names:
            names = []
            while len(names) < 4:
                a, b = self.rng.choice(len(SYLLABLES), 2, replace=False)
                road = SYLLABLES[a] + SYLLABLES[b] + ROAD_SUFFIXES[self.rng.integers(5)]
                if road not in self.taken_roads:
                    self.taken_roads.add(road)
                    names.append(road)
            self.road_names[community] = names
        roads = self.road_names[community]
        return roads[int(self.rng.integers(len(roads)))]

    def address(self, community: str, district: str) -> str:
        road = self.road_for(community)
        self.used_numbers[road] = self.used_numbers.get(road, 0) + int(self.rng.integers(1, 4))
        return f"{self.names[district]}{road}{self.used_numbers[road]}号"

    def houses_of_grid(self, grid: dict, polygon, occupied: int) -> list[House]:
        """``occupied`` residential houses and a few vacant ones and shops, in buildings."""
        r = self.rng
        vacant, shops = int(r.binomial(occupied, 0.07)), int(r.binomial(occupied, 0.03))
        community, district = grid["parent_code"], grid["parent_code"][:6]
        houses: list[House] = []
        uses = ["residential"] * (occupied + vacant) + ["shop"] * shops
        points = random_points(r, polygon, len(uses))
        building = None
        for number, (use, point) in enumerate(zip(uses, points, strict=True)):
            code = f"H{len(self.houses) + len(houses) + 1:06d}"
            if use != "residential" or r.random() < 0.2:  # a shop or a house of its own
                address = self.address(community, district)
                if use == "shop" and r.random() < 0.3:
                    use = "mixed"  # a shop below, a home above
                houses.append(
                    House(
                        code,
                        address,
                        "",
                        "",
                        "",
                        point[0],
                        point[1],
                        use,
                        "",
                        grid["code"],
                        district,
                    )
                )
                continue
            if building is None or number % 6 == 0:  # a new building: its own door number
                building = (
                    self.address(community, district),
                    str(r.integers(1, 12)),
                    point,
                    int(r.integers(6, 33)),
                    set(),
                )
            address, name, (lon, lat), floors, rooms = building
            while True:
                unit, floor, door = r.integers(1, 4), r.integers(1, floors + 1), r.integers(1, 5)
                if (unit, floor, door) not in rooms:
                    rooms.add((unit, floor, door))
                    break
            houses.append(
                House(
                    code,
                    address,
                    name,
                    str(unit),
                    f"{floor}{door:02d}",
                    lon,
                    lat,
                    "residential",
                    "",
                    grid["code"],
                    district,
                )
            )
        return houses

    def build(self) -> None:
        """Houses in every grid by its households figure, households in them, people."""
        quotas = allocate(np.array([g["households"] for g, _ in self.grids]), HOUSEHOLDS)
        for (grid, polygon), quota in zip(self.grids, quotas, strict=True):
            houses = self.houses_of_grid(grid, polygon, int(quota))
            homes = [h for h in houses if h.use in ("residential", "mixed")]
            order = self.rng.permutation(len(homes))[:quota]
            for index in sorted(order):
                house = homes[int(index)]
                code = f"HH{len(self.households) + 1:06d}"
                kind = str(pick(self.rng, KIND_WEIGHTS))
                self.members(code, kind, house.district)
                house.tenure = "rented" if self.rng.random() < RENTING.get(kind, 0.05) else "owned"
                self.households.append((code, house.code, kind))
            for house in houses:
                house.tenure = house.tenure or (
                    "vacant"
                    if house.use == "residential"
                    else "rented"
                    if self.rng.random() < 0.7
                    else "owned"
                )
            self.houses.extend(houses)
        self.tag()

    # --- tags ---------------------------------------------------------------------------

    def since(self, earliest: int = 2010) -> str:
        start = date(earliest, 1, 1)
        return str(start + timedelta(days=int(self.rng.integers(0, (AS_OF - start).days))))

    def tag(self) -> None:
        """Tags from each person's age and household (in people order, for determinism)."""
        r = self.rng
        by_household: dict[str, list[Person]] = {}
        for p in self.people:
            by_household.setdefault(p.household_code, []).append(p)
        kinds = {code: kind for code, _, kind in self.households}
        tenure = {h.code: h.tenure for h in self.houses}
        house_of = {code: house for code, house, _ in self.households}
        allowance_households = set()
        for code in by_household:
            chance = {"elderly_alone": 0.06, "single_parent": 0.08, "skipped_generation": 0.08}
            if r.random() < chance.get(kinds[code], 0.018):
                allowance_households.add(code)
        for p in self.people:
            kind, age = kinds[p.household_code], p.age
            if kind == "elderly_alone":
                p.tags.append(tag("living_alone", valid_from=self.since()))
            severity = [0.008, 0.018, 0.05, 0.09][(age >= 18) + (age >= 60) + (age >= 80)]
            if r.random() < severity:
                grade = int(str(pick(r, GRADES)))
                p.tags.append(
                    tag(
                        "disability",
                        kind=str(pick(r, DISABILITY_KINDS)),
                        grade=str(grade),
                        valid_from=self.since(2000),
                    )
                )
                alone = kind == "elderly_alone" or len(by_household[p.household_code]) == 1
                if grade <= 2 and r.random() < (0.7 if alone else 0.08):
                    p.tags.append(tag("no_carer", valid_from=self.since()))
            if p.household_code in allowance_households:
                start = self.since(2018)
                expired = r.random() < 0.1
                end = str(AS_OF - timedelta(days=int(r.integers(30, 300)))) if expired else ""
                p.tags.append(
                    tag(
                        "allowance",
                        kind="rural" if r.random() < 0.3 else "urban",
                        valid_from=start,
                        valid_to=max(end, start) if end else "",
                    )
                )
            if kind == "skipped_generation" and p.relation == "grandchild" and age < 16:
                p.tags.append(tag("left_behind_child", valid_from=self.since(2022)))
            if p.sex == "male" and 30 <= age <= 90 and r.random() < 0.04:
                p.tags.append(tag("veteran", valid_from=self.since(1980)))
            if tenure[house_of[p.household_code]] == "rented":
                p.tags.append(tag("rental_tenant", valid_from=self.since(2020)))
            if (kind == "elderly_alone" and age >= 80 and r.random() < 0.05) or (
                kind == "single_parent" and p.relation == "child" and r.random() < 0.02
            ):
                p.tags.append(tag("special_care", valid_from=self.since(2020)))
            chronic = [0.005, 0.06, 0.25][(age >= 40) + (age >= 60)]
            if r.random() < chronic:
                kind_of = CHRONIC_KINDS[int(r.integers(len(CHRONIC_KINDS)))]
                p.tags.append(tag("chronic_illness", kind=kind_of, valid_from=self.since(2015)))

    # --- enterprises and things -------------------------------------------------------------

    def enterprises(self) -> list[dict[str, str]]:
        r = self.rng
        weights = np.array([g["households"] for g, _ in self.grids], dtype=float)
        rows, codes = [], set()
        for n in range(ENTERPRISES):
            grid, polygon = self.grids[int(r.choice(len(self.grids), p=weights / weights.sum()))]
            industry = str(pick(r, {k: v[0] for k, v in INDUSTRIES.items()}))
            _, risks, words = INDUSTRIES[industry]
            small = industry in SMALL_SHOPS and r.random() < 0.6
            district = grid["parent_code"][:6]
            while True:
                code = credit_code(r, district, "2" if small else "1")
                if code not in codes:
                    codes.add(code)
                    break
            word = words[int(r.integers(len(words)))]
            a, b = r.choice(len(SYLLABLES), 2, replace=False)
            prefix = self.names[district] if small else "示范市"
            (lon, lat), *_ = random_points(r, polygon, 1)
            contact_born = self.birth(int(r.integers(25, 65)))
            rows.append(
                {
                    "credit_code": code,
                    "name": f"{prefix}{SYLLABLES[a]}{SYLLABLES[b]}{word}",
                    "address": self.address(grid["parent_code"], district),
                    "lon": f"{lon:.6f}",
                    "lat": f"{lat:.6f}",
                    "industry": industry,
                    "risk_class": str(pick(r, risks)),
                    "contact": self.name(str(pick(r, {"male": 1, "female": 1})), contact_born),
                    "phone": f"1370000{n + 1:04d}",
                }
            )
        return rows

    def things(self) -> list[dict[str, str]]:
        r = self.rng
        lengths = np.array([road.length for road in self.roads])
        rows = []
        for kind, count in THINGS.items():
            prefix, label = THING_NAMES[kind]
            for n in range(count):
                if kind in ON_ROADS:
                    road = self.roads[int(r.choice(len(self.roads), p=lengths / lengths.sum()))]
                    point = road.interpolate(float(r.random()), normalized=True)
                    lon, lat = point.x, point.y
                    grid = self.grids[int(r.integers(len(self.grids)))][0]  # only for the name
                else:
                    grid, polygon = self.grids[int(r.integers(len(self.grids)))]
                    (lon, lat), *_ = random_points(r, polygon, 1)
                community = self.names[grid["parent_code"]]
                rows.append(
                    {
                        "thing_code": f"{prefix}{n + 1:05d}",
                        "kind": kind,
                        "name": f"{community}{label}{n + 1}号",
                        "lon": f"{lon:.6f}",
                        "lat": f"{lat:.6f}",
                    }
                )
        return rows


def with_check_digit(body: str) -> str:
    """The 17 digits and their GB 11643 check digit (stdnum wants a placeholder for it).

    >>> with_check_digit("11010519491231002")
    '11010519491231002X'
    """
    return body + ric.calc_check_digit(body + "0")


def tag(key: str, kind: str = "", grade: str = "", valid_from: str = "", valid_to: str = ""):
    return {
        "tag": key,
        "kind": kind,
        "grade": grade,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }


def credit_code(rng: np.random.Generator, district: str, org_type: str) -> str:
    """A GB 32100 code: 9 (market regulator), type, region, organisation code, check char."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "MA" + "".join(alphabet[int(i)] for i in rng.integers(0, 31, 6))
    organisation = body + organisation_check(body)
    code = f"9{org_type}{district}{organisation}"
    return code + uscc.calc_check_digit(code)


def organisation_check(body: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body.

    >>> organisation_check("D2143569")
    '1'
    """
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def allocate(weights: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to ``weights`` summing to ``total`` (largest remainder).

    >>> allocate(np.array([1, 1, 2]), 5).tolist()
    [1, 1, 3]
    """
    exact = weights * total / weights.sum()
    whole = np.floor(exact).astype(int)
    order = np.argsort(-(exact - whole), kind="stable")
    whole[order[: total - whole.sum()]] += 1
    return whole


def random_points(rng: np.random.Generator, polygon, count: int) -> list[tuple[float, float]]:
    """``count`` points inside ``polygon`` (rejection sampling in its bounds), 1e-6° rounded."""
    minx, miny, maxx, maxy = polygon.bounds
    found: list[tuple[float, float]] = []
    while len(found) < count:
        xy = rng.uniform((minx, miny), (maxx, maxy), (max(8, 2 * count), 2)).round(6)
        inside = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]
        found.extend((float(x), float(y)) for x, y in inside[: count - len(found)])
    return found


def load(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: row[c] for c in columns} for row in rows)


def write(register: Register, target: Path) -> dict[str, int]:
    """Write the register files and the department lists; return the row counts."""
    import register_departments  # beside this script

    target.mkdir(parents=True, exist_ok=True)
    houses = [
        {**vars(h), "house_code": h.code, "lon": f"{h.lon:.6f}", "lat": f"{h.lat:.6f}"}
        for h in register.houses
    ]
    write_csv(
        target / "houses.csv",
        houses,
        ["house_code", "address", "building", "unit", "room", "lon", "lat", "use", "tenure"],
    )
    households = [{"household_code": c, "house_code": h} for c, h, _ in register.households]
    write_csv(target / "households.csv", households, ["household_code", "house_code"])
    people = [{**vars(p), "birth_date": str(p.birth_date)} for p in register.people]
    write_csv(
        target / "people.csv",
        people,
        ["id_number", "name", "sex", "birth_date", "phone", "household_code", "relation"],
    )
    tags = [{"id_number": p.id_number, **t} for p in register.people for t in p.tags]
    write_csv(
        target / "tags.csv", tags, ["id_number", "tag", "kind", "grade", "valid_from", "valid_to"]
    )
    enterprises = register.enterprises()
    write_csv(target / "enterprises.csv", enterprises, list(enterprises[0]))
    things = register.things()
    write_csv(target / "things.csv", things, list(things[0]))
    mistakes = register_departments.write_all(register, enterprises, target / "departments", SEED)
    (target / "mistakes.json").write_text(
        json.dumps(mistakes, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return {
        "houses": len(houses),
        "households": len(households),
        "people": len(people),
        "tags": len(tags),
        "enterprises": len(enterprises),
        "things": len(things),
    }


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "register"
    made = Register(here)
    made.build()
    print(write(made, target))
