"""Running a source in this process, and what a job did.

:func:`run_sync` is what ``ckan harvestplus run SOURCE --sync`` and the
benchmark use: it creates a job like the queue would, then calls
ckanext-harvest's own stage functions (``queue.gather_stage`` and
``queue.fetch_and_import_stages``) one object after the other and marks the
job finished, so a synchronous run leaves exactly the records a queued one
does. :func:`summary` reads any job's outcome back.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model
from ckanext.harvest import queue
from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestSource

from ckanext.harvestplus.pipeline import store
from ckanext.harvestplus.pipeline.harvester import (
    Import,
    PipelineHarvester,
    RunOptions,
    held_back,
    save_job_options,
    site_user,
)

Progress = Callable[[int, int], None]


@dataclass
class Summary:
    job_id: str
    source_id: str
    status: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    archived: int = 0
    restored: int = 0
    errored: int = 0
    #: Vanished records left alone this run (policy keep, grace period, guard).
    kept: int = 0
    guard: str | None = None
    errors: list[str] = field(default_factory=list)
    duration: float | None = None
    #: What the mapping left out, per record: guid (the remote id), package_id and
    #: title of its dataset here (or None), notes.
    notes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RunError(Exception):
    """The run could not start; the message says why and what to do."""


def find_source(id_or_name: str) -> HarvestSource:
    source = HarvestSource.get(id_or_name)
    if source is None:
        package = model.Package.get(id_or_name)
        source = HarvestSource.get(package.id) if package is not None else None
    if source is None:
        raise RunError(f"No harvest source {id_or_name!r} (give its name or id).")
    return source


def _api() -> dict[str, Any]:
    return {"model": model, "session": model.Session, "user": site_user(), "ignore_auth": True}


def run_sync(
    source_id_or_name: str,
    *,
    force: bool = False,
    confirmed: bool = False,
    confirm_job: str | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Gather, fetch and import one source now, in this process.

    ``confirmed`` confirms every removal; ``confirm_job`` only those the guard
    held back in that job (see :func:`confirmable`).
    """
    source = find_source(source_id_or_name)
    if not source.active:
        raise RunError(f"Source {source_id_or_name!r} is inactive; reactivate it to run it.")
    harvester = queue.get_harvester(source.type)
    if harvester is None:
        raise RunError(f"No harvester plugin for source type {source.type!r} is enabled.")
    running = model.Session.query(HarvestJob).filter(
        HarvestJob.source_id == source.id, HarvestJob.status.in_(("New", "Running"))
    )
    if running.count():
        raise RunError(
            f"Source {source_id_or_name!r} already has an unfinished job; wait for it or "
            f"abort it (ckan harvester job-abort {source.id})."
        )
    started = time.monotonic()
    job_dict = tk.get_action("harvest_job_create")(_api(), {"source_id": source.id, "run": False})
    job = HarvestJob.get(job_dict["id"])
    job.status = "Running"
    options = RunOptions(
        force=force,
        confirmed=confirmed,
        confirm_job=confirm_job,
        confirmed_ids=held_back(confirm_job) if confirm_job else frozenset(),
        in_process=True,
    )
    save_job_options(job.id, options)
    job.save()

    object_ids = queue.gather_stage(harvester, job) or []
    total = len(object_ids)
    if progress:
        progress(0, total)
    for done, object_id in enumerate(object_ids, 1):
        if _status(job.id) in ("Finished", "Aborted"):
            # Stopped meanwhile: what is left ends in ERROR and the next run does it.
            store.end_unimported(job.id, object_ids[done - 1 :])
            break
        obj = HarvestObject.get(object_id)
        if obj is None:
            continue
        if isinstance(harvester, PipelineHarvester):
            import_one(harvester, obj)
        else:
            queue.fetch_and_import_stages(harvester, obj)
        if done % 200 == 0:
            model.Session.remove()  # keep memory flat on large sources
        if progress:
            progress(done, total)
    tk.get_action("harvest_jobs_run")(_api(), {"source_id": source.id})
    result = summary(job.id)
    result.duration = round(time.monotonic() - started, 3)
    return result


def latest_job_id(source_id: str) -> str | None:
    row = model.Session.execute(
        sa.select(HarvestJob.id)
        .where(HarvestJob.source_id == source_id)
        .order_by(HarvestJob.created.desc())
        .limit(1)
    ).first()
    return str(row[0]) if row else None


