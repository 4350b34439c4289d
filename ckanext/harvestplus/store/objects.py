"""What a source holds, read and written in bulk on ckanext-harvest's tables.

Per remote identity (``harvest_object.guid``) the *current* harvest object of
the source says which local dataset it is and, in the object's extras, the
content hash of what was imported, when the record went missing remotely and
when the dataset was archived. The object's ``metadata_modified_date`` keeps
the remote's modified date, so that a backend can skip re-reading records
that did not change.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from ckan import model
from ckanext.harvest.model import (
    HarvestJob,
    HarvestObject,
    HarvestObjectError,
    HarvestObjectExtra,
    HarvestSource,
)

from ckanext.harvestplus.pipeline.plan import Local
from ckanext.harvestplus.types import ENDED, ObjectState, ReportStatus

# Keys of harvest_object_extra written by the pipeline.
ACTION = "harvestplus_action"
HASH = "harvestplus_hash"
MISSING_SINCE = "harvestplus_missing_since"
ARCHIVED_AT = "harvestplus_archived_at"
ARCHIVE_REASON = "harvestplus_archive_reason"
FORCE = "harvestplus_force"
#: What the mapping of an object's record left out (a JSON list of lines).
NOTES = "harvestplus_notes"
#: The settings digest (source config, mapping, schema) a record was last read under.
SETTINGS = "harvestplus_settings_digest"


@dataclass(frozen=True)
class Held:
    """One identity the source holds: its current object and local dataset."""

    identity: str
    object_id: str
    package_id: str | None
    package_state: str | None
    content_hash: str
    remote_modified: dt.datetime | None
    missing_since: dt.datetime | None
    archived_at: dt.datetime | None
    #: Settings digest the record was last read under ("" when unknown).
    settings_digest: str = ""
    #: Whether the local dataset is private.
    private: bool = False

    def local(self) -> Local:
        return Local(
            content_hash=self.content_hash,
            archived=self.archived_at is not None,
            missing_since=self.missing_since,
            active=self.package_state == "active",
        )


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


HELD_SQL = sa.text(
    """
    SELECT o.guid, o.id, o.package_id, p.state, o.metadata_modified_date,
           max(e.value) FILTER (WHERE e.key = :hash) AS hash,
           max(e.value) FILTER (WHERE e.key = :missing) AS missing,
           max(e.value) FILTER (WHERE e.key = :archived) AS archived,
           max(e.value) FILTER (WHERE e.key = :settings) AS settings,
           coalesce(p.private, false)
    FROM harvest_object o
    LEFT JOIN package p ON p.id = o.package_id
    LEFT JOIN harvest_object_extra e
           ON e.harvest_object_id = o.id AND e.key IN (:hash, :missing, :archived, :settings)
    WHERE o.harvest_source_id = :source AND o.current
    GROUP BY o.id, p.state, p.private
    """
)


def held(source_id: str) -> dict[str, Held]:
    """Identity -> what the source holds for it (current objects only)."""
    rows = model.Session.execute(
        HELD_SQL,
        {
            "source": source_id,
            "hash": HASH,
            "missing": MISSING_SINCE,
            "archived": ARCHIVED_AT,
            "settings": SETTINGS,
        },
    )
    result: dict[str, Held] = {}
    for row in rows:
        guid, object_id, package_id, state, modified, hash_, missing, archived = row[:8]
        if modified is not None and modified.tzinfo is None:
            modified = modified.replace(tzinfo=dt.timezone.utc)
        result[guid] = Held(
            identity=guid,
            object_id=object_id,
            package_id=package_id,
            package_state=state,
            content_hash=hash_ or "",
            remote_modified=modified,
            missing_since=parse_time(missing),
            archived_at=parse_time(archived),
            settings_digest=row[8] or "",
            private=bool(row[9]),
        )
    return result


def last_package(source_id: str, identity: str) -> str | None:
    """The local dataset this source last wrote for an identity, current or not."""
    row = model.Session.execute(
        sa.text(
            "SELECT o.package_id FROM harvest_object o JOIN package p ON p.id = o.package_id "
            "WHERE o.harvest_source_id = :source AND o.guid = :guid "
            # never a dataset another source now holds
            "AND NOT EXISTS (SELECT 1 FROM harvest_object c WHERE c.package_id = o.package_id "
            "AND c.current AND c.harvest_source_id <> o.harvest_source_id) "
            "ORDER BY o.import_finished DESC NULLS LAST, o.gathered DESC LIMIT 1"
        ),
        {"source": source_id, "guid": identity},
    ).first()
    return row[0] if row else None


def set_extra(object_ids: list[str], key: str, value: str) -> None:
    """Give objects the extra ``key`` = ``value``, replacing theirs (no commit)."""
    if not object_ids:
        return
    model.Session.execute(
        sa.delete(HarvestObjectExtra)
        .where(HarvestObjectExtra.harvest_object_id.in_(object_ids))
        .where(HarvestObjectExtra.key == key)
        .execution_options(synchronize_session=False)
    )
    insert_objects([], [extra_row(i, key, value) for i in object_ids])


def insert_objects(
    rows: Iterable[Mapping[str, object]], extras: Iterable[Mapping[str, str]]
) -> None:
    """Bulk insert harvest objects and their extras (no commit)."""
    rows, extras = list(rows), list(extras)
    if rows:
        model.Session.execute(HarvestObject.__table__.insert(), rows)
    if extras:
        model.Session.execute(HarvestObjectExtra.__table__.insert(), extras)


def extra_row(object_id: str, key: str, value: str) -> dict[str, str]:
    return {"id": str(uuid.uuid4()), "harvest_object_id": object_id, "key": key, "value": value}


def set_missing(object_ids: Iterable[str], since: dt.datetime) -> None:
    ids = list(object_ids)
    if ids:
        insert_objects([], [extra_row(i, MISSING_SINCE, since.isoformat()) for i in ids])


def clear_missing(object_ids: Iterable[str]) -> None:
    ids = list(object_ids)
    if ids:
        model.Session.execute(
            sa.text(
                "DELETE FROM harvest_object_extra WHERE key = :key "
                "AND harvest_object_id = ANY(:ids)"
            ),
            {"key": MISSING_SINCE, "ids": ids},
        )


def retire(source_id: str, identity: str, keep: str) -> None:
    """Make every object of this source and identity except ``keep`` not current."""
    model.Session.execute(
        sa.text(
            "UPDATE harvest_object SET current = false WHERE harvest_source_id = :source "
            "AND guid = :guid AND id <> :keep AND current"
        ),
        {"source": source_id, "guid": identity, "keep": keep},
    )


def set_remote_modified(object_id: str, modified: dt.datetime | None) -> None:
    """Remember a record's new remote modified date on the object that holds it
    (re-read, found equal: not read again next time); no commit."""
    model.Session.execute(
        sa.update(HarvestObject)
        .where(HarvestObject.id == object_id)
        .values(metadata_modified_date=modified)
        .execution_options(synchronize_session=False)
    )


def queued_object(object_id: str) -> tuple[str, str, str] | None:
    """An object's job id, state and source type (None: no such object)."""
    row = model.Session.execute(
        sa.select(HarvestObject.harvest_job_id, HarvestObject.state, HarvestSource.type)
        .join(HarvestSource, HarvestSource.id == HarvestObject.harvest_source_id)
        .where(HarvestObject.id == object_id)
    ).first()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]))


