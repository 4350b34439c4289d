"""Alembic environment for ``ckan db upgrade -p harvestplus``."""

from ckanext.harvestplus.migration.environment import run

run(__file__)
