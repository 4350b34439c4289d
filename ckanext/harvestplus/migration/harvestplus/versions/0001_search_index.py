"""PostgreSQL search index (plugin harvestplus_pgsearch).

The index lives in its own schema, like an external Solr core: CKAN's
``ckan db clean`` and the test helper ``reset_db`` drop only the public schema,
so they leave the index alone, and ``ckan search-index clear`` empties it.
Every statement is idempotent because the version table lives in the public
schema and can be dropped while the index schema survives.

Revision ID: 0001_search_index
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0001_search_index"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = [
    "CREATE SCHEMA IF NOT EXISTS harvestplus_search",
    # Solr's "text" field type stems English words but keeps stop words:
    # a snowball dictionary without a stop word list does the same.
    """
    DO $$
    BEGIN
        IF NOT EXISTS (
            SELECT 1 FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
            WHERE n.nspname = 'harvestplus_search' AND d.dictname = 'english_stem_all'
        ) THEN
            CREATE TEXT SEARCH DICTIONARY harvestplus_search.english_stem_all
                (TEMPLATE = pg_catalog.snowball, LANGUAGE = english);
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
            WHERE n.nspname = 'harvestplus_search' AND c.cfgname = 'english'
        ) THEN
            CREATE TEXT SEARCH CONFIGURATION harvestplus_search.english
                (COPY = pg_catalog.english);
            ALTER TEXT SEARCH CONFIGURATION harvestplus_search.english
                ALTER MAPPING FOR asciiword, asciihword, hword_asciipart,
                                  word, hword, hword_part
                WITH harvestplus_search.english_stem_all;
        END IF;
    END
    $$
    """,
    "CREATE SEQUENCE IF NOT EXISTS harvestplus_search.document_seq",
    """
    CREATE TABLE IF NOT EXISTS harvestplus_search.document (
        index_id text PRIMARY KEY,
        site_id text NOT NULL,
        stored jsonb NOT NULL,
        terms jsonb NOT NULL,
        exact text[] NOT NULL,
        fts tsvector NOT NULL,
        metadata_modified timestamptz,
        seq bigint NOT NULL DEFAULT nextval('harvestplus_search.document_seq'),
        indexed_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX IF NOT EXISTS document_exact_idx ON harvestplus_search.document "
    "USING gin (exact)",
    "CREATE INDEX IF NOT EXISTS document_fts_idx ON harvestplus_search.document USING gin (fts)",
    "CREATE INDEX IF NOT EXISTS document_site_seq_idx ON harvestplus_search.document "
    "(site_id, seq)",
    "CREATE INDEX IF NOT EXISTS document_modified_idx ON harvestplus_search.document "
    "(metadata_modified DESC)",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS harvestplus_search CASCADE")
