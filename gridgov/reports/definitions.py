"""The grammar of indicator definitions (the ``definition`` column of geodata/indicators.csv).

A definition is one figure over one source, narrowed by conditions::

    count(incident)                                  every incident
    count(incident, status = closed)                 a comparison
    count(person, tag = disability, grade <= 2)      conditions all hold (and)
    count(incident, category = 0601|0602)            one of several values
    count(incident, resolved within deadline)        a named condition of the source
    count(stock, expires within 90 days)             ... with a number in it
    count(household, any member tag = allowance)     a field of several words
    sum(stock.quantity, item = tent)                 a sum or mean of a measure
    mean(incident.rating)
    count(distinct visit.unit)                       distinct values of a field

The grammar is written for lark (a well-kept, dependency-free parser library): the whole
language is the EBNF below, errors come with the column at fault, and a city that needs a
new form of condition reads one grammar instead of a hand-written tokenizer. What a field,
a value or a named condition means is the source's business (``gridgov.reports.sources``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import cast

from lark import Lark, Token, Transformer, UnexpectedInput

GRAMMAR = r"""
    start: FUNCTION "(" target ("," condition)* ")"
    target: DISTINCT? WORD ("." WORD)?
    condition: phrase (OPERATOR values)?
    phrase: (WORD | NUMBER)+
    values: value ("|" value)*
    value: WORD | NUMBER

    FUNCTION: "count" | "sum" | "mean"
    DISTINCT.2: /distinct\b/
    OPERATOR: ">=" | "<=" | "!=" | "=" | ">" | "<"
    WORD: /[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff-]*/
    NUMBER: /-?\d+(\.\d+)?/
    %import common.WS
    %ignore WS
"""


class DefinitionError(ValueError):
    """A definition the grammar refuses; ``column`` is where (1-based), when known."""

    def __init__(self, definition: str, column: int | None = None) -> None:
        self.definition = definition
        self.column = column
        at = f" at column {column}" if column else ""
        super().__init__(f"cannot read the definition {definition!r}{at}")


@dataclass(frozen=True)
class Condition:
    """``field op values`` (a comparison) or a named condition (``op`` is None)."""

    field: str
    op: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Definition:
    """A parsed definition: ``function(source[.measure], conditions...)``."""

    function: str
    source: str
    measure: str | None = None
    distinct: bool = False
    conditions: tuple[Condition, ...] = ()

    def narrowed(self, *extra: Condition) -> Definition:
        """The same figure with more conditions (a row's category, a column's status)."""
        return Definition(
            self.function, self.source, self.measure, self.distinct, self.conditions + extra
        )


class _Build(Transformer[Token, Definition]):
    def start(self, items: list[object]) -> Definition:
        function, target, *conditions = items
        distinct, source, measure = cast(tuple[bool, str, str | None], target)
        return Definition(
            function=str(function),
            source=source,
            measure=measure,
            distinct=distinct,
            conditions=tuple(c for c in conditions if isinstance(c, Condition)),
        )

    def target(self, items: list[Token]) -> tuple[bool, str, str | None]:
        distinct = bool(items) and items[0].type == "DISTINCT"
        names = [str(t) for t in items if t.type == "WORD"]
        return distinct, names[0], names[1] if len(names) > 1 else None

    def condition(self, items: list[object]) -> Condition:
        phrase = str(items[0])
        if len(items) == 1:
            return Condition(phrase)
        return Condition(phrase, str(items[1]), tuple(items[2]))  # type: ignore[arg-type]

    def phrase(self, items: list[Token]) -> str:
        return " ".join(str(t) for t in items)

    def values(self, items: list[str]) -> tuple[str, ...]:
        return tuple(items)

    def value(self, items: list[Token]) -> str:
        return str(items[0])


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr")


@cache
def parse(definition: str) -> Definition:
    """Read a definition.

    >>> parse("count(person, tag = disability, grade <= 2)").conditions[1]
    Condition(field='grade', op='<=', values=('2',))
    >>> parse("sum(stock.quantity, item = tent)").measure
    'quantity'
    >>> parse("count(distinct visit.unit)").distinct
    True
    >>> parse("count(stock, expires within 90 days)").conditions[0].field
    'expires within 90 days'
    """
    try:
        tree = _parser().parse(definition)
    except UnexpectedInput as exc:
        raise DefinitionError(definition, exc.column if exc.column > 0 else None) from exc
    return _Build().transform(tree)
