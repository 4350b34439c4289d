"""CKAN and ckanext-harvest actions, chained where harvestplus changes what they do.

- ``package_create``/``package_update`` of a harvest source (the form, the API
  and ``harvest_source_create``/``update`` all end here): the URL is checked
  (see :mod:`.validators`) and a masked API key is kept (see :mod:`.secrets`);
  a created source is returned with its ``status``, as ``harvest_source_show``
  returns it; only sysadmins set ``remote_orgs`` and ``remote_groups: create``.
- ``package_delete`` of a harvest source (*Delete source*, whichever page or
  call it comes from): unfinished jobs stop and the source's datasets become
  ordinary local datasets (:func:`lifecycle.detach`).
- ``harvest_source_delete`` with ``clear_source`` (*Delete and clear source*)
  and ``harvest_source_clear`` (*Clear*): :func:`lifecycle.clear`, through
  CKAN's own purge, instead of ckanext-harvest's raw SQL script.
- ``harvest_job_abort`` (*Stop*): the job also leaves the gather queue.
"""

from __future__ import annotations

import logging
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import authz, model
from ckanext.harvest.model import HarvestSource

from ckanext.harvestplus import jobs, lifecycle
from ckanext.harvestplus.logic import secrets, validators
from ckanext.harvestplus.pipeline import sourceconfig

log = logging.getLogger(__name__)


def stored_source(id_or_name: str | None) -> HarvestSource | None:
    """The harvest source a dataset id or name is, or None for any other dataset.

    Read through the dataset first: every import's package_update passes here,
    and its dataset is already in the session, so other datasets cost no query.
    """
    package = model.Package.get(id_or_name) if id_or_name else None
    if package is None or package.type != "harvest":
        return None
    return HarvestSource.get(package.id)


def _check_url(data_dict: dict[str, Any], stored: HarvestSource | None) -> dict[str, Any]:
    """Refuse a URL that is not a reachable catalogue of the chosen kind, on
    create and whenever the URL or the source type changes."""
    data_dict = dict(data_dict)
    skip = tk.asbool(data_dict.pop("skip_url_check", False))
    url = str(data_dict.get("url") or (stored.url if stored else "")).strip()
    source_type = data_dict.get("source_type") or (stored.type if stored else None)
    if not url:
        return data_dict  # the schema says "Missing value"
    if stored is not None and (
        lifecycle.normalized_url(url) == lifecycle.normalized_url(stored.url)
        and source_type == stored.type
    ):
        return data_dict
    problem = validators.url_problem(url, source_type, data_dict.get("config"))
    if problem is None or (skip and problem.can_skip):
        return data_dict
    errors = {"url": [problem.message]}
    harvester = validators.pipeline_harvester(source_type)
    if harvester is not None:
        try:
            harvester.validate_config(data_dict.get("config"))
        except ValueError as e:
            errors["config"] = [str(e)]
    raise tk.ValidationError(errors)


def _sysadmin_options(config: str | None) -> dict[str, Any]:
    """The options that reach beyond the source's organisation: ``remote_orgs``
    places datasets in other organisations (whose members then see them) and
    ``remote_groups: create`` creates groups on the site."""
    try:
        parsed = sourceconfig.loads(config)
    except sourceconfig.ConfigError:
        return {}  # refused with its own message by the config check
    return {
        "remote_orgs": parsed.get("remote_orgs"),
        "remote_groups": "create" if parsed.get("remote_groups") == "create" else None,
    }


def _check_sysadmin_options(
    context: dict[str, Any], data_dict: dict[str, Any], stored: HarvestSource | None
) -> None:
    """Only sysadmins set or change ``remote_orgs`` and ``remote_groups: create``;
    others may still save a source a sysadmin set them on."""
    if "config" not in data_dict or context.get("ignore_auth"):
        return
    wanted = _sysadmin_options(data_dict.get("config"))
    before = _sysadmin_options(stored.config if stored else None)
    changed = sorted(k for k, v in wanted.items() if v and v != before[k])
    if changed and not authz.is_sysadmin(context.get("user")):
        raise tk.ValidationError({"config": [f"Only sysadmins may set {' and '.join(changed)}."]})


@tk.chained_action
def package_create(up: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    if data_dict.get("type") != "harvest":
        return up(context, data_dict)
    _check_sysadmin_options(context, data_dict, None)
    created = up(context, _check_url(data_dict, None))
    if isinstance(created, dict) and created.get("status") is None:
        # ckanext-harvest adds its source to the session without a flush, and CKAN
        # 2.11+ shows the new dataset before one: its "status" came out empty,
        # and `ckan harvester source create` failed on it.
        model.Session.flush()
        created["status"] = tk.get_action("harvest_source_show_status")(
            dict(context), {"id": created["id"]}
        )
    return created


@tk.chained_action
def package_update(up: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    stored = stored_source(data_dict.get("id") or data_dict.get("name"))
    if stored is not None:
        data_dict = secrets.keep_stored_secret(context, data_dict, stored)
        _check_sysadmin_options(context, data_dict, stored)
        data_dict = _check_url(data_dict, stored)
    return up(context, data_dict)


@tk.chained_action
def package_delete(up: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    stored = stored_source(data_dict.get("id"))
    if stored is not None and stored.active:
        tk.check_access("package_delete", context, data_dict)
        lifecycle.stop_jobs(stored.id)
        detached = lifecycle.detach(stored.id)
        log.info("Source %s deleted: %d datasets detached", stored.id, detached)
    return up(context, data_dict)


@tk.chained_action
def harvest_source_delete(up: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    """Delete a source; with ``clear_source`` in the context (or ``clear`` in the
    data), purge its datasets, jobs and objects first."""
    tk.check_access("harvest_source_delete", context, data_dict)
    stored = stored_source(data_dict.get("id"))
    if stored is None:
        raise tk.ObjectNotFound(f"Harvest source {data_dict.get('id')!r} not found")
    if context.pop("clear_source", False) or tk.asbool(data_dict.get("clear", False)):
        lifecycle.clear(stored.id)
    return up(context, {"id": stored.id})


@tk.chained_action
def harvest_source_clear(up: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    """Purge every dataset the source brought, and its jobs and objects; keep the
    source. Through CKAN's ``dataset_purge``, one dataset per transaction.

    :param id: the source's id or name
    :returns: ``{"id": source id, "purged": number of datasets purged}``
    """
    tk.check_access("harvest_source_clear", context, data_dict)
    stored = stored_source(data_dict.get("id"))
    if stored is None:
        raise tk.ObjectNotFound(f"Harvest source {data_dict.get('id')!r} not found")
    purged = lifecycle.clear(stored.id)
    if stored.active:
        tk.get_action("harvest_source_reindex")(
            {"model": model, "ignore_auth": True}, {"id": stored.id}
        )
    return {"id": stored.id, "purged": purged}


@tk.chained_action
def harvest_job_abort(up: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    """Stop a job: also off the gather queue, and its report says who stopped it when."""
    job = up(context, data_dict)
    jobs.remove_from_gather_queue(job["id"])
    jobs.record_stop(job["id"], context.get("user") or "")
    return job


def get_actions() -> dict[str, Any]:
    return {
        "package_create": package_create,
        "package_update": package_update,
        "package_delete": package_delete,
        "harvest_source_delete": harvest_source_delete,
        "harvest_source_clear": harvest_source_clear,
        "harvest_job_abort": harvest_job_abort,
    }
