"""``ckan harvestplus ...`` commands: thin front ends over the actions."""

from __future__ import annotations

import click


@click.group(short_help="Harvest external catalogues (ckanext-harvestplus).")
def harvestplus() -> None:
    """Commands of ckanext-harvestplus."""
