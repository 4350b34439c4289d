"""Jobs run in one process (``ckan harvestplus run --sync``) are marked as such.

Their objects belong to that process from the moment they are gathered: no
worker takes them, even when ``ckan harvester run`` re-sends waiting objects to
the fetch queue.

Revision ID: 0004_in_process_runs
Revises: 0003_confirm_job
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004_in_process_runs"
down_revision = "0003_confirm_job"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE harvestplus_job ADD COLUMN IF NOT EXISTS in_process boolean "
        "NOT NULL DEFAULT false"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE harvestplus_job DROP COLUMN IF EXISTS in_process")
