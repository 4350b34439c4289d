"""The index table (created by the ``harvestplus`` migration 0001)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

SCHEMA = "harvestplus_search"

metadata = sa.MetaData(schema=SCHEMA)

document = sa.Table(
    "document",
    metadata,
    sa.Column("index_id", sa.Text, primary_key=True),
    sa.Column("site_id", sa.Text, nullable=False),
    # Fields Solr would return (stored="true" in CKAN's schema).
    sa.Column("stored", JSONB, nullable=False),
    # Every indexed field as a list of strings: filters, facets and sorting.
    sa.Column("terms", JSONB, nullable=False),
    # CKAN's catch-all "text" field, name and title weighted A, tags and groups B.
    sa.Column("fts", TSVECTOR, nullable=False),
    sa.Column("metadata_modified", sa.DateTime(timezone=True)),
    # Lucene keeps documents in the order they were (re)indexed; ties in
    # sorting follow that order.
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
)

seq = sa.Sequence("document_seq", schema=SCHEMA, metadata=metadata)
