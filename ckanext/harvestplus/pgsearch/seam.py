"""Where CKAN meets the PostgreSQL index.

``ckan.lib.search.common.make_connection`` builds ``pysolr.Solr(solr_url)``
and is imported by name across CKAN and its extensions (CKAN's index and query
modules, ckanext-harvest's ``harvest_source_clear``). Replacing the ``pysolr``
name inside that one module reaches every caller: ``solr_url = postgresql://``
gets a :class:`PgSearchConnection`, any other URL the real ``pysolr.Solr``.

Installed once per process when the plugin loads and never removed, so the
choice follows configuration (``solr_url``), not the current plugin list:
tests that replace ``ckan.plugins`` keep a working index, as they would with
Solr.
"""

from __future__ import annotations

import logging
import types
from typing import Any

import ckan.lib.search as search
import ckan.lib.search.common as common
import pysolr
from ckan.common import config as ckan_config

from .config import check_solr_url, uses_postgresql
from .connection import PgSearchConnection, track_sessions

log = logging.getLogger(__name__)


class _Pysolr(types.ModuleType):
    """``pysolr`` as ``make_connection`` sees it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(pysolr, name)

    @staticmethod
    def Solr(url: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (pysolr's name)
        if uses_postgresql(url):
            return PgSearchConnection(url, **kwargs)
        return pysolr.Solr(url, *args, **kwargs)


_original_schema_check = search.check_solr_schema_version


def _check_schema_version(schema_file: str | None = None) -> bool:
    solr_url = ckan_config.get("solr_url")
    if uses_postgresql(solr_url):
        # The index schema is versioned by the harvestplus migrations instead.
        check_solr_url(solr_url)
        return True
    return _original_schema_check(schema_file)


def install() -> None:
    if isinstance(common.pysolr, _Pysolr):
        return
    common.pysolr = _Pysolr("pysolr")
    track_sessions()
    search.check_solr_schema_version = _check_schema_version
    log.debug("PostgreSQL search index available (solr_url = postgresql://)")
