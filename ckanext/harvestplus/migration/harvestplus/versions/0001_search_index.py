"""Formerly the PostgreSQL search index; it has its own chain now.

The index is created by ``ckan db upgrade -p harvestplus_pgsearch`` (the
plugin's own migrations), which also moves an index this revision created
before (schema ``harvestplus_search``) into its schema. This revision stays
so that the history of sites that ran it remains valid; it does nothing.

Revision ID: 0001_search_index
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0001_search_index"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing: see ``harvestplus_pgsearch`` 0001."""


def downgrade() -> None:
    """Nothing: the index belongs to the ``harvestplus_pgsearch`` chain."""