def confirmable(source_id: str, job_id: str) -> str | None:
    """Why the removals a job held back cannot be confirmed (None: they can).

    Only the source's latest job may be confirmed, so that a report left open
    in a browser never confirms removals that a later run did not show.
    """
    job = HarvestJob.get(job_id)
    if job is None or job.source_id != source_id:
        return f"Job {job_id} is not a job of this source."
    if latest_job_id(source_id) != job.id:
        return (
            "A later run replaced this report; confirm the removals from the latest job's report."
        )
    if not held_back(job.id):
        return f"Job {job_id} held no removals back; there is nothing to confirm."
    return None


def _status(job_id: str) -> str:
    """The job's status as stored now (the session may hold an older copy)."""
    row = model.Session.execute(
        sa.text("SELECT status FROM harvest_job WHERE id = :id"), {"id": job_id}
    ).first()
    return str(row[0]) if row else "Finished"


def import_one(harvester: PipelineHarvester, obj: HarvestObject) -> bool:
    """Import one object of this process's run (gathered for it, so no worker
    takes it); the object ends as a worker's would (:meth:`Import.complete`).
    There is nothing to fetch: the payload was stored at gather time."""
    started = dt.datetime.utcnow()
    obj.fetch_started = obj.fetch_finished = obj.import_started = started
    obj.state = "IMPORT"
    return Import(harvester.backend, obj).complete()


SUMMARY_SQL = sa.text(
    """
    SELECT o.state, o.report_status, e.value, count(*)
    FROM harvest_object o
    LEFT JOIN harvest_object_extra e ON e.harvest_object_id = o.id AND e.key = :action
    WHERE o.harvest_job_id = :job
    GROUP BY 1, 2, 3
    """
)

DONE = {
    "create": "created",
    "update": "updated",
    "restore": "restored",
    "archive": "archived",
    "delete": "deleted",
}


#: Records with notes shown per job (the rest is counted, not listed).
NOTES_SHOWN = 200

NOTES_SQL = sa.text(
    """
    SELECT o.guid, o.package_id, p.title, e.value
    FROM harvest_object o
    JOIN harvest_object_extra e ON e.harvest_object_id = o.id AND e.key = :key
    LEFT JOIN package p ON p.id = o.package_id
    WHERE o.harvest_job_id = :job
    ORDER BY o.guid
    LIMIT :limit
    """
)


def job_notes(job_id: str, limit: int = NOTES_SHOWN) -> list[dict[str, Any]]:
    """What the mapping of each record of a job left out (dropped groups, tags,
    extras named like dataset fields, sizes that are not numbers, withheld records)."""
    rows = model.Session.execute(NOTES_SQL, {"job": job_id, "key": store.NOTES, "limit": limit})
    return [
        {"guid": guid, "package_id": package_id, "title": title, "notes": json.loads(value)}
        for guid, package_id, title, value in rows
    ]


def summary(job_id: str) -> Summary:
    job = HarvestJob.get(job_id)
    if job is None:
        raise RunError(f"No harvest job {job_id!r}.")
    model.Session.refresh(job)  # ckanext-harvest may leave a string in job.finished
    result = Summary(job_id=job.id, source_id=job.source_id, status=job.status)
    rows = model.Session.execute(SUMMARY_SQL, {"job": job.id, "action": store.ACTION})
    for state, report_status, action, count in rows:
        if state == "ERROR":
            result.errored += count
        elif report_status == "not modified":
            result.unchanged += count
        elif state == "COMPLETE" and action in DONE:
            setattr(result, DONE[action], getattr(result, DONE[action]) + count)
        elif state == "COMPLETE" and report_status in ("added", "updated", "deleted"):
            # Objects of harvesters that are not harvestplus's.
            name = {"added": "created", "updated": "updated", "deleted": "deleted"}[report_status]
            setattr(result, name, getattr(result, name) + count)
    row = model.Session.execute(
        sa.text("SELECT plan, guard FROM harvestplus_job WHERE job_id = :id"), {"id": job.id}
    ).first()
    if row is not None:
        plan_counts = row[0] or {}
        result.kept = sum(plan_counts.get(k, 0) for k in ("keep", "wait", "mark_missing"))
        result.guard = row[1]
    result.errors = [e.message for e in job.gather_errors]
    result.notes = job_notes(job.id)
    if job.gather_started and job.finished:
        result.duration = (job.finished - job.gather_started) / dt.timedelta(seconds=1)
    return result
