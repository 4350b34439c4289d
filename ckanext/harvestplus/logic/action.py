"""Actions of the ``harvestplus`` plugin (the CLI is a front end over these)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckanext.harvest.interfaces import IHarvester

from ckanext.harvestplus import jobs, lifecycle
from ckanext.harvestplus.backends import options
from ckanext.harvestplus.harvesters import PipelineHarvester
from ckanext.harvestplus.logic import schema
from ckanext.harvestplus.pipeline import check, orphans, sourceconfig
from ckanext.harvestplus.pipeline.preview import adhoc_source, preview
from ckanext.harvestplus.store import runs
from ckanext.harvestplus.types import RunOptions


def _harvester(source_type: str) -> PipelineHarvester:
    for harvester in p.PluginImplementations(IHarvester):
        if harvester.info()["name"] == source_type and isinstance(harvester, PipelineHarvester):
            return harvester
    raise tk.ValidationError(
        {"type": [f"{source_type!r} is not a harvestplus source type enabled on this site"]}
    )


def _source(id_or_name: str) -> Any:
    try:
        return jobs.find_source(id_or_name)
    except jobs.RunError as e:
        raise tk.ObjectNotFound(str(e)) from e


def _valid(data_dict: dict[str, Any], schema: dict[str, Any], context: Any) -> dict[str, Any]:
    data, errors = tk.navl_validate(data_dict, schema, context)
    if errors:
        raise tk.ValidationError(errors)
    return data


@tk.side_effect_free
def harvestplus_backends(
    context: dict[str, Any], data_dict: dict[str, Any]
) -> list[dict[str, Any]]:
    """The harvesters this site offers, with the options a source of each may set.

    :returns: ``[{"name", "title", "description", "harvestplus", "options"}, ...]``
        by name; ``name`` is the source type, ``harvestplus`` whether it runs on
        the harvestplus pipeline, ``options`` what its sources' config may set:
        ``[{"key", "label", "description", "kind", "group", "default", "choices",
        "minimum", "maximum", "secret", ...}]``, the pipeline's own first
        (``group``: ``config``, ``feature`` or ``filter``); empty for other
        harvesters
    """
    tk.check_access("harvestplus_backends", context, data_dict)
    found = []
    for harvester in p.PluginImplementations(IHarvester):
        info = harvester.info()
        pipeline = isinstance(harvester, PipelineHarvester)
        declared = (*options.COMMON, *harvester.backend.options) if pipeline else ()
        found.append(
            {
                "name": info["name"],
                "title": info.get("title", ""),
                "description": info.get("description", ""),
                "harvestplus": pipeline,
                "options": [o.as_dict() for o in declared],
            }
        )
    return sorted(found, key=lambda b: b["name"])


def harvestplus_source_run(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Queue a run of a source (or run it now with ``sync``).

    :param id: the source's id or name
    :param force: re-import every record, changed or not (default false)
    :param confirm: confirm every removal the mass-deletion guard would hold
        back (sysadmins and admins of the source's organisation only)
    :param confirm_job: the id of the source's latest job, which the guard held
        back: confirm only the removals it held back (same permission)
    :param sync: run in this request and return the summary (sysadmins only;
        default false: queue the job for the gather and fetch workers)
    :returns: queued: ``{"job_id", "source_id", "force", "confirm",
        "confirm_job"}``; with ``sync``: the job's summary (see
        ``harvestplus_job_summary``)
    """
    tk.check_access("harvestplus_source_run", context, data_dict)
    data = _valid(data_dict, schema.source_run(), context)
    force, confirmed = data.get("force", False), data.get("confirm", False)
    confirm_job = data.get("confirm_job") or None
    if confirmed or confirm_job:
        tk.check_access("harvestplus_source_confirm", context, data_dict)
    if data.get("sync", False):
        # A whole harvest inside a web request: for sysadmins (and the CLI) only.
        tk.check_access("harvestplus_source_run_sync", context, data_dict)
    source = _source(data["id"])
    if confirm_job:
        problem = jobs.confirmable(source.id, str(confirm_job))
        if problem:
            raise tk.ValidationError({"confirm_job": [problem]})
    if data.get("sync", False):
        try:
            summary = jobs.run_sync(
                source.id, force=force, confirmed=confirmed, confirm_job=confirm_job
            )
        except jobs.RunError as e:
            raise tk.ValidationError({"id": [str(e)]}) from e
        return summary.as_dict()
    api = {"user": context.get("user"), "ignore_auth": True}
    job = tk.get_action("harvest_job_create")(dict(api), {"source_id": source.id, "run": False})
    options = RunOptions(force=force, confirmed=confirmed, confirm_job=confirm_job)
    runs.save_options(job["id"], options)
    tk.get_action("harvest_send_job_to_gather_queue")(dict(api), {"id": job["id"]})
    return {
        "job_id": job["id"],
        "source_id": source.id,
        "force": force,
        "confirm": confirmed,
        "confirm_job": confirm_job,
    }


