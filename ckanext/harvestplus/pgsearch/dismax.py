"""Free text search the way Solr's dismax parser does it for CKAN.

CKAN sends free text with ``defType=dismax``, ``qf`` (the fields searched, with
boosts) and ``mm`` (how many of the optional words must match). Words may be
prefixed with ``+`` or ``-`` and grouped in double quotes, and AND, OR and NOT
(or ``&&``, ``||``, ``!``) still work as operators, because dismax escapes every
other special character but hands the rest to Lucene's parser.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from ckan.lib.search.common import SearchQueryError

from .clauses import Conj, Mod, occurs, split
from .lucene import Translator, all_of, analysable, any_of, as_sql
from .model import document
from .schema import TEXT_FIELD, TEXT_KINDS

if TYPE_CHECKING:
    from .lucene import SQL

_CLAUSE = re.compile(r'([+-]?)"([^"]*)"|([+-]?)(\S+)')
#: Relative weights of tsvector labels D, C, B, A (title and name are A).
RANK_WEIGHTS = "{0.1, 0.2, 0.5, 1.0}"


def min_should_match(spec: str, optional: int) -> int:
    """Solr's ``mm``: ``3``, ``-1``, ``75%``, ``-25%`` or ``2<-1 5<80%``."""

    def single(part: str) -> int:
        try:
            if part.endswith("%"):
                share = int(optional * float(part[:-1]) / 100)
                return optional + share if share < 0 else share
            count = int(part)
        except ValueError as e:
            raise SearchQueryError(f"Invalid mm parameter: {spec!r}") from e
        return optional + count if count < 0 else count

    spec = (spec or "100%").strip()
    if "<" not in spec:
        wanted = single(spec)
    else:
        wanted = optional
        for condition in spec.split():
            bound, _, part = condition.partition("<")
            if not bound.isdigit() or not part:
                raise SearchQueryError(f"Invalid mm parameter: {spec!r}")
            if optional > int(bound):
                wanted = single(part)
    return max(0, min(optional, wanted))


class Dismax:
    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    def fields(self, qf: str) -> list[str]:
        names = [part.split("^", 1)[0] for part in (qf or TEXT_FIELD).split()]
        return names or [TEXT_FIELD]

    def clause(self, words: str, phrase: bool, qf: list[str]) -> tuple[SQL, Any]:
        """SQL testing one clause across the ``qf`` fields, and its tsquery."""
        tr = self.translator
        maker = sa.func.phraseto_tsquery if phrase else sa.func.plainto_tsquery
        tsquery = maker(tr.config_for(TEXT_FIELD), words)
        if TEXT_FIELD in qf:
            # CKAN copies every field of qf into "text", so it covers the rest.
            return document.c.fts.op("@@")(tsquery), tsquery
        tests: list[Any] = []
        for name in qf:
            kind = tr.schema.field(name).kind
            if kind in TEXT_KINDS:
                tests.append(tr.text_match(maker(tr.config_for(name), words), name))
            else:
                tests.append(tr.exact(words, name, kind))
        return any_of(tests), tsquery

    def translate(self, q: str, qf: str, mm: str) -> tuple[SQL, Any]:
        """Return the match condition and a tsquery for ranking (or None)."""
        if q.count('"') % 2:
            q = q.replace('"', " ")
        fields = self.fields(qf)
        # Dismax escapes Lucene syntax except quotes, + and -, but the parser
        # underneath still reads AND, OR and NOT (and &&, ||, !) as operators.
        tests: list[Any] = []
        queries: list[Any] = []
        items: list[tuple[Conj, Mod, bool]] = []
        conj, negate = Conj.NONE, False
        for match in _CLAUSE.finditer(q):
            sign = match.group(1) or match.group(3)
            phrase = match.group(2) is not None
            words = match.group(2) if phrase else match.group(4)
            if not phrase and not sign:
                if words in ("AND", "&&"):
                    conj = Conj.AND
                    continue
                if words in ("OR", "||"):
                    conj = Conj.OR
                    continue
                if words == "NOT":
                    negate = True
                    continue
                if words.startswith("!") and len(words) > 1:
                    negate, words = True, words[1:]
            mod = Mod.NOT if negate or sign == "-" else Mod.REQ if sign == "+" else Mod.NONE
            kept = analysable(words)
            test, tsquery = self.clause(words, phrase, fields) if kept else (None, None)
            tests.append(test)
            queries.append(tsquery if mod is not Mod.NOT else None)
            items.append((conj, mod, kept))
            conj, negate = Conj.NONE, False
        kinds = occurs(items, default_and=False)
        must, should, must_not = split(tests, kinds)
        ranked = [t for t, k in zip(queries, kinds, strict=True) if t is not None and k]

        preds: list[Any] = list(must)
        if should:
            wanted = min_should_match(mm, len(should))
            if not must:
                wanted = max(wanted, 1)
            if wanted >= len(should):
                preds.extend(should)
            elif wanted > 0:
                hits = sum((sa.case((test, 1), else_=0) for test in should), sa.literal(0))
                preds.append(any_of(list(should)))
                preds.append(hits >= wanted)
        if must_not:
            preds.append(sa.not_(any_of(list(must_not))))
        if not preds:
            return sa.false(), None
        rank_query = None
        for tsquery in ranked:
            rank_query = tsquery if rank_query is None else rank_query.op("||")(tsquery)
        return as_sql(all_of(preds)), rank_query
