"""A harvest job's life: run in this process or on the queues, finished, stopped, summed up.

:func:`run_sync` is what ``ckan harvestplus run SOURCE --sync`` and the
benchmark use: it creates a job like the queue would, gathers it with
ckanext-harvest's own ``queue.gather_stage`` and imports its objects with the
same importer as the fetch worker (:func:`~ckanext.harvestplus.pipeline.importer.import_one`),
so a synchronous run leaves exactly the records a queued one does.
:func:`summary` reads any job's outcome back.

ckanext-harvest marks a job Finished only when ``ckan harvester run``
(``harvest_jobs_run``) next looks at it, and its "Stop" leaves a queued job's
message in the gather queue. Here a job is finished the moment its last
object is done (:func:`finish_if_done`), and a stopped job leaves the queue.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model
from ckanext.harvest import queue
from ckanext.harvest.model import HarvestGatherError, HarvestJob, HarvestObject, HarvestSource

from ckanext.harvestplus.harvesters import PipelineHarvester
from ckanext.harvestplus.pipeline import context
from ckanext.harvestplus.pipeline.importer import import_one
from ckanext.harvestplus.store import objects, runs
from ckanext.harvestplus.types import ENDED, JobStatus, ObjectState, ReportStatus, RunOptions

#: Called with (objects done, objects to do) while a run imports.
ProgressCallback = Callable[[int, int], None]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    status: str
    #: Whether the gather stage is over (``total`` is known).
    gathered: bool
    #: Objects of the job that need a write, and how many of them are done.
    total: int
    done: int


def progress(job_id: str) -> Progress:
    """Where a queued job is: its status and, once gathered, objects done of total."""
    row = runs.progress(job_id)
    model.Session.rollback()  # read fresh on the next call
    if row is None:
        return Progress(JobStatus.FINISHED, True, 0, 0)
    return Progress(*row)


def local_now() -> str:
    """A timestamp as ckanext-harvest's queue keys hold it (local time, microseconds)."""
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")


def job_open(job_id: str) -> bool:
    """Whether a job has not ended (finished, stopped or timed out): a message of
    its popped from the gather or fetch queue should still run."""
    status = runs.status(job_id, missing="")
    model.Session.rollback()
    # A job that does not exist is left to ckanext-harvest's callback, which says so.
    return status not in ENDED


def finish_if_done(job_id: str) -> bool:
    """Mark a running job Finished once gathered and every object is done.

    The check and the update are one statement, so two workers finishing the
    same job at once finish it once. Then, as ``harvest_jobs_run`` does, the
    source is reindexed and the status e-mails are sent.
    """
    source_id = runs.finish_if_done(job_id)
    model.Session.commit()
    if source_id is None:
        return False
    log.info("Job %s of source %s finished", job_id, source_id)
    site = context.site_context()
    tk.get_action("harvest_source_reindex")(dict(site), {"id": source_id})
    _notify(site, source_id)
    return True


def _notify(site: dict[str, Any], source_id: str) -> None:
    """The summary and error e-mails ckanext-harvest sends for a finished job."""
    from ckanext.harvest.logic.action import update as harvest_update

    notify_all = tk.asbool(tk.config.get("ckan.harvest.status_mail.all"))
    notify_errors = tk.asbool(tk.config.get("ckan.harvest.status_mail.errored"))
    if not (notify_all or notify_errors):
        return
    status = tk.get_action("harvest_source_show_status")(dict(site), {"id": source_id})
    errored = status["last_job"]["stats"].get("errored", 0)
    if errored:
        harvest_update.send_error_email(dict(site), source_id, status)
    elif notify_all:
        harvest_update.send_summary_email(dict(site), source_id, status)


def record_stop(job_id: str, user: str) -> None:
    """Give a job that was stopped before it ended an end time, and a note of who
    stopped it when (a job that had ended already is left as it was)."""
    stopped = dt.datetime.utcnow()
    if not runs.end(job_id, stopped):
        model.Session.rollback()
        return
    model.Session.add(
        HarvestGatherError(
            harvest_job_id=job_id,
            message=f"Stopped by {user or 'an administrator'} at {stopped:%Y-%m-%d %H:%M} UTC.",
        )
    )
    model.Session.commit()


def remove_from_gather_queue(job_id: str) -> int:
    """Take a job's message out of the gather queue (Redis only); how many were removed."""
    if tk.config.get("ckan.harvest.mq.type", queue.MQ_TYPE) != "redis":
        return 0
    connection = queue.get_connection()
    key = queue.get_gather_routing_key()
    removed = int(connection.lrem(key, 0, json.dumps({"harvest_job_id": job_id})))
    connection.delete(f"{key}:{job_id}")
    return removed


