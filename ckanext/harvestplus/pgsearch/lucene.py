"""Translate Lucene query syntax (parsed by luqum) into SQL over the index.

Clause semantics follow Lucene's BooleanQuery: ``+`` clauses must match,
``-``/``NOT`` clauses must not, and plain clauses are required when the
operator is AND (CKAN sends ``q.op=AND``) or optional otherwise, in which case
at least one must match unless a required clause exists. A construct with no
faithful SQL equivalent raises ``SearchQueryError`` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Union

import sqlalchemy as sa
from ckan.lib.search.common import SearchQueryError
from luqum import tree
from luqum.exceptions import ParseError
from luqum.thread import parse
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import UserDefinedType

from . import datemath
from .clauses import Conj, Mod, normalise_operators, occurs, split
from .model import document, key
from .schema import TEXT_FIELD, TEXT_KINDS, Kind, Schema

if TYPE_CHECKING:
    from sqlalchemy.sql.expression import ColumnElement

    SQL = ColumnElement[bool]


class RegConfig(UserDefinedType):
    """PostgreSQL's ``regconfig`` (SQLAlchemy 1.4, used by CKAN 2.11, lacks it)."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return "REGCONFIG"


@dataclass
class Contains:
    """Exact values of non-text fields, merged into one indexed ``exact @> ...`` test."""

    terms: dict[str, list[str]] = field(default_factory=dict)

    def sql(self) -> SQL:
        wanted = [key(name, value) for name, values in self.terms.items() for value in values]
        return document.c.exact.contains(wanted)


if TYPE_CHECKING:
    Pred = Union[Contains, SQL]  # noqa: UP007 (alias evaluated on Python 3.10 too)


def as_sql(pred: Pred) -> SQL:
    return pred.sql() if isinstance(pred, Contains) else pred


def all_of(preds: list[Pred]) -> Pred:
    merged = Contains()
    rest: list[SQL] = []
    for pred in preds:
        if isinstance(pred, Contains):
            for name, values in pred.terms.items():
                merged.terms.setdefault(name, []).extend(values)
        else:
            rest.append(pred)
    if not rest:
        # Kept unconverted so a caller can merge it with further filters.
        return merged if merged.terms else sa.true()
    if merged.terms:
        rest.insert(0, merged.sql())
    return rest[0] if len(rest) == 1 else sa.and_(*rest)


def any_of(preds: list[Pred]) -> SQL:
    if not preds:
        return sa.false()
    sqls = [as_sql(p) for p in preds]
    return sqls[0] if len(sqls) == 1 else sa.or_(*sqls)


def regconfig(name: str) -> ColumnElement[Any]:
    return sa.cast(sa.literal(name), RegConfig())


def analysable(text: str) -> bool:
    """Whether text keeps any word once analysed (letters or digits)."""
    return re.search(r"[^\W_]", text) is not None


_ESCAPE = re.compile(r"\\(.)")


def unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text)


def _values(name: str) -> ColumnElement[Any]:
    return sa.func.coalesce(document.c.terms[name], sa.cast(sa.literal("[]"), JSONB))


def any_value(name: str, test: Any) -> SQL:
    """True when some value of a (possibly multi-valued) field passes ``test``."""
    values = sa.func.jsonb_array_elements_text(document.c.terms[name]).table_valued("value").alias()
    return sa.exists(sa.select(sa.literal(1)).select_from(values).where(test(values.c.value)))


_CONJ = {tree.AndOperation: Conj.AND, tree.OrOperation: Conj.OR}


def flatten(node: tree.Item, conj: Conj) -> Any:
    """Clauses of nested AND/OR/implicit operations in reading order, each with
    the conjunction written before it (luqum nests by precedence; Lucene does not)."""
    if isinstance(node, tree.BaseOperation):
        inner = _CONJ.get(type(node), Conj.NONE)
        for i, child in enumerate(node.children):
            yield from flatten(child, conj if i == 0 else inner)
    else:
        yield conj, node


def combine(must: list[Pred], should: list[Pred], must_not: list[Pred]) -> Pred:
    """Lucene's BooleanQuery: optional clauses only count when nothing is required;
    a query of prohibited clauses alone matches everything else (as Solr does)."""
    preds = list(must)
    if should and not must:
        preds.append(any_of(should))
    if must_not:
        preds.append(sa.not_(any_of(must_not)))
    return all_of(preds)


