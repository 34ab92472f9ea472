"""The register's words: tags (configured in geodata/register/tags.csv), and the values
offices write (男, 一级, 较大 ...) turned into keys; ID numbers and credit codes checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from gridgov.tables import Column, read_reference_table, read_table

SEX = {"男": "male", "女": "female", "male": "male", "female": "female", "m": "male", "f": "female"}
RELATION = {
    "户主": "head",
    "本人": "head",
    "配偶": "spouse",
    "子女": "child",
    "子": "child",
    "女": "child",
    "父母": "parent",
    "父亲": "parent",
    "母亲": "parent",
    "孙子女": "grandchild",
    "其他": "other",
}
RELATION.update({key: key for key in ("head", "spouse", "child", "parent", "grandchild", "other")})
USE = {"住宅": "residential", "商铺": "shop", "商住": "mixed", "办公": "office", "其他": "other"}
USE.update({key: key for key in ("residential", "shop", "mixed", "office", "other")})
TENURE = {"自住": "owned", "自有": "owned", "出租": "rented", "租住": "rented", "空置": "vacant"}
TENURE.update({key: key for key in ("owned", "rented", "vacant")})
RISK = {"低": "low", "一般": "normal", "较大": "elevated", "重大": "high"}
RISK.update({key: key for key in ("low", "normal", "elevated", "high")})
INDUSTRY = {
    "零售": "retail",
    "批发和零售业": "retail",
    "餐饮": "catering",
    "住宿和餐饮业": "catering",
    "制造": "manufacturing",
    "制造业": "manufacturing",
    "危险化学品": "hazardous_chemicals",
    "建筑": "construction",
    "建筑业": "construction",
    "物流": "logistics",
    "交通运输、仓储和邮政业": "logistics",
    "服务": "services",
    "居民服务": "services",
}
THING_KINDS = frozenset({"hydrant", "camera", "aed", "manhole", "charging_pile"})
_GRADES = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_TAG_COLUMNS = (
    Column("key", 32),
    Column("name_zh", 50),
    Column("name_en", 100),
    Column("details", 200, required=False),
)


@dataclass(frozen=True)
class TagKind:
    """A tag people may carry, with the details it takes (e.g. kind, grade)."""

    key: str
    name_zh: str
    name_en: str
    details: tuple[str, ...]
    # The kinds this tag takes, by the words offices write and by their own keys
    # (城市低保 -> urban, urban -> urban); empty: kinds are kept as written.
    kinds: dict[str, str] = field(default_factory=dict)

    def kind_key(self, written: str) -> str:
        """The key of a kind as an office wrote it (unknown words stay as written).

        >>> allowance = TagKind("allowance", "低保", "allowance", ("kind",), {"城市低保": "urban"})
        >>> allowance.kind_key("城市低保")
        'urban'
        """
        return self.kinds.get(written.strip(), written.strip())


def load_tags(path: Path) -> dict[str, TagKind]:
    """The configured tags (``key,name_zh,name_en,details``; details separated by spaces),
    with their kinds from ``tag_kinds.csv`` beside it when there is one."""
    kinds: dict[str, dict[str, str]] = {}
    kinds_path = path.with_name("tag_kinds.csv")
    if kinds_path.exists():
        # The first column of a reference table is unique: read kinds without that rule.
        frame = read_table(kinds_path, {})
        for row in frame.to_dict("records"):
            tag, kind, word = (str(row.get(c, "")).strip() for c in ("tag", "kind", "name_zh"))
            if tag and kind:
                kinds.setdefault(tag, {}).update({kind: kind, word: kind} if word else {kind: kind})
    return {
        row["key"]: TagKind(
            row["key"],
            row["name_zh"],
            row["name_en"],
            tuple(row["details"].split()),
            kinds.get(row["key"], {}),
        )
        for row in read_reference_table(path, _TAG_COLUMNS)
    }


def tags_file(geodata_dir: Path) -> Path:
    """Where the tag configuration lives."""
    return geodata_dir / "register" / "tags.csv"


def valid_id_number(value: str) -> str | None:
    """A GB 11643 number checked for length, digits, check character and birth date, in
    its compact form; None when it is not one.

    python-stdnum's ``ric.validate`` also looks the first six digits up in its list of
    real region codes, which refuses every synthetic number (the demo city's 9901xx): the
    register checks what the standard itself defines instead, with stdnum's own parts.

    >>> valid_id_number("11010519491231002x"), valid_id_number("110105194912310021")
    ('11010519491231002X', None)
    """
    number = ric.compact(value)
    if len(number) != 18 or not number[:-1].isdigit():
        return None
    try:
        if number[-1] != ric.calc_check_digit(number):
            return None
        ric.get_birth_date(number)
    except ValidationError:
        return None
    return number


def id_birth_date(number: str) -> date:
    """The birth date a valid ID number (compact, as ``valid_id_number`` gives it) carries:
    checked there already, so read straight from its digits, not cleaned and checked again
    (an import of 100,000 rows asks twice a row).

    >>> id_birth_date("11010519491231002X")
    datetime.date(1949, 12, 31)
    """
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def id_sex(number: str) -> str:
    """The sex a valid ID number carries (odd 17th digit: male)."""
    return "male" if int(number[16]) % 2 else "female"


def valid_credit_code(value: str) -> str | None:
    """A GB 32100 unified social credit code (check character verified), or None.

    >>> valid_credit_code("91110000600037341L"), valid_credit_code("91110000600037341A")
    ('91110000600037341L', None)
    """
    try:
        return str(uscc.validate(value))
    except ValidationError:
        return None


def parse_grade(value: str) -> int | None:
    """A disability grade 1-4 from ``2``, ``二级`` or ``二``; None otherwise.

    >>> parse_grade("二级"), parse_grade("4"), parse_grade("5")
    (2, 4, None)
    """
    text = value.strip().removesuffix("级")
    return _GRADES.get(text)


def parse_date(value: str) -> date | None:
    """A date as offices write it (2024-05-01, 2024/5/1, 20240501); None otherwise.

    >>> parse_date("2024/5/1"), parse_date("20240501"), parse_date("2024-02-30")
    (datetime.date(2024, 5, 1), datetime.date(2024, 5, 1), None)
    """
    text = value.strip().replace("/", "-").replace(".", "-")
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        year, month, day = (int(part) for part in text.split("-"))
        return date(year, month, day)
    except ValueError:
        return None