def defer_package_check() -> None:
    """Check an object's dataset at commit, not at flush: the import points the
    object at a dataset that ``package_create`` inserts later in the transaction."""
    model.Session.execute(sa.text("SET CONSTRAINTS harvest_object_package_id_fkey DEFERRED"))


def extras_of(object_id: str) -> dict[str, str]:
    rows = model.Session.execute(
        sa.text("SELECT key, value FROM harvest_object_extra WHERE harvest_object_id = :id"),
        {"id": object_id},
    )
    return {k: v for k, v in rows}


#: What ended objects say that a job ended before they were imported.
NOT_IMPORTED = "The job ended before this record was imported; the next run imports it."


def claim(object_id: str) -> bool:
    """Take a queued object for this process and commit, so that no other worker
    imports it too (``ckan harvester run`` re-sends waiting objects, so the same
    object may be on the queue twice). False when it is not waiting any more, or
    its job has ended."""
    now = dt.datetime.utcnow()
    open_jobs = sa.select(HarvestJob.id).where(HarvestJob.status.notin_(ENDED))
    row = model.Session.execute(
        sa.update(HarvestObject)
        .where(
            HarvestObject.id == object_id,
            HarvestObject.state == ObjectState.WAITING,
            HarvestObject.harvest_job_id.in_(open_jobs),
        )
        .values(
            state=ObjectState.IMPORT,
            retry_times=HarvestObject.retry_times + 1,
            fetch_started=now,
            fetch_finished=now,
            import_started=now,
        )
        .returning(HarvestObject.id)
        .execution_options(synchronize_session=False)
    ).first()
    model.Session.commit()
    return row is not None


def end_unimported(job_id: str, object_ids: Iterable[str] | None = None) -> int:
    """End the objects of a job that were not imported (the job was stopped or timed
    out): ERROR, with a line saying so (committed). Limited to ``object_ids`` when
    given. How many were ended."""
    now = dt.datetime.utcnow()
    query = (
        sa.update(HarvestObject)
        .where(
            HarvestObject.harvest_job_id == job_id,
            HarvestObject.state.in_((ObjectState.WAITING, ObjectState.FETCH)),
        )
        .values(state=ObjectState.ERROR, report_status=ReportStatus.ERRORED, import_finished=now)
        .returning(HarvestObject.id)
        .execution_options(synchronize_session=False)
    )
    if object_ids is not None:
        query = query.where(HarvestObject.id.in_(list(object_ids)))
    ended = [r[0] for r in model.Session.execute(query)]
    insert_errors(((i, NOT_IMPORTED) for i in ended), stage="Import")
    model.Session.commit()
    return len(ended)


