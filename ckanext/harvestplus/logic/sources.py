"""Harvest sources as CKAN datasets: what harvestplus changes in how they are indexed."""

from __future__ import annotations

import json
from typing import Any

from ckan import model
from ckan.lib import plugins as lib_plugins
from ckan.lib.navl.dictization_functions import MissingNullEncoder


def is_source(pkg_dict: dict[str, Any]) -> bool:
    return "harvest" in (pkg_dict.get("dataset_type"), pkg_dict.get("type"))


def validated_copy(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """Index a harvest source with a copy validated by the harvest show schema.

    ckanext-harvest's ``harvest_source_reindex`` (run after every job) hands
    the index an unvalidated copy as the validated one; ``package_show`` then
    served it without ``config``, ``source_type`` and ``frequency`` (they sit in
    its extras), and an Edit form saved from it overwrote them. The copy is
    rebuilt here from the stored dataset dict, whichever index is in use.
    """
    if not is_source(pkg_dict) or "data_dict" not in pkg_dict:
        return pkg_dict
    plugin = lib_plugins.lookup_package_plugin("harvest")
    validated, _errors = lib_plugins.plugin_validate(
        plugin,
        {"model": model, "session": model.Session},
        json.loads(pkg_dict["data_dict"]),
        plugin.show_package_schema(),
        "package_show",
    )
    pkg_dict["validated_data_dict"] = json.dumps(validated, cls=MissingNullEncoder)
    return pkg_dict
