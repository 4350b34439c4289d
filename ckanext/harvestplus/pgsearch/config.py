"""Typed getters for the options in ``config_declaration.yaml``."""

from __future__ import annotations

from urllib.parse import urlsplit

import ckan.plugins.toolkit as tk
from ckan.exceptions import CkanConfigurationException

TEXT_CONFIG = "ckanext.harvestplus.search.text_config"
DEFAULT_TEXT_CONFIG = "harvestplus_search.english"


def text_config() -> str:
    # Read with a fallback: tests may unload this plugin (and with it the
    # declaration) while the index stays in use.
    return tk.config.get(TEXT_CONFIG) or DEFAULT_TEXT_CONFIG


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
