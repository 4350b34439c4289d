"""A pysolr-compatible connection whose index is a PostgreSQL table.

CKAN builds Solr documents and Solr query parameters itself and hands them to
``pysolr.Solr``; this class answers the same calls (``add``, ``delete``,
``commit``, ``search``), so all of CKAN's document and query building is reused
unchanged.

Where an index write goes: the index lives in the site's own database, so a
write made while the caller's session has database changes of its own in
flight (``package_create``, ``package_update``, ``package_delete``: CKAN
writes the index before its commit) joins that transaction. The dataset and
its index entry are then committed together or rolled back together, and a
write that fails at its commit never leaves the index disagreeing with the
database. A write with nothing of the caller's in flight (``ckan search-index
rebuild``, a source's reindex after a job) runs in its own short transaction,
like a Solr commit. Neither kind ever commits the caller's session.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import ckan.model as model
import pysolr
import sqlalchemy as sa
from ckan.lib.search.common import SearchQueryError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.sql.expression import BindParameter

from . import config
from .dismax import RANK_WEIGHTS, Dismax
from .documents import DocumentError, to_rows
from .lucene import Translator, all_of, as_sql, regconfig
from .model import KEY_SEPARATOR, SCHEMA, document
from .model import seq as document_seq
from .schema import TEXT_FIELD, TEXT_KINDS, Kind, Schema, ckan_schema

if TYPE_CHECKING:
    from .lucene import SQL, Pred

log = logging.getLogger(__name__)

MISSING_TABLES = (
    "The PostgreSQL search index has no tables yet: run `ckan db upgrade -p harvestplus_pgsearch`."
)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _int(params: dict[str, Any], key: str, default: int) -> int:
    try:
        return int(params.get(key, default))
    except (TypeError, ValueError) as e:
        raise SearchQueryError(f"Invalid {key} parameter: {params.get(key)!r}") from e


@functools.lru_cache(maxsize=8)
def insert_statement(text_config: str) -> Any:
    """INSERT for one document, built once so SQLAlchemy reuses its compiled form.

    Replacing a document is a DELETE then this INSERT in one transaction: the
    PostgreSQL-specific ON CONFLICT statement cannot be cached by SQLAlchemy
    and would be compiled again for every dataset.
    """
    cfg = regconfig(text_config)
    fts = (
        sa.func.setweight(sa.func.to_tsvector(cfg, sa.bindparam("text_a")), "A")
        .op("||")(sa.func.setweight(sa.func.to_tsvector(cfg, sa.bindparam("text_b")), "B"))
        .op("||")(sa.func.to_tsvector(cfg, sa.bindparam("text_d")))
    )
    return sa.insert(document).values(
        index_id=sa.bindparam("index_id"),
        site_id=sa.bindparam("site_id"),
        stored=sa.bindparam("stored", type_=document.c.stored.type),
        terms=sa.bindparam("terms", type_=document.c.terms.type),
        exact=sa.bindparam("exact", type_=document.c.exact.type),
        fts=fts,
        metadata_modified=sa.bindparam("metadata_modified"),
        seq=document_seq.next_value(),
        indexed_at=sa.func.now(),
    )


class MissingIndexError(pysolr.SolrError):
    """The index tables do not exist (the harvestplus migration has not run)."""


LOCK_DOCUMENTS = sa.select(
    sa.func.pg_advisory_xact_lock(sa.func.hashtext(sa.column("id")))
).select_from(sa.func.unnest(sa.bindparam("ids", type_=sa.ARRAY(sa.Text))).alias("id"))


@contextlib.contextmanager
def _index_errors() -> Iterator[None]:
    """Database errors of the index as pysolr's, which CKAN turns into its search errors."""
    try:
        yield
    except ProgrammingError as e:
        if SCHEMA in str(e.orig) and "does not exist" in str(e.orig):
            raise MissingIndexError(MISSING_TABLES) from e
        raise pysolr.SolrError(f"Search index error: {e.orig}") from e
    except DBAPIError as e:
        raise pysolr.SolrError(f"Search index error: {e.orig}") from e
    except ValueError as e:  # psycopg2 refuses NUL characters in strings
        raise pysolr.SolrError(f"Search index error: {e}") from e


