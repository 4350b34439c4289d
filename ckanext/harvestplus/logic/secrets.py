"""Credentials in harvest source configs are shown only to those who manage them.

ckanext-harvest returns a source's ``config`` (where the ``api_key`` lives) to
anyone who may view the source. harvestplus masks every secret key in it for
users who are neither sysadmins nor admins of the source's organisation: in
``package_show``, ``package_search``, ``harvest_source_show`` and
``harvest_source_list``, and so on every page built from them. When an edit
sends the mask back, the stored secret is kept.
"""

from __future__ import annotations

from typing import Any

import ckan.authz as authz
import ckan.plugins.toolkit as tk
from ckan import model
from ckanext.harvest.model import HarvestSource

from ckanext.harvestplus.pipeline import sourceconfig


def current_user_name() -> str:
    """The logged-in user's name, or "" outside a request or when anonymous."""
    try:
        from ckan.common import current_user

        return str(getattr(current_user, "name", "") or "")
    except (RuntimeError, AttributeError):
        return ""


def may_see_secrets(context: dict[str, Any], owner_org: str | None) -> bool:
    user = context.get("user") or ""
    if context.get("ignore_auth") or authz.is_sysadmin(user):
        return True
    if not owner_org or not user:
        return False
    return authz.users_role_for_group_or_org(owner_org, user) == "admin"


def redact_dataset(context: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    """Mask the config's secrets, in the field and in the extras that store it."""
    if dataset.get("type") != "harvest" or may_see_secrets(context, dataset.get("owner_org")):
        return dataset
    if dataset.get("config"):
        dataset["config"] = sourceconfig.redact(dataset["config"])
    for key in sourceconfig.SECRET_KEYS & dataset.keys():  # CKAN 2.11 also lifts config keys
        dataset[key] = sourceconfig.MASK
    for extra in dataset.get("extras") or []:
        if isinstance(extra, dict) and extra.get("key") == "config":
            extra["value"] = sourceconfig.redact(extra.get("value"))
    return dataset


@tk.chained_action
@tk.side_effect_free
def harvest_source_list(up: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    tk.check_access("harvest_source_list", context, data_dict)
    sources = up(context, data_dict)
    for source in sources:
        dataset = model.Package.get(source["id"])
        owner = dataset.owner_org if dataset is not None else source.get("publisher_id")
        if source.get("config") and not may_see_secrets(context, owner):
            source["config"] = sourceconfig.redact(source["config"])
    return sources


@tk.chained_action
def package_update(up: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    if data_dict.get("config") and sourceconfig.MASK in str(data_dict["config"]):
        stored = HarvestSource.get(data_dict.get("id") or data_dict.get("name") or "")
        if stored is None and data_dict.get("name"):
            package = model.Package.get(data_dict["name"])
            stored = HarvestSource.get(package.id) if package is not None else None
        if stored is not None:
            data_dict = dict(
                data_dict, config=sourceconfig.unmask(data_dict["config"], stored.config)
            )
    return up(context, data_dict)