def tick() -> None:
    """What ``ckan harvester run`` does: start scheduled jobs, finish or time out
    running ones, put lost messages back on the queues."""
    tk.get_action("harvest_jobs_run")(context.site_context(), {})


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


def run_sync(
    source_id_or_name: str,
    *,
    force: bool = False,
    confirmed: bool = False,
    confirm_job: str | None = None,
    progress: ProgressCallback | None = None,
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
    if runs.unfinished_jobs(source.id):
        raise RunError(
            f"Source {source_id_or_name!r} already has an unfinished job; wait for it or "
            f"abort it (ckan harvester job-abort {source.id})."
        )
    started = time.monotonic()
    job_dict = tk.get_action("harvest_job_create")(
        context.site_context(), {"source_id": source.id, "run": False}
    )
    job = HarvestJob.get(job_dict["id"])
    job.status = JobStatus.RUNNING
    options = RunOptions(
        force=force,
        confirmed=confirmed,
        confirm_job=confirm_job,
        confirmed_ids=runs.held_back(confirm_job) if confirm_job else frozenset(),
        in_process=True,
    )
    runs.save_options(job.id, options)
    job.save()

    object_ids = queue.gather_stage(harvester, job) or []
    total = len(object_ids)
    if progress:
        progress(0, total)
    for done, object_id in enumerate(object_ids, 1):
        if runs.status(job.id) in ENDED:
            # Stopped meanwhile: what is left ends in ERROR and the next run does it.
            objects.end_unimported(job.id, object_ids[done - 1 :])
            break
        obj = HarvestObject.get(object_id)
        if obj is None:
            continue
        if isinstance(harvester, PipelineHarvester):
            import_one(harvester.backend, obj)
        else:
            queue.fetch_and_import_stages(harvester, obj)
        if done % 200 == 0:
            model.Session.remove()  # keep memory flat on large sources
        if progress:
            progress(done, total)
    tk.get_action("harvest_jobs_run")(context.site_context(), {"source_id": source.id})
    result = summary(job.id)
    result.duration = round(time.monotonic() - started, 3)
    return result


def confirmable(source_id: str, job_id: str) -> str | None:
    """Why the removals a job held back cannot be confirmed (None: they can).

    Only the source's latest job may be confirmed, so that a report left open
    in a browser never confirms removals that a later run did not show.
    """
    job = HarvestJob.get(job_id)
    if job is None or job.source_id != source_id:
        return f"Job {job_id} is not a job of this source."
    if runs.latest_job_id(source_id) != job.id:
        return (
            "A later run replaced this report; confirm the removals from the latest job's report."
        )
    if not runs.held_back(job.id):
        return f"Job {job_id} held no removals back; there is nothing to confirm."
    return None


#: Records with notes shown per job (the rest is counted, not listed).
NOTES_SHOWN = 200


def job_notes(job_id: str, limit: int = NOTES_SHOWN) -> list[dict[str, Any]]:
    """What the mapping of each record of a job left out (dropped groups, tags,
    extras named like dataset fields, sizes that are not numbers, withheld records)."""
    return runs.notes(job_id, limit)


#: Summary counts of the report statuses of other harvesters' objects.
OTHERS = {
    ReportStatus.ADDED: "created",
    ReportStatus.UPDATED: "updated",
    ReportStatus.DELETED: "deleted",
}

DONE = {
    "create": "created",
    "update": "updated",
    "restore": "restored",
    "archive": "archived",
    "delete": "deleted",
}


def summary(job_id: str) -> Summary:
    job = HarvestJob.get(job_id)
    if job is None:
        raise RunError(f"No harvest job {job_id!r}.")
    model.Session.refresh(job)  # ckanext-harvest may leave a string in job.finished
    result = Summary(job_id=job.id, source_id=job.source_id, status=job.status)
    for state, report_status, action, count in runs.outcomes(job.id):
        if state == ObjectState.ERROR:
            result.errored += count
        elif report_status == ReportStatus.NOT_MODIFIED:
            result.unchanged += count
        elif state == ObjectState.COMPLETE and action in DONE:
            setattr(result, DONE[action], getattr(result, DONE[action]) + count)
        elif state == ObjectState.COMPLETE and report_status in OTHERS:
            # Objects of harvesters that are not harvestplus's.
            name = OTHERS[ReportStatus(report_status)]
            setattr(result, name, getattr(result, name) + count)
    planned = runs.plan_of(job.id)
    if planned is not None:
        plan_counts, result.guard = planned
        result.kept = sum(plan_counts.get(k, 0) for k in ("keep", "wait", "mark_missing"))
    result.errors = [e.message for e in job.gather_errors]
    result.notes = job_notes(job.id)
    if job.gather_started and job.finished:
        result.duration = (job.finished - job.gather_started) / dt.timedelta(seconds=1)
    return result
