"""Auth functions of the ``harvestplus`` plugin.

Running, previewing, repairing a source and adopting datasets into it need
the right to update it
(ckanext-harvest's ``harvest_source_update``: sysadmins and the editors and
admins of its organisation). A preview of a source that does not exist yet, and
the orphan report over every source, make requests or read across sources, so
they are for sysadmins only. Confirming removals held by the mass-deletion
guard is for sysadmins and admins of the source's organisation. A run made
inside the request (``sync``) is for sysadmins only: a whole harvest would
hold a web worker for as long as it takes.
"""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk


def _may_update_source(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    source_id = data_dict.get("id") or data_dict.get("source_id")
    if not source_id:
        return {"success": False, "msg": "Only sysadmins may do this for every source."}
    try:
        tk.check_access("harvest_source_update", context, {"id": source_id})
    except tk.NotAuthorized:
        return {"success": False, "msg": "You may not update this harvest source."}
    return {"success": True}


def _may_confirm(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Letting a held mass removal go ahead is for sysadmins and admins of the
    source's organisation, not its editors."""
    from ckan import model

    from ckanext.harvestplus.logic.secrets import may_see_secrets

    package = model.Package.get(data_dict.get("id") or "")
    if package is None or not may_see_secrets(context, package.owner_org):
        return {
            "success": False,
            "msg": "Only sysadmins and admins of the source's organisation may confirm.",
        }
    return {"success": True}


def _sysadmins_only(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Sysadmins pass every auth function before it is called; nobody else does."""
    return {"success": False, "msg": "Only sysadmins may run a harvest inside a web request."}


@tk.auth_allow_anonymous_access
def harvestplus_backends(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    return {"success": True}


def get_auth_functions() -> dict[str, Any]:
    return {
        "harvestplus_backends": harvestplus_backends,
        "harvestplus_source_run": _may_update_source,
        "harvestplus_orphans": _may_update_source,
        "harvestplus_check": _may_update_source,
        "harvestplus_preview": _may_update_source,
        "harvestplus_source_adopt": _may_update_source,
        "harvestplus_source_confirm": _may_confirm,
        "harvestplus_source_run_sync": _sysadmins_only,
    }
