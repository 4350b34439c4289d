"""The held job a confirmed run confirms.

"Confirm and run" on a job the mass-deletion guard held lets exactly the
removals that job held back go ahead (listed in its plan as ``held``), not
whatever vanished since. ``confirm_job`` names that job.

Revision ID: 0003_confirm_job
Revises: 0002_harvest_jobs
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003_confirm_job"
down_revision = "0002_harvest_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE harvestplus_job ADD COLUMN IF NOT EXISTS confirm_job text")


def downgrade() -> None:
    op.execute("ALTER TABLE harvestplus_job DROP COLUMN IF EXISTS confirm_job")
