"""The PostgreSQL search index, in the schema ``harvestplus_pgsearch``.

The index lives in its own schema, like an external Solr core: CKAN's
``ckan db clean`` and the test helper ``reset_db`` drop only the public schema,
so they leave the index alone, and ``ckan search-index clear`` empties it.
Every statement is idempotent because the version table lives in the public
schema and can be dropped while the index schema survives.

A site that had the index before it got its own plugin's migrations has it in
the schema ``harvestplus_search`` (created by the ``harvestplus`` chain); that
schema is renamed, documents and all, so nothing needs reindexing.

Revision ID: 0001_search_index
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0001_search_index"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = [
    """
    DO $$
    BEGIN
        IF to_regnamespace('harvestplus_search') IS NOT NULL
           AND to_regnamespace('harvestplus_pgsearch') IS NULL THEN
            ALTER SCHEMA harvestplus_search RENAME TO harvestplus_pgsearch;
        END IF;
    END
    $$
    """,
    "CREATE SCHEMA IF NOT EXISTS harvestplus_pgsearch",
    # Solr's "text" field type stems English words but keeps stop words:
    # a snowball dictionary without a stop word list does the same.
    """
    DO $$
    BEGIN
        IF NOT EXISTS (
            SELECT 1 FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
            WHERE n.nspname = 'harvestplus_pgsearch' AND d.dictname = 'english_stem_all'
        ) THEN
            CREATE TEXT SEARCH DICTIONARY harvestplus_pgsearch.english_stem_all
                (TEMPLATE = pg_catalog.snowball, LANGUAGE = english);
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
            WHERE n.nspname = 'harvestplus_pgsearch' AND c.cfgname = 'english'
        ) THEN
            CREATE TEXT SEARCH CONFIGURATION harvestplus_pgsearch.english
                (COPY = pg_catalog.english);
            ALTER TEXT SEARCH CONFIGURATION harvestplus_pgsearch.english
                ALTER MAPPING FOR asciiword, asciihword, hword_asciipart,
                                  word, hword, hword_part
                WITH harvestplus_pgsearch.english_stem_all;
        END IF;
    END
    $$
    """,
    "CREATE SEQUENCE IF NOT EXISTS harvestplus_pgsearch.document_seq",
    """
    CREATE TABLE IF NOT EXISTS harvestplus_pgsearch.document (
        index_id text PRIMARY KEY,
        site_id text NOT NULL,
        stored jsonb NOT NULL,
        terms jsonb NOT NULL,
        exact text[] NOT NULL,
        fts tsvector NOT NULL,
        metadata_modified timestamptz,
        seq bigint NOT NULL DEFAULT nextval('harvestplus_pgsearch.document_seq'),
        indexed_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX IF NOT EXISTS document_exact_idx ON harvestplus_pgsearch.document "
    "USING gin (exact)",
    "CREATE INDEX IF NOT EXISTS document_fts_idx ON harvestplus_pgsearch.document USING gin (fts)",
    "CREATE INDEX IF NOT EXISTS document_site_seq_idx ON harvestplus_pgsearch.document "
    "(site_id, seq)",
    "CREATE INDEX IF NOT EXISTS document_modified_idx ON harvestplus_pgsearch.document "
    "(metadata_modified DESC)",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS harvestplus_pgsearch CASCADE")
