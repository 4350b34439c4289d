"""Alembic environment for ``ckan db upgrade -p harvestplus_pgsearch``."""

from ckanext.harvestplus.migration.environment import run

run(__file__)
