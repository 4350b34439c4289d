"""Typed getters for the options in ``config_declaration.yaml``."""

from __future__ import annotations

from urllib.parse import urlsplit

import ckan.plugins.toolkit as tk
from ckan.exceptions import CkanConfigurationException

TEXT_CONFIG = "ckanext.harvestplus_pgsearch.text_config"
#: The option's name before the index had a plugin of its own; still read.
LEGACY_TEXT_CONFIG = "ckanext.harvestplus.search.text_config"
DEFAULT_TEXT_CONFIG = "harvestplus_pgsearch.english"
#: The index's schema before it had a plugin of its own (renamed by its migration).
LEGACY_SCHEMA = "harvestplus_search."


def text_config() -> str:
    # Read with a fallback: tests may unload this plugin (and with it the
    # declaration) while the index stays in use.
    value = tk.config.get(TEXT_CONFIG) or tk.config.get(LEGACY_TEXT_CONFIG) or DEFAULT_TEXT_CONFIG
    if str(value).startswith(LEGACY_SCHEMA):
        value = "harvestplus_pgsearch." + str(value)[len(LEGACY_SCHEMA) :]
    return str(value)


def uses_postgresql(solr_url: str | None) -> bool:
    """``solr_url = postgresql://`` selects the index in CKAN's database."""
    return bool(solr_url) and urlsplit(str(solr_url)).scheme in ("postgresql", "postgres")


def check_solr_url(solr_url: str | None) -> None:
    parts = urlsplit(str(solr_url or ""))
    if parts.netloc or parts.path.strip("/"):
        raise CkanConfigurationException(
            f"solr_url = {solr_url}: the PostgreSQL search index lives in CKAN's own "
            "database (sqlalchemy.url); write solr_url = postgresql:// with nothing after it."
        )
