"""Per-run options and plan of harvest jobs; an index for current objects.

``harvestplus_job`` keeps what ckanext-harvest's ``harvest_job`` has no column
for: whether an admin forced the run or confirmed its removals, and the plan
the gather stage made (counts per action and the mass-deletion guard's
reason). There is no foreign key to ``harvest_job``: a site may run this
migration for the search index alone, without ckanext-harvest's tables. Rows
of jobs that no longer exist are ignored and pruned when jobs are written.

Revision ID: 0002_harvest_jobs
Revises: 0001_search_index
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0002_harvest_jobs"
down_revision = "0001_search_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS harvestplus_job (
            job_id text PRIMARY KEY,
            force boolean NOT NULL DEFAULT false,
            confirmed boolean NOT NULL DEFAULT false,
            plan jsonb,
            guard text
        )
        """
    )
    # What a source holds is read from its current objects on every run.
    op.execute(
        """
        DO $$
        BEGIN
            IF to_regclass('harvest_object') IS NOT NULL THEN
                CREATE INDEX IF NOT EXISTS harvestplus_object_current_idx
                    ON harvest_object (harvest_source_id, guid) WHERE current;
            END IF;
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS harvestplus_object_current_idx")
    op.execute("DROP TABLE IF EXISTS harvestplus_job")
