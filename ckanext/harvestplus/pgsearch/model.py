"""The index table (created by ``ckan db upgrade -p harvestplus_pgsearch``)."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

SCHEMA = "harvestplus_pgsearch"
#: Joins field and value in ``exact``; CKAN field names never contain it.
KEY_SEPARATOR = "\x1f"

metadata = sa.MetaData(schema=SCHEMA)

document = sa.Table(
    "document",
    metadata,
    sa.Column("index_id", sa.Text, primary_key=True),
    sa.Column("site_id", sa.Text, nullable=False),
    # Fields Solr would return (stored="true" in CKAN's schema).
    sa.Column("stored", JSONB, nullable=False),
    # Every indexed field as a list of strings: ranges, wildcards and sorting.
    sa.Column("terms", JSONB, nullable=False),
    # "field<US>value" for every value of every non-text field: small enough to
    # test and unnest for every candidate row, so exact filters and facets use it.
    sa.Column("exact", ARRAY(sa.Text), nullable=False),
    # CKAN's catch-all "text" field, name and title weighted A, tags and groups B.
    sa.Column("fts", TSVECTOR, nullable=False),
    sa.Column("metadata_modified", sa.DateTime(timezone=True)),
    # Lucene keeps documents in the order they were (re)indexed; ties in
    # sorting follow that order.
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
)

seq = sa.Sequence("document_seq", schema=SCHEMA, metadata=metadata)


#: Longer values are stored as a digest: a GIN index entry must stay under
#: about 2.7 kB, while Solr accepts string terms up to 32 kB. Such values
#: still match exactly; their facet label is the digest.
MAX_KEY_VALUE = 1000


def key(name: str, value: str) -> str:
    if len(value.encode("utf-8")) > MAX_KEY_VALUE:
        value = "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
    return f"{name}{KEY_SEPARATOR}{value}"