#: Session info key: the session flushed changes in its current transaction.
FLUSHED = "harvestplus_pgsearch_flushed"


def writes_in_flight(session: Any) -> bool:
    """Whether a session has database changes not committed yet: pending
    objects, or changes flushed in its current transaction."""
    return bool(session.info.get(FLUSHED) or session.new or session.deleted or session.dirty)


def _flushed(session: Any, flush_context: Any) -> None:
    session.info[FLUSHED] = True


def _ended(session: Any, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction: committed or rolled back
        session.info.pop(FLUSHED, None)


def track_sessions() -> None:
    """Note, on CKAN's sessions, whether the current transaction wrote anything."""
    if not sa.event.contains(model.Session, "after_flush", _flushed):
        sa.event.listen(model.Session, "after_flush", _flushed)
        sa.event.listen(model.Session, "after_transaction_end", _ended)


class PgSearchConnection:
    """Stands in for ``pysolr.Solr`` when ``solr_url`` is ``postgresql://``."""

    def __init__(self, url: str, decoder: Any = None, **_: Any) -> None:
        self.url = url
        self.decoder = decoder
        self.schema: Schema = ckan_schema()
        self.text_config = config.text_config()

    # -- plumbing -----------------------------------------------------------

    def _write(self, work: Any) -> Any:
        """Run an index write in the caller's transaction when it has changes in
        flight, else in a transaction of its own (see the module's docstring)."""
        session = model.Session()
        if not writes_in_flight(session):
            return self._run(work)
        with _index_errors():
            return work(session.connection())

    def _run(self, work: Any) -> Any:
        engine = model.ensure_engine()
        with _index_errors(), engine.begin() as conn:
            return work(conn)

    def _translator(self, params: dict[str, Any]) -> Translator:
        default_and = str(params.get("q.op", "OR")).upper() == "AND"
        return Translator(self.schema, self.text_config, default_and)

    # -- writes ---------------------------------------------------------------

    def add(self, docs: Iterable[dict[str, Any]], commit: Any = None, **_: Any) -> str:
        now = dt.datetime.now(dt.timezone.utc)
        try:
            rows = to_rows(({"indexed_ts": now, **doc} for doc in docs), self.schema)
        except DocumentError as e:
            raise pysolr.SolrError(f"Solr responded with an error (HTTP 400): {e}") from e
        if not rows:
            return ""
        values = [
            {
                "index_id": row.index_id,
                "site_id": row.site_id,
                "stored": row.stored,
                "terms": row.terms,
                "exact": row.exact,
                "text_a": row.text_a,
                "text_b": row.text_b,
                "text_d": row.text_d,
                "metadata_modified": row.metadata_modified,
            }
            for row in rows
        ]
        insert = insert_statement(self.text_config)
        replaced = document.c.index_id.in_(sa.bindparam("ids", expanding=True))

        ids = sorted({r.index_id for r in rows})

        def work(conn: Connection) -> None:
            # Serialise writers of the same document (a rebuild racing an
            # edit): without it both DELETEs find nothing and one INSERT fails.
            conn.execute(LOCK_DOCUMENTS, {"ids": ids})
            conn.execute(sa.delete(document).where(replaced), {"ids": [r.index_id for r in rows]})
            conn.execute(insert, values)

        self._write(work)
        return ""

    def delete(self, id: Any = None, q: str | None = None, **_: Any) -> str:  # noqa: A002
        if id is None and q is None:
            raise ValueError('You must specify "id" or "q".')
        if id is not None:
            condition: SQL = document.c.index_id.in_([str(i) for i in _list(id)])
        else:
            condition = as_sql(Translator(self.schema, self.text_config, False).translate(str(q)))
        try:
            self._write(lambda conn: conn.execute(sa.delete(document).where(condition)))
        except MissingIndexError:
            # Nothing to delete from an index that does not exist yet; `ckan db
            # clean` clears the index before any migration has run.
            log.warning("Search index tables missing; nothing to delete")
        return ""

    def commit(self, **_: Any) -> str:
        return ""  # committed with the caller's changes, or on its own already

    def optimize(self, **_: Any) -> str:
        return ""

    def ping(self, **_: Any) -> str:
        self._run(lambda conn: conn.execute(sa.select(sa.literal(1))))
        return "{}"

    # -- search -----------------------------------------------------------------

    def search(self, q: str = "*:*", search_handler: Any = None, **params: Any) -> pysolr.Results:
        for value in [q, *_list(params.get("fq"))]:
            if "\x00" in str(value or ""):
                raise SearchQueryError("Search queries may not contain NUL characters")
        translator = self._translator(params)
        condition, rank_query = self._main_query(q, params, translator)
        filters: list[Any] = [condition]
        for fq in _list(params.get("fq")):
            if fq and str(fq).strip():
                filters.append(translator.translate(str(fq)))
        where = as_sql(all_of(filters))  # exact filters merge into one test

        rank: Any = sa.literal(1.0)
        if rank_query is not None:
            rank = sa.func.ts_rank(sa.literal(RANK_WEIGHTS), document.c.fts, rank_query)
        rows = _int(params, "rows", 10)
        start = _int(params, "start", 0)
        if rows < 0 or start < 0:
            raise SearchQueryError("rows and start must not be negative")
        order = self._order(str(params.get("sort") or "score desc"), rank)
        fields = self._fields(params.get("fl"))
        facet_fields = [str(f) for f in _list(params.get("facet.field"))]
        faceting = str(params.get("facet", "false")).lower() == "true" and facet_fields

        def work(conn: Connection) -> dict[str, Any]:
            found: list[Any] = []
            hits = None
            if rows:
                # The total rides along as a window over the same scan.
                stmt = (
                    sa.select(
                        document.c.stored,
                        rank.label("score"),
                        sa.func.count().over().label("hits"),
                    )
                    .where(where)
                    .order_by(*order)
                    .limit(rows)
                    .offset(start)
                )
                result = conn.execute(stmt).all()
                found = [(stored, score) for stored, score, _ in result]
                hits = result[0][2] if result else None
            if hits is None:  # no rows asked for, or a page past the end
                hits = conn.execute(
                    sa.select(sa.func.count()).select_from(document).where(where)
                ).scalar()
            decoded: dict[str, Any] = {
                "response": {"numFound": hits, "start": start, "docs": self._docs(found, fields)}
            }
            if faceting:
                decoded["facet_counts"] = {
                    "facet_fields": self._facets(conn, where, facet_fields, params)
                }
            return decoded

        decoded = self._run(work)
        if self.decoder is not None:
            decoded = self.decoder.decode(json.dumps(decoded))
        return pysolr.Results(decoded)

    def _main_query(
        self, q: str, params: dict[str, Any], translator: Translator
    ) -> tuple[Pred, Any]:
        q = (q or "").strip() or "*:*"
        def_type = str(params.get("defType", "lucene"))
        if def_type in ("dismax", "edismax") and (def_type == "dismax" or ":" not in q):
            return Dismax(translator).translate(
                q, str(params.get("qf") or TEXT_FIELD), str(params.get("mm") or "100%")
            )
        if def_type not in ("dismax", "edismax", "lucene"):
            raise SearchQueryError(f"Unsupported query parser: {def_type}")
        default_field = str(params.get("df") or TEXT_FIELD)
        condition = translator.translate(q, default_field)
        rank_query = None
        if q != "*:*":
            # Rank fielded queries by the words they contain, over "text".
            words = " ".join(
                w
                for w in q.replace(":", " ").split()
                if w.isalnum() and w.upper() not in ("AND", "OR", "NOT", "TO")
            )
            if words:
                rank_query = sa.func.plainto_tsquery(regconfig(self.text_config), words)
        return condition, rank_query

    def _order(self, sort: str, rank: Any) -> list[Any]:
        rank_is_constant = isinstance(rank, BindParameter)
        order: list[Any] = []
        for part in sort.split(","):
            if not part.strip():
                continue
            bits = part.split()
            if len(bits) != 2 or bits[1].lower() not in ("asc", "desc"):
                raise pysolr.SolrError(
                    f"Can't determine a Sort Order (asc or desc) in sort spec '{part.strip()}'"
                )
            name, direction = bits[0], bits[1].lower()
            if name == "score":
                if rank_is_constant:
                    continue  # every document scores the same: order by what follows
                expr: Any = rank
            elif name == "metadata_modified":
                expr = document.c.metadata_modified
            else:
                field = self.schema.field(name)
                if field.multi:
                    raise SearchQueryError(f"Cannot sort on multivalued field: {name}")
                value = document.c.terms[name].op("->>")(0)
                if field.kind is Kind.DATE:
                    expr = sa.cast(value, sa.DateTime(timezone=True))
                elif field.kind in (Kind.INT, Kind.FLOAT):
                    expr = sa.cast(value, sa.Numeric)
                else:
                    expr = value.collate("C")
            ordered = expr.desc() if direction == "desc" else expr.asc()
            order.append(ordered.nulls_last())
        order.append(document.c.seq.asc())
        return order

    def _fields(self, fl: Any) -> tuple[set[str] | None, bool]:
        names = set(str(fl or "*").replace(",", " ").split())
        with_score = "score" in names
        names.discard("score")
        return (None if "*" in names or not names else names), with_score

    def _docs(self, found: list[Any], fields: tuple[set[str] | None, bool]) -> list[dict[str, Any]]:
        wanted, with_score = fields
        docs = []
        for stored, score in found:
            doc = (
                dict(stored) if wanted is None else {k: v for k, v in stored.items() if k in wanted}
            )
            if with_score:
                doc["score"] = float(score)
            docs.append(doc)
        return docs

    def _facets(
        self, conn: Connection, where: SQL, names: list[str], params: dict[str, Any]
    ) -> dict[str, list[Any]]:
        limit = _int(params, "facet.limit", 100)
        mincount = _int(params, "facet.mincount", 0)
        text_fields = [n for n in names if self.schema.field(n).kind in TEXT_KINDS]
        matched = (
            sa.select(document.c.index_id, document.c.exact, document.c.terms)
            .where(where)
            .subquery("matched")
        )
        # Non-text fields: unnest the small "exact" array, split at the separator.
        exact = sa.select(sa.func.unnest(matched.c.exact).label("key")).subquery("k")
        name = sa.func.split_part(exact.c.key, KEY_SEPARATOR, 1)
        value = sa.func.substr(exact.c.key, sa.func.strpos(exact.c.key, KEY_SEPARATOR) + 1)
        sources = [
            sa.select(name.label("name"), value.label("value")).where(
                name.in_([n for n in names if n not in text_fields])
            )
        ]
        # Text fields (rarely faceted): whole values from terms.
        for text_field in text_fields:
            values = (
                sa.func.jsonb_array_elements_text(matched.c.terms[text_field])
                .table_valued("value")
                .lateral()
            )
            # Each value once per dataset, as Solr counts documents.
            sources.append(
                sa.select(sa.literal(text_field).label("name"), values.c.value)
                .select_from(matched.join(values, sa.true()))
                .group_by(matched.c.index_id, values.c.value)
            )
        pairs = sa.union_all(*sources).subquery("pairs")
        counts = sa.select(pairs.c.name, pairs.c.value, sa.func.count().label("n")).group_by(
            pairs.c.name, pairs.c.value
        )
        if mincount > 0:
            counts = counts.having(sa.func.count() >= mincount)
        counted = counts.subquery("c")
        # Solr sorts by count when there is a limit, by value when there is none.
        by_value = counted.c.value.collate("C")
        position = (
            sa.func.row_number()
            .over(
                partition_by=counted.c.name,
                order_by=(counted.c.n.desc(), by_value) if limit >= 0 else (by_value,),
            )
            .label("position")
        )
        ranked = sa.select(counted.c.name, counted.c.value, counted.c.n, position).subquery("r")
        stmt = sa.select(ranked.c.name, ranked.c.value, ranked.c.n).order_by(
            ranked.c.name, ranked.c.position
        )
        if limit >= 0:
            stmt = stmt.where(ranked.c.position <= limit)
        result: dict[str, list[Any]] = {name: [] for name in names}
        for facet, facet_value, n in conn.execute(stmt):
            result[facet].extend([facet_value, n])
        return result
