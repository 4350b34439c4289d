"""The states, statuses and actions of harvesting, named once.

ckanext-harvest stores job statuses, object states and report statuses as
text; these enums are those texts (``StrEnum``: they compare equal to what
the database holds and can be written to it as they are).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class JobStatus(enum.StrEnum):
    """``harvest_job.status``."""

    NEW = "New"
    RUNNING = "Running"
    FINISHED = "Finished"
    ABORTED = "Aborted"


#: Statuses after which nothing more of a job runs.
ENDED = (JobStatus.FINISHED, JobStatus.ABORTED)


class ObjectState(enum.StrEnum):
    """``harvest_object.state``."""

    #: On the fetch queue, for any worker to take.
    WAITING = "WAITING"
    #: Taken by the process that gathered it (an in-process run, ``run --sync``).
    FETCH = "FETCH"
    #: Taken by a worker or a process, being imported.
    IMPORT = "IMPORT"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"


#: States an object ends in.
DONE = (ObjectState.COMPLETE, ObjectState.ERROR)


class ReportStatus(enum.StrEnum):
    """``harvest_object.report_status``: a record's line in ckanext-harvest's job report."""

    ADDED = "added"
    UPDATED = "updated"
    DELETED = "deleted"
    ERRORED = "errored"
    NOT_MODIFIED = "not modified"


class Action(enum.Enum):
    """What a run does with one remote identity (planned at gather, done at import)."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    RESTORE = "restore"  # archived here, listed again remotely
    MARK_MISSING = "mark_missing"  # vanished: its grace period starts now
    WAIT = "wait"  # vanished, grace period still running
    ARCHIVE = "archive"
    DELETE = "delete"
    KEEP = "keep"  # vanished, kept by policy (or already archived)


#: Actions that become an object on the fetch queue (a dataset write each).
QUEUED = (Action.CREATE, Action.UPDATE, Action.RESTORE, Action.ARCHIVE, Action.DELETE)
#: Actions that write a dataset from the record's content.
WRITES = (Action.CREATE, Action.UPDATE, Action.RESTORE)

#: ckanext-harvest's report status for what an object's import did.
REPORTED = {
    Action.CREATE: ReportStatus.ADDED,
    Action.UPDATE: ReportStatus.UPDATED,
    Action.RESTORE: ReportStatus.UPDATED,
    Action.ARCHIVE: ReportStatus.UPDATED,
    Action.DELETE: ReportStatus.DELETED,
}


@dataclass(frozen=True)
class RunOptions:
    """What an admin asked of one run; kept in its ``harvestplus_job`` row (see
    :mod:`ckanext.harvestplus.store.runs`), the one place every stage reads them
    from, whichever process runs it."""

    force: bool = False
    #: An admin confirmed every removal of this run (``--confirm``).
    confirmed: bool = False
    #: The held job whose removals an admin confirmed ("Confirm and run"); only
    #: those removals are confirmed (``confirmed_ids``, read from its plan).
    confirm_job: str | None = None
    confirmed_ids: frozenset[str] = frozenset()
    #: The run is made in one process (``run --sync``), not by the workers: its
    #: objects are that process's from the moment they are gathered.
    in_process: bool = False
