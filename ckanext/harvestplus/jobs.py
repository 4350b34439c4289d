"""A harvest job's life on the queues: finishing it, stopping it, the periodic tick.

ckanext-harvest marks a job Finished only when ``ckan harvester run``
(``harvest_jobs_run``) next looks at it, and its "Stop" leaves a queued job's
message in the gather queue. Here a job is finished the moment its last
object is done, and a stopped job leaves the queue.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model
from ckanext.harvest import queue
from ckanext.harvest.model import HarvestGatherError, HarvestJob

from ckanext.harvestplus.pipeline.harvester import site_user

log = logging.getLogger(__name__)

#: Job statuses after which nothing more runs.
ENDED = ("Finished", "Aborted")

FINISH_SQL = sa.text(
    """
    UPDATE harvest_job j
    SET status = 'Finished',
        finished = GREATEST(
            (SELECT max(o.import_finished) FROM harvest_object o WHERE o.harvest_job_id = j.id),
            j.gather_finished)
    WHERE j.id = :id AND j.status = 'Running' AND j.gather_finished IS NOT NULL
      AND NOT EXISTS (
        SELECT 1 FROM harvest_object o
        WHERE o.harvest_job_id = j.id AND o.state NOT IN ('COMPLETE', 'ERROR'))
    RETURNING j.source_id
    """
)


@dataclass(frozen=True)
class Progress:
    status: str
    #: Whether the gather stage is over (``total`` is known).
    gathered: bool
    #: Objects of the job that need a write, and how many of them are done.
    total: int
    done: int


#: Objects that went through the fetch queue; those of unchanged records were
#: written complete at gather time (fetched "at" the moment they were gathered).
PROGRESS_SQL = sa.text(
    """
    SELECT j.status, j.gather_finished IS NOT NULL,
           count(o.id) FILTER (WHERE queued),
           count(o.id) FILTER (WHERE queued AND o.state IN ('COMPLETE', 'ERROR'))
    FROM harvest_job j
    LEFT JOIN LATERAL (
        SELECT o.id, o.state, o.fetch_started IS DISTINCT FROM o.gathered AS queued
        FROM harvest_object o WHERE o.harvest_job_id = j.id
    ) o ON true
    WHERE j.id = :id
    GROUP BY j.id
    """
)


def progress(job_id: str) -> Progress:
    """Where a queued job is: its status and, once gathered, objects done of total."""
    row = model.Session.execute(PROGRESS_SQL, {"id": job_id}).first()
    model.Session.rollback()  # read fresh on the next call
    if row is None:
        return Progress("Finished", True, 0, 0)
    return Progress(str(row[0]), bool(row[1]), int(row[2]), int(row[3]))


def local_now() -> str:
    """A timestamp as ckanext-harvest's queue keys hold it (local time, microseconds)."""
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")


def job_open(job_id: str) -> bool:
    """Whether a job has not ended (finished, stopped or timed out): a message of
    its popped from the gather or fetch queue should still run."""
    row = model.Session.execute(sa.select(HarvestJob.status).where(HarvestJob.id == job_id)).first()
    model.Session.rollback()
    # A job that does not exist is left to ckanext-harvest's callback, which says so.
    return row is None or row[0] not in ENDED


def _site_context() -> dict[str, Any]:
    return {"model": model, "session": model.Session, "user": site_user(), "ignore_auth": True}


def finish_if_done(job_id: str) -> bool:
    """Mark a running job Finished once gathered and every object is done.

    The check and the update are one statement, so two workers finishing the
    same job at once finish it once. Then, as ``harvest_jobs_run`` does, the
    source is reindexed and the status e-mails are sent.
    """
    row = model.Session.execute(FINISH_SQL, {"id": job_id}).first()
    model.Session.commit()
    if row is None:
        return False
    source_id = str(row[0])
    log.info("Job %s of source %s finished", job_id, source_id)
    context = _site_context()
    tk.get_action("harvest_source_reindex")(dict(context), {"id": source_id})
    _notify(context, source_id)
    return True


def _notify(context: dict[str, Any], source_id: str) -> None:
    """The summary and error e-mails ckanext-harvest sends for a finished job."""
    from ckanext.harvest.logic.action import update as harvest_update

    notify_all = tk.asbool(tk.config.get("ckan.harvest.status_mail.all"))
    notify_errors = tk.asbool(tk.config.get("ckan.harvest.status_mail.errored"))
    if not (notify_all or notify_errors):
        return
    status = tk.get_action("harvest_source_show_status")(dict(context), {"id": source_id})
    errored = status["last_job"]["stats"].get("errored", 0)
    if errored:
        harvest_update.send_error_email(dict(context), source_id, status)
    elif notify_all:
        harvest_update.send_summary_email(dict(context), source_id, status)


def record_stop(job_id: str, user: str) -> None:
    """Give a job that was stopped before it ended an end time, and a note of who
    stopped it when (a job that had ended already is left as it was)."""
    stopped = dt.datetime.utcnow()
    ended_now = model.Session.execute(
        sa.update(HarvestJob)
        .where(HarvestJob.id == job_id, HarvestJob.finished.is_(None))
        .values(finished=stopped)
        .returning(HarvestJob.id)
    ).first()
    if ended_now is None:
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
    tk.get_action("harvest_jobs_run")(_site_context(), {})