def name_taken(name: str, except_id: str | None = None) -> bool:
    query = model.Session.query(model.Package.id).filter(model.Package.name == name)
    if except_id:
        query = query.filter(model.Package.id != except_id)
    return model.Session.query(query.exists()).scalar()


def insert_errors(errors: Iterable[tuple[str, str]], stage: str) -> None:
    """Bulk insert object errors (object id, message); no commit."""
    rows = [
        {
            "id": str(uuid.uuid4()),
            "harvest_object_id": object_id,
            "message": message,
            "stage": stage,
            "line": None,
            "created": dt.datetime.utcnow(),
        }
        for object_id, message in errors
    ]
    if rows:
        model.Session.execute(HarvestObjectError.__table__.insert(), rows)


def attach(source_id: str, identity: str, package_id: str, action: str) -> str:
    """A current object of the source for an existing dataset, with no content
    hash, so that the next run that lists the record updates it (no commit)."""
    now = dt.datetime.utcnow()
    object_id = str(uuid.uuid4())
    insert_objects(
        [
            {
                "id": object_id,
                "guid": identity,
                "current": True,
                "gathered": now,
                "state": ObjectState.COMPLETE,
                "report_status": ReportStatus.NOT_MODIFIED,
                "import_finished": now,
                "harvest_source_id": source_id,
                "harvest_job_id": None,
                "package_id": package_id,
                "retry_times": 0,
            }
        ],
        [extra_row(object_id, ACTION, action)],
    )
    return object_id


# The checks below look at one source's objects, or at every source's when
# :source is NULL.
DUPLICATES_SQL = sa.text(
    """
    SELECT o.harvest_source_id, o.guid,
           array_agg(o.id ORDER BY o.import_finished DESC NULLS LAST, o.gathered DESC),
           array_agg(o.package_id ORDER BY o.import_finished DESC NULLS LAST, o.gathered DESC)
    FROM harvest_object o
    WHERE o.current AND (CAST(:source AS text) IS NULL OR o.harvest_source_id = :source)
    GROUP BY 1, 2 HAVING count(*) > 1
    """
)


def duplicates(source_id: str | None) -> list[tuple[str, str, list[str], list[str | None]]]:
    """Remote ids a source holds more than one current object for: source, remote
    id, the objects (latest first) and their datasets."""
    rows = model.Session.execute(DUPLICATES_SQL, {"source": source_id})
    return [(r[0], r[1], list(r[2]), list(r[3])) for r in rows]


SHARED_SQL = sa.text(
    """
    SELECT o.package_id, array_agg(DISTINCT o.harvest_source_id)
    FROM harvest_object o
    WHERE o.current AND o.package_id IS NOT NULL
    GROUP BY 1
    HAVING count(DISTINCT o.harvest_source_id) > 1
       AND bool_or(CAST(:source AS text) IS NULL OR o.harvest_source_id = :source)
    """
)


def shared(source_id: str | None) -> list[tuple[str, list[str]]]:
    """Datasets that more than one source holds: dataset, sources."""
    return [(r[0], sorted(r[1])) for r in model.Session.execute(SHARED_SQL, {"source": source_id})]


DANGLING_SQL = sa.text(
    """
    SELECT o.id, o.harvest_source_id, o.guid
    FROM harvest_object o
    LEFT JOIN package p ON p.id = o.package_id
    WHERE o.current AND p.id IS NULL AND o.guid <> ''
      AND (CAST(:source AS text) IS NULL OR o.harvest_source_id = :source)
    """
)


def dangling(source_id: str | None) -> list[tuple[str, str, str]]:
    """Current objects whose dataset is gone (purged): object, source, remote id."""
    rows = model.Session.execute(DANGLING_SQL, {"source": source_id})
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def retire_objects(object_ids: Iterable[str]) -> None:
    """Make objects not current (no commit)."""
    ids = list(object_ids)
    if ids:
        model.Session.execute(
            sa.update(HarvestObject)
            .where(HarvestObject.id.in_(ids))
            .values(current=False)
            .execution_options(synchronize_session=False)
        )


SCOPE_DATASETS_SQL = sa.text(
    """
    SELECT p.id, p.state, p.metadata_modified
    FROM package p
    WHERE p.id IN (
        SELECT o.package_id FROM harvest_object o
        WHERE o.package_id IS NOT NULL
          AND (CAST(:source AS text) IS NULL OR o.harvest_source_id = :source)
    )
    """
)


def datasets_of(source_id: str | None) -> dict[str, tuple[str, dt.datetime]]:
    """Every dataset a source's objects (current or not) point at: id -> (state,
    metadata_modified)."""
    rows = model.Session.execute(SCOPE_DATASETS_SQL, {"source": source_id})
    return {r[0]: (r[1], r[2]) for r in rows}


def source_ids(source_id: str | None) -> list[str]:
    """The ids of the sources in scope."""
    query = sa.select(HarvestSource.id)
    if source_id is not None:
        query = query.where(HarvestSource.id == source_id)
    return [str(r[0]) for r in model.Session.execute(query)]