@tk.side_effect_free
def harvestplus_job_summary(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """What one job did.

    :param id: the job's id
    :returns: ``{"job_id", "source_id", "status", "created", "updated",
        "unchanged", "deleted", "archived", "restored", "errored", "kept",
        "guard", "errors", "duration", "notes"}``: counts of records by outcome,
        the guard's reason (or null), gather errors, seconds from gather to
        end, and per record what the mapping left out
    """
    tk.check_access("harvest_job_show", context, data_dict)
    data = _valid(data_dict, schema.job(), context)
    try:
        return jobs.summary(data["id"]).as_dict()
    except jobs.RunError as e:
        raise tk.ObjectNotFound(str(e)) from e


def harvestplus_orphans(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Find (and with ``repair``, repair) datasets stranded by earlier runs.

    :param source_id: the source's id or name (default: every source,
        sysadmins only)
    :param repair: re-attach, archive or delete each as its source's deletion
        policy says (default false: only report)
    :returns: ``{"repaired": bool, "orphans": [{"source_id", "package_id",
        "name", "remote_id", "action"}, ...]}``
    """
    tk.check_access("harvestplus_orphans", context, data_dict)
    data = _valid(data_dict, schema.source_scan(), context)
    source_id = _source(data["source_id"]).id if data.get("source_id") else None
    if data.get("repair", False):
        done = orphans.repair(source_id)
        return {"repaired": True, "orphans": [o.as_dict() for o in done]}
    return {"repaired": False, "orphans": [o.as_dict() for o in orphans.find(source_id)]}


def harvestplus_check(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Report every broken invariant of a source's (or every source's) datasets in
    one pass, and with ``repair`` fix what can be fixed safely.

    Kinds: ``duplicate`` (two current objects, or two datasets, for one remote
    record), ``shared`` (one dataset held by two sources), ``orphan``, ``purged``
    (a current object whose dataset is gone), ``index_missing``, ``index_stale``,
    ``index_deleted`` (the search index disagrees with the database).

    :param source_id: the source's id or name (default: every source, sysadmins only)
    :param repair: fix what can be fixed (default false: only report)
    :returns: ``{"problems": [{"kind", "source_id", "package_id", "remote_id",
        "detail", "repair"}], "counts": {kind: n}, "repaired": [...],
        "remaining": n}``; ``repair`` is what the repair does ("" when an admin
        must decide)
    """
    tk.check_access("harvestplus_check", context, data_dict)
    data = _valid(data_dict, schema.source_scan(), context)
    source_id = _source(data["source_id"]).id if data.get("source_id") else None
    if data.get("repair", False):
        return check.repair(source_id).as_dict()
    return check.Report(check.find(source_id)).as_dict()


def harvestplus_preview(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """A dry run of the real pipeline; writes nothing.

    Either ``id`` (a saved source, read as its next run would read it) or
    ``type`` and ``url`` (and optionally ``config``, a JSON string) for a
    source not saved yet (sysadmins only: it makes requests for no source).

    :param limit: how many records to show (default 5)
    :returns: ``{"listed", "plan": {action: n}, "guard", "listing_complete",
        "errors", "items": [{"remote_id", "action", "dataset", "errors",
        "notes"}], "datasets"}``
    """
    tk.check_access("harvestplus_preview", context, data_dict)
    data = _valid(data_dict, schema.preview(), context)
    limit = data.get("limit", 5)
    if data.get("id"):
        source = _source(data["id"])
    else:
        missing = {k: ["Missing value"] for k in ("type", "url") if not data.get(k)}
        if missing:
            raise tk.ValidationError(missing)
        source = adhoc_source(data["type"], data["url"], data.get("config"))
    harvester = _harvester(source.type)
    try:
        return preview(harvester.backend, source, limit=limit).as_dict()
    except sourceconfig.ConfigError as e:
        raise tk.ValidationError({"config": e.problems}) from e


def harvestplus_source_adopt(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Adopt the datasets detached from an earlier, deleted source of the same URL
    and source type, instead of letting this source's first run create them again.

    Adopted datasets are attached to this source; its next run updates them
    from the remote, or removes them as its deletion policy says.

    :param id: the source's id or name
    :param dry_run: only list what would be adopted (default false)
    :returns: ``{"adopted": [{"package_id", "name", "remote_id"}, ...], "dry_run": bool}``
    """
    tk.check_access("harvestplus_source_adopt", context, data_dict)
    data = _valid(data_dict, schema.source_adopt(), context)
    source = _source(data["id"])
    dry_run = data.get("dry_run", False)
    found = lifecycle.adoptable(source.id) if dry_run else lifecycle.adopt(source.id)
    return {"adopted": [asdict(d) for d in found], "dry_run": dry_run}


def get_actions() -> dict[str, Any]:
    return {
        "harvestplus_backends": harvestplus_backends,
        "harvestplus_source_run": harvestplus_source_run,
        "harvestplus_job_summary": harvestplus_job_summary,
        "harvestplus_orphans": harvestplus_orphans,
        "harvestplus_check": harvestplus_check,
        "harvestplus_preview": harvestplus_preview,
        "harvestplus_source_adopt": harvestplus_source_adopt,
    }
