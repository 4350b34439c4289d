"""Turn the Solr documents CKAN builds into rows of the PostgreSQL index."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dateutil.parser import ParserError, parse

from .model import key
from .schema import BOOST_A, BOOST_B, TEXT_FIELD, TEXT_KINDS, Kind, Schema


class DocumentError(ValueError):
    """A document Solr would refuse (bad date or number, no unique key)."""


@dataclass(frozen=True)
class Row:
    index_id: str
    site_id: str
    stored: dict[str, Any]
    terms: dict[str, list[str]]
    exact: list[str]
    text_a: str
    text_b: str
    text_d: str
    metadata_modified: dt.datetime | None


def solr_date(value: Any) -> str:
    """Format a date the way Solr returns it: UTC, milliseconds only if any."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = parse(str(value))
        except (ParserError, OverflowError, ValueError) as e:
            raise DocumentError(f"Invalid Date String: {value!r}") from e
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    text = f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S")
    millis = moment.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def _values(value: Any) -> list[Any]:
    values = list(value) if isinstance(value, (list, tuple, set)) else [value]
    # pysolr drops None and empty strings before sending a document.
    return [v for v in values if v is not None and v != ""]


def _term(kind: Kind, value: Any) -> str:
    if kind is Kind.DATE:
        return solr_date(value)
    if kind is Kind.BOOLEAN:
        return "true" if str(value).lower() in ("true", "1", "on", "yes") else "false"
    if kind is Kind.INT:
        try:
            return str(int(value))
        except (TypeError, ValueError) as e:
            raise DocumentError(f"Invalid integer {value!r}") from e
    if kind is Kind.FLOAT:
        try:
            return repr(float(value))
        except (TypeError, ValueError) as e:
            raise DocumentError(f"Invalid number {value!r}") from e
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def to_row(doc: dict[str, Any], schema: Schema) -> Row:
    stored: dict[str, Any] = {}
    terms: dict[str, list[str]] = {}
    exact: list[str] = []
    text: dict[str, list[str]] = {"a": [], "b": [], "d": []}
    for name, raw in doc.items():
        values = _values(raw)
        if not values:
            continue
        field = schema.field(name)
        if field.kind is Kind.UNINDEXED:
            if field.stored:
                stored[name] = values if field.multi else values[0]
            continue
        converted = [_term(field.kind, v) for v in values]
        terms[name] = converted
        if field.kind not in TEXT_KINDS:
            exact.extend(key(name, v) for v in converted)
        if field.stored:
            if field.kind in (Kind.INT, Kind.FLOAT, Kind.BOOLEAN):
                typed: list[Any] = [json.loads(v) for v in converted]
            else:
                typed = list(converted)
            stored[name] = typed if field.multi else typed[0]
        for dest in schema.copy_targets(name):
            terms.setdefault(dest, []).extend(converted)
        if name == TEXT_FIELD or schema.copies_into_text(name):
            bucket = "a" if name in BOOST_A else "b" if name in BOOST_B else "d"
            text[bucket].extend(converted)

    # Facets count datasets, so each value once per document.
    exact = list(dict.fromkeys(exact))
    unique = schema.unique_key
    if unique not in terms:
        raise DocumentError(f"Document is missing mandatory uniqueKey field: {unique}")
    modified = terms.get("metadata_modified")
    return Row(
        index_id=terms[unique][0],
        site_id=(terms.get("site_id") or [""])[0],
        stored=stored,
        terms=terms,
        exact=exact,
        text_a=" ".join(text["a"]),
        text_b=" ".join(text["b"]),
        text_d=" ".join(text["d"]),
        metadata_modified=parse(modified[0]) if modified else None,
    )


def to_rows(docs: Iterable[dict[str, Any]], schema: Schema) -> list[Row]:
    return [to_row(doc, schema) for doc in docs]
