"""Harvest jobs: their options and plan (``harvestplus_job``), status and outcome.

``harvestplus_job`` keeps what ckanext-harvest's ``harvest_job`` has no column
for: the options an admin gave the run (:class:`~ckanext.harvestplus.types.RunOptions`),
and the plan its gather stage made (counts per action, the identities the
mass-deletion guard held back, the settings digest) with the guard's reason.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from ckan import model
from ckanext.harvest.model import HarvestJob

from ckanext.harvestplus.store.objects import ACTION, NOTES
from ckanext.harvestplus.types import JobStatus, RunOptions


def save_options(job_id: str, options: RunOptions) -> None:
    """Remember an admin's options for a run (no commit)."""
    model.Session.execute(
        sa.text(
            "INSERT INTO harvestplus_job (job_id, force, confirmed, confirm_job, in_process) "
            "VALUES (:id, :f, :c, :j, :p) ON CONFLICT (job_id) "
            "DO UPDATE SET force = :f, confirmed = :c, confirm_job = :j, in_process = :p"
        ),
        {
            "id": job_id,
            "f": options.force,
            "c": options.confirmed,
            "j": options.confirm_job,
            "p": options.in_process,
        },
    )


def held_back(job_id: str) -> frozenset[str]:
    """The identities whose removal the guard held back in a job."""
    row = model.Session.execute(
        sa.text("SELECT plan -> 'held' FROM harvestplus_job WHERE job_id = :id"), {"id": job_id}
    ).first()
    return frozenset(row[0] or ()) if row else frozenset()


def options(job: HarvestJob) -> RunOptions:
    """The options of a job, as saved when it was created (ckanext-harvest's own
    ``force_import`` counts as ``force``)."""
    row = model.Session.execute(
        sa.text(
            "SELECT force, confirmed, confirm_job, in_process FROM harvestplus_job "
            "WHERE job_id = :id"
        ),
        {"id": job.id},
    ).first()
    force = bool(getattr(job, "force_import", False)) or bool(row and row[0])
    if row is None:
        return RunOptions(force=force)
    confirm_job = row[2]
    return RunOptions(
        force=force,
        confirmed=bool(row[1]),
        confirm_job=confirm_job,
        confirmed_ids=held_back(confirm_job) if confirm_job else frozenset(),
        in_process=bool(row[3]),
    )


def save_plan(job_id: str, options: RunOptions, plan: dict[str, Any], guard: str | None) -> None:
    """The plan a gather made, and the guard's reason (no commit)."""
    model.Session.execute(
        sa.text(
            "INSERT INTO harvestplus_job (job_id, force, confirmed, plan, guard) "
            "VALUES (:id, :f, :c, CAST(:plan AS jsonb), :guard) ON CONFLICT (job_id) "
            "DO UPDATE SET plan = CAST(:plan AS jsonb), guard = :guard"
        ),
        {
            "id": job_id,
            "f": options.force,
            "c": options.confirmed,
            "plan": json.dumps(plan),
            "guard": guard,
        },
    )


def plan_of(job_id: str) -> tuple[dict[str, Any], str | None] | None:
    """The plan counts and the guard's reason of a job (None: no plan was saved)."""
    row = model.Session.execute(
        sa.text("SELECT plan, guard FROM harvestplus_job WHERE job_id = :id"), {"id": job_id}
    ).first()
    return None if row is None else (row[0] or {}, row[1])


def status(job_id: str, missing: str = JobStatus.FINISHED) -> str:
    """A job's status as committed now (the session may hold an older copy);
    ``missing`` for a job that does not exist."""
    value = model.Session.execute(
        sa.select(HarvestJob.status).where(HarvestJob.id == job_id)
    ).scalar()
    return str(value) if value is not None else missing


#: Finish a running job once gathered and every object is done, in one statement.
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


def finish_if_done(job_id: str) -> str | None:
    """Mark a running job Finished once gathered and every object is done; the
    check and the update are one statement, so two workers finishing the same
    job at once finish it once. The job's source id, or None (no commit)."""
    row = model.Session.execute(FINISH_SQL, {"id": job_id}).first()
    return None if row is None else str(row[0])


def end(job_id: str, when: dt.datetime) -> bool:
    """Give a job that has not ended an end time; False when it had one (no commit)."""
    ended = model.Session.execute(
        sa.update(HarvestJob)
        .where(HarvestJob.id == job_id, HarvestJob.finished.is_(None))
        .values(finished=when)
        .returning(HarvestJob.id)
    ).first()
    return ended is not None


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


def progress(job_id: str) -> tuple[str, bool, int, int] | None:
    """A job's status, whether it was gathered, and its queued objects (total, done)."""
    row = model.Session.execute(PROGRESS_SQL, {"id": job_id}).first()
    return None if row is None else (str(row[0]), bool(row[1]), int(row[2]), int(row[3]))


def latest_job_id(source_id: str) -> str | None:
    row = model.Session.execute(
        sa.select(HarvestJob.id)
        .where(HarvestJob.source_id == source_id)
        .order_by(HarvestJob.created.desc())
        .limit(1)
    ).first()
    return str(row[0]) if row else None


def unfinished_jobs(source_id: str) -> int:
    """How many jobs of a source are new or running."""
    return int(
        model.Session.execute(
            sa.select(sa.func.count())
            .select_from(HarvestJob)
            .where(
                HarvestJob.source_id == source_id,
                HarvestJob.status.in_((JobStatus.NEW, JobStatus.RUNNING)),
            )
        ).scalar()
        or 0
    )


OUTCOMES_SQL = sa.text(
    """
    SELECT o.state, o.report_status, e.value, count(*)
    FROM harvest_object o
    LEFT JOIN harvest_object_extra e ON e.harvest_object_id = o.id AND e.key = :action
    WHERE o.harvest_job_id = :job
    GROUP BY 1, 2, 3
    """
)


def outcomes(job_id: str) -> Iterator[tuple[str, str | None, str | None, int]]:
    """Objects of a job counted by state, report status and planned action."""
    for state, report_status, action, count in model.Session.execute(
        OUTCOMES_SQL, {"job": job_id, "action": ACTION}
    ):
        yield state, report_status, action, int(count)


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


def notes(job_id: str, limit: int) -> list[dict[str, Any]]:
    """What the mapping of each record of a job left out: guid, package_id and
    title of its dataset here (or None), notes."""
    rows = model.Session.execute(NOTES_SQL, {"job": job_id, "key": NOTES, "limit": limit})
    return [
        {"guid": guid, "package_id": package_id, "title": title, "notes": json.loads(value)}
        for guid, package_id, title, value in rows
    ]
