"""Credentials in harvest source configs are shown only to those who manage them.

ckanext-harvest returns a source's ``config`` (where the ``api_key`` lives) to
anyone who may view the source. harvestplus masks every secret key in it for
users who are neither sysadmins nor admins of the source's organisation: in
``package_show``, ``package_search``, ``harvest_source_show`` and
``harvest_source_list``, and so on every page built from them. When an edit
sends the mask back, the stored secret is kept.
"""

from __future__ import annotations

import json
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
    # ignore_auth is not enough: CKAN's activity stream shows datasets with it and
    # then serves what it stored to anyone who may view the source.
    user = context.get("user") or ""
    if authz.is_sysadmin(user):
        return True
    if not owner_org or not user:
        return False
    return authz.users_role_for_group_or_org(owner_org, user) == "admin"


def redact_dataset(context: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    """Mask the config's secrets, in the field and in the extras that store it."""
    if dataset.get("type") != "harvest":
        return dataset
    if may_see_secrets(context, dataset.get("owner_org")):
        return _reveal(dataset)
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


def _reveal(dataset: dict[str, Any]) -> dict[str, Any]:
    """The stored config for those who may see it (the search index keeps it masked,
    and package_show may answer from the index)."""
    source = HarvestSource.get(dataset.get("id") or "")
    if source is None or sourceconfig.MASK not in json.dumps(dataset):
        return dataset
    if "config" in dataset:
        dataset["config"] = source.config
    for extra in dataset.get("extras") or []:
        if isinstance(extra, dict) and extra.get("key") == "config":
            extra["value"] = source.config
    stored = sourceconfig.loads(source.config)
    for key in sourceconfig.SECRET_KEYS & dataset.keys():
        dataset[key] = stored.get(key, dataset[key])
    return dataset


def _scrub(value: Any) -> Any:
    """``value`` with every secret key masked, inside nested dicts, lists and JSON
    strings (the index stores dataset dicts as JSON, sometimes nested twice)."""
    if isinstance(value, dict):
        return {
            k: sourceconfig.MASK if k in sourceconfig.SECRET_KEYS else _scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str) and value.startswith(("{", "[")):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        scrubbed = _scrub(parsed)
        return value if scrubbed == parsed else json.dumps(scrubbed)
    return value


def redact_index(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """Mask secrets in what a harvest source sends to the search index, so that no
    search (``fl``, fielded queries) can read them back."""
    if pkg_dict.get("dataset_type") != "harvest" and pkg_dict.get("type") != "harvest":
        return pkg_dict
    scrubbed = _scrub(pkg_dict)
    for key in sourceconfig.SECRET_KEYS:
        if f"extras_{key}" in scrubbed:
            scrubbed[f"extras_{key}"] = sourceconfig.MASK
    pkg_dict.clear()
    pkg_dict.update(scrubbed)
    return pkg_dict


def keep_stored_secret(
    context: dict[str, Any], data_dict: dict[str, Any], stored: HarvestSource
) -> dict[str, Any]:
    """Keep the stored secret where an edit of ``stored`` sends the mask back;
    refuse to send it to a new address unless the user may see it."""
    if not (data_dict.get("config") and sourceconfig.MASK in str(data_dict["config"])):
        return data_dict
    owner = getattr(model.Package.get(stored.id), "owner_org", None)
    moved = (data_dict.get("url") or stored.url).strip() != stored.url.strip()
    if moved and not may_see_secrets(context, owner):
        message = (
            "Only a sysadmin or an admin of the source's organisation may change "
            "the URL of a source that has an API key (or enter the key again)."
        )
        raise tk.ValidationError({"url": [message]})
    config = sourceconfig.unmask(data_dict["config"], stored.config)
    return dict(data_dict, config=config)
