"""How Lucene's classic query parser decides which clauses must match.

Clauses are read left to right. ``AND`` makes the clause before it and the
one after it required; with the default operator AND (CKAN sends ``q.op=AND``)
``OR`` makes both optional instead. ``+`` requires a clause, ``-``/``NOT``/``!``
prohibits it. This mirrors ``QueryParserBase.addClause``, including its
quirks (``+a OR b`` under q.op=AND is "a or b").
"""

from __future__ import annotations

import enum
import re
from typing import Any


class Conj(enum.Enum):
    NONE = "none"
    AND = "and"
    OR = "or"


class Mod(enum.Enum):
    NONE = "none"
    REQ = "+"
    NOT = "-"


class Occur(enum.Enum):
    MUST = "must"
    SHOULD = "should"
    MUST_NOT = "must_not"


def occurs(items: list[tuple[Conj, Mod, bool]], default_and: bool) -> list[Occur | None]:
    """The occur of each clause; ``None`` for clauses analysed to nothing.

    Each item is (conjunction before it, modifier, whether it kept any terms).
    Like Lucene, a clause that kept no terms still changes its neighbour's
    occur but is left out of the query.
    """
    result: list[Occur | None] = []
    last: int | None = None
    for conj, mod, kept in items:
        if last is not None and result[last] is not Occur.MUST_NOT:
            if conj is Conj.AND:
                result[last] = Occur.MUST
            elif default_and and conj is Conj.OR:
                result[last] = Occur.SHOULD
        prohibited = mod is Mod.NOT
        if default_and:
            required = not prohibited and conj is not Conj.OR
        else:
            required = mod is Mod.REQ or (conj is Conj.AND and not prohibited)
        if prohibited:
            occur = Occur.MUST_NOT
        else:
            occur = Occur.MUST if required else Occur.SHOULD
        if kept:
            result.append(occur)
            last = len(result) - 1
        else:
            result.append(None)
    return result


# Lucene also spells the operators &&, || and !; luqum does not read them.
_SPELLINGS = re.compile(r'"(?:\\.|[^"\\])*"|(?<!\\)&&|(?<!\\)\|\||(?<![\\\w])!(?=[\w(+"-])')


def normalise_operators(query: str) -> str:
    def swap(match: re.Match[str]) -> str:
        text = match.group(0)
        return {"&&": " AND ", "||": " OR ", "!": "NOT "}.get(text, text)

    return _SPELLINGS.sub(swap, query)


def split(items: list[Any], kinds: list[Occur | None]) -> tuple[list[Any], list[Any], list[Any]]:
    """Group translated clauses into must, should and must-not lists."""
    groups: dict[Occur, list[Any]] = {occur: [] for occur in Occur}
    for item, occur in zip(items, kinds, strict=True):
        if occur is not None:
            groups[occur].append(item)
    return groups[Occur.MUST], groups[Occur.SHOULD], groups[Occur.MUST_NOT]