class Translator:
    def __init__(self, schema: Schema, text_config: str, default_and: bool) -> None:
        self.schema = schema
        self.text_config = text_config
        self.default_and = default_and

    # -- entry points -------------------------------------------------------

    def parse(self, query: str) -> tree.Item:
        if "\x00" in query:
            raise SearchQueryError("Search queries may not contain NUL characters")
        try:
            # luqum.thread.parse: the plain parser shares one lexer between threads.
            return parse(normalise_operators(query))
        except (ParseError, TypeError, ValueError) as e:
            raise SearchQueryError(f"Invalid search query {query!r}: {e}") from e

    def translate(self, query: str, default_field: str = TEXT_FIELD) -> Pred:
        try:
            pred = self.node(self.parse(query), default_field)
        except RecursionError as e:
            raise SearchQueryError("Search query is nested too deeply") from e
        return sa.false() if pred is None else pred

    # -- nodes ----------------------------------------------------------------

    def node(self, node: tree.Item, name: str) -> Pred | None:
        """SQL for a query node; None when its words analyse to nothing."""
        if isinstance(node, tree.SearchField):
            if "*" in node.name and node.name != "*":
                raise SearchQueryError(f"Wildcard field names are not supported: {node.name}")
            return self.node(node.expr, node.name)
        if isinstance(node, (tree.Group, tree.FieldGroup)):
            return self.node(node.expr, name)
        if isinstance(node, tree.Boost):
            return self.node(node.expr, name)  # boosts change ranking, not matching
        if isinstance(node, (tree.BaseOperation, tree.Plus, tree.Not, tree.Prohibit)):
            return self.boolean(node, name)
        if isinstance(node, tree.Range):
            return self.range(node, name)
        if isinstance(node, tree.Phrase):
            return self.phrase(unescape(node.value[1:-1]), name)
        if isinstance(node, tree.Word):
            return self.word(node.value, name)
        if isinstance(node, tree.Fuzzy):
            raise SearchQueryError(f"Fuzzy queries are not supported: {node}")
        if isinstance(node, tree.Proximity):
            raise SearchQueryError(f"Proximity queries are not supported: {node}")
        if isinstance(node, tree.Regex):
            raise SearchQueryError(f"Regular expression queries are not supported: {node}")
        raise SearchQueryError(f"Unsupported query construct: {node}")

    def boolean(self, node: tree.Item, name: str) -> Pred | None:
        """One boolean query from a chain of clauses, as Lucene reads it."""
        chain = list(flatten(node, Conj.NONE))
        preds = []
        items = []
        for conj, clause in chain:
            mod = Mod.NONE
            if isinstance(clause, tree.Plus):
                mod, clause = Mod.REQ, clause.a
            elif isinstance(clause, (tree.Not, tree.Prohibit)):
                mod, clause = Mod.NOT, clause.a
            pred = self.node(clause, name)
            preds.append(pred)
            items.append((conj, mod, pred is not None))
        must, should, must_not = split(preds, occurs(items, self.default_and))
        if not (must or should or must_not):
            return None
        return combine(must, should, must_not)

    # -- leaves ---------------------------------------------------------------

    def word(self, raw: str, name: str) -> Pred | None:
        if name == "*":
            if raw == "*":
                return sa.true()
            raise SearchQueryError(f"A query on every field is not supported: *:{raw}")
        kind = self.schema.field(name).kind
        if raw == "*":
            return document.c.terms.has_key(name)  # noqa: W601 (JSONB operator, not dict)
        has_wildcard = bool(re.search(r"(?<!\\)[*?]", raw))
        value = unescape(raw)
        if kind is Kind.NGRAM:
            if has_wildcard:
                raise SearchQueryError(f"Wildcards are not supported on n-gram field {name}")
            return self.ngram(value, name)
        if kind in TEXT_KINDS:
            if has_wildcard:
                return self.text_prefix(raw, name)
            if not analysable(value):
                return None
            return self.text_match(sa.func.plainto_tsquery(self.config_for(name), value), name)
        if has_wildcard:
            if kind is not Kind.STRING:
                raise SearchQueryError(f"Wildcards are not supported on {kind.value} field {name}")
            return any_value(name, lambda v: v.like(self.like_pattern(raw), escape="\\"))
        return self.exact(value, name, kind)

    def phrase(self, value: str, name: str) -> Pred | None:
        if name == "*":
            raise SearchQueryError(f'A query on every field is not supported: *:"{value}"')
        kind = self.schema.field(name).kind
        if kind is Kind.NGRAM:
            return self.ngram(value, name)
        if kind in TEXT_KINDS:
            if not analysable(value):
                return None
            return self.text_match(sa.func.phraseto_tsquery(self.config_for(name), value), name)
        return self.exact(value, name, kind)

    def ngram(self, value: str, name: str) -> Pred | None:
        """Solr indexes every part of the value from ``minGramSize`` to
        ``maxGramSize`` characters, lower case, and splits the query on white
        space: each word matches when it is such a part of a value."""
        shortest, longest = self.schema.ngram
        words = value.lower().split()
        if not words:
            return None
        tests: list[Any] = []
        for word in words:
            if not shortest <= len(word) <= longest:
                tests.append(sa.false())
                continue
            tests.append(any_value(name, lambda v, w=word: sa.func.strpos(sa.func.lower(v), w) > 0))
        return sa.and_(*tests)

    def exact(self, value: str, name: str, kind: Kind) -> Pred:
        if kind is Kind.STRING or kind is Kind.BOOLEAN:
            return Contains({name: [value.lower() if kind is Kind.BOOLEAN else value]})
        if kind is Kind.DATE:
            moment = datemath.parse_date(value)
            return any_value(name, lambda v: sa.cast(v, sa.DateTime(timezone=True)) == moment)
        if kind in (Kind.INT, Kind.FLOAT):
            number = self.number(value, name)
            return any_value(name, lambda v: sa.cast(v, sa.Numeric) == number)
        raise SearchQueryError(f"Field {name} is not searchable")

    def range(self, node: tree.Range, name: str) -> Pred:
        kind = self.schema.field(name).kind
        texts = [unescape(str(b)) for b in (node.low, node.high)]
        low, high = (None if b == "*" else b.strip('"') for b in texts)
        bounds: list[Any]
        if kind is Kind.DATE:
            cast: Any = sa.DateTime(timezone=True)
            bounds = [None if b is None else datemath.parse_date(b) for b in (low, high)]
        elif kind in (Kind.INT, Kind.FLOAT):
            cast = sa.Numeric
            bounds = [None if b is None else self.number(b, name) for b in (low, high)]
        elif kind is Kind.STRING:
            cast = None
            bounds = [low, high]
        else:
            raise SearchQueryError(f"Range queries are not supported on text field {name}")

        def test(v: Any) -> SQL:
            value = sa.cast(v, cast) if cast is not None else v.collate("C")
            checks: list[Any] = [sa.true()]
            if bounds[0] is not None:
                checks.append(value >= bounds[0] if node.include_low else value > bounds[0])
            if bounds[1] is not None:
                checks.append(value <= bounds[1] if node.include_high else value < bounds[1])
            return sa.and_(*checks)

        if low is None and high is None:
            return document.c.terms.has_key(name)
        return any_value(name, test)

    # -- helpers --------------------------------------------------------------

    def config_for(self, name: str) -> ColumnElement[Any]:
        kind = self.schema.field(name).kind
        return regconfig(self.text_config if kind is Kind.TEXT else "simple")

    def text_match(self, query: ColumnElement[Any], name: str) -> SQL:
        if name == TEXT_FIELD:
            return document.c.fts.op("@@")(query)
        vector = sa.func.to_tsvector(self.config_for(name), _values(name))
        return vector.op("@@")(query)

    def text_prefix(self, raw: str, name: str) -> SQL:
        stem = unescape(raw)
        if not re.fullmatch(r"[^*?]+\*", stem):
            raise SearchQueryError(
                f"Only trailing wildcards are supported on text field {name}: {raw}"
            )
        lexeme = stem[:-1].lower().replace("'", "''").replace("\\", "\\\\")
        query = sa.func.to_tsquery(regconfig("simple"), f"'{lexeme}':*")
        return self.text_match(query, name)

    @staticmethod
    def like_pattern(raw: str) -> str:
        out = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                out.append("\\" + nxt if nxt in "%_\\" else nxt)
                i += 2
                continue
            out.append({"*": "%", "?": "_", "%": "\\%", "_": "\\_"}.get(ch, ch))
            i += 1
        return "".join(out)

    @staticmethod
    def number(value: str, name: str) -> Decimal:
        try:
            return Decimal(value)
        except InvalidOperation as e:
            raise SearchQueryError(f"Invalid number for field {name}: {value!r}") from e
