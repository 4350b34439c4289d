"""Where the gather engine's findings go: harvest objects of a job, or a preview.

:class:`ObjectSink` writes a job's objects in bulk in the open transaction
(flushed page by page, committed once at the end) and keeps the plan;
:class:`PreviewSink` collects what a run would do and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from ckan import model
from ckanext.harvest.model import HarvestGatherError, HarvestJob

from ckanext.harvestplus.backends.base import Record
from ckanext.harvestplus.pipeline import context, plan
from ckanext.harvestplus.store import objects, runs
from ckanext.harvestplus.types import ENDED, Action, ObjectState, ReportStatus, RunOptions


class Sink:
    """Where the gather engine reports; each method does nothing unless a sink
    needs it."""

    def begin(self, settings_digest: str, now: dt.datetime) -> None:
        """The run starts, under these settings (see :mod:`.gather`)."""

    def unchanged(
        self,
        record: Record,
        held: objects.Held,
        notes: list[str],
        dataset: dict[str, Any] | None,
    ) -> None:
        """A record equal to what the source holds (``dataset``: None when not re-read)."""

    def queued(
        self,
        action: Action,
        identity: str,
        held: objects.Held | None,
        record: Record | None,
        content_hash: str,
        notes: list[str],
        dataset: dict[str, Any] | None,
    ) -> None:
        """A write the import will make (a removal has no ``record``, a withheld
        record's deletion no payload)."""

    def failed(self, record: Record, held: objects.Held | None, message: str) -> None:
        """A record that could not be mapped."""

    def missing(self, held: list[objects.Held]) -> None:
        """Identities that vanished from the remote this run (their grace starts)."""

    def listed_again(self, held: list[objects.Held]) -> None:
        """Identities marked missing before, listed again."""

    def page_done(self) -> None:
        """A page of the listing is done."""

    def stopped(self) -> bool:
        """Whether the run was stopped meanwhile."""
        return False

    def planned(self, result: plan.Plan, errors: list[str], listed: int, complete: bool) -> None:
        """The run's plan, and the errors of the listing and the guard."""


class ObjectSink(Sink):
    """A job's harvest objects, bulk-inserted in the open transaction."""

    def __init__(self, job: HarvestJob, options: RunOptions) -> None:
        self.job, self.options = job, options
        self.source_id = job.source_id
        #: Objects for the fetch queue (or for the process running the job).
        self.queued_state = ObjectState.FETCH if options.in_process else ObjectState.WAITING
        self.queued_ids: list[str] = []
        self.object_rows: list[dict[str, Any]] = []
        self.extra_rows: list[dict[str, str]] = []
        self.errors: list[tuple[str, str]] = []
        #: Held objects whose record was re-read under the current settings.
        self.settings_read: list[str] = []
        self.digest = ""
        self.now = context.now()

    def begin(self, settings_digest: str, now: dt.datetime) -> None:
        self.digest, self.now = settings_digest, now

    def _object(
        self, identity: str, package_id: str | None, modified: dt.datetime | None, **values: Any
    ) -> str:
        object_id = str(uuid.uuid4())
        row = {
            "id": object_id,
            "guid": identity,
            "current": False,
            "gathered": context.naive(self.now),
            "content": None,
            "state": ObjectState.WAITING,
            "metadata_modified_date": context.naive(modified),
            "retry_times": 0,
            "harvest_job_id": self.job.id,
            "harvest_source_id": self.source_id,
            "package_id": package_id,
            "report_status": None,
            "fetch_started": None,
            "fetch_finished": None,
            "import_started": None,
            "import_finished": None,
        }
        row.update(values)
        self.object_rows.append(row)
        return object_id

    def _extra(self, object_id: str, key: str, value: str) -> None:
        self.extra_rows.append(objects.extra_row(object_id, key, value))

    def _notes(self, object_id: str, notes: list[str]) -> None:
        if notes:
            self._extra(object_id, objects.NOTES, json.dumps(notes))

    def unchanged(
        self,
        record: Record,
        held: objects.Held,
        notes: list[str],
        dataset: dict[str, Any] | None,
    ) -> None:
        done = context.naive(self.now)
        object_id = self._object(
            record.identity,
            held.package_id,
            record.modified,
            state=ObjectState.COMPLETE,
            report_status=ReportStatus.NOT_MODIFIED,
            fetch_started=done,
            fetch_finished=done,
            import_started=done,
            import_finished=done,
        )
        self._notes(object_id, notes)
        if record.payload is not None and held.settings_digest != self.digest:
            # Re-read under new settings and equal: not read again next time.
            self.settings_read.append(held.object_id)
        if (
            record.payload is not None
            and record.modified is not None
            and record.modified != held.remote_modified
        ):
            # Re-read but equal: remember the new date so it is not read again.
            objects.set_remote_modified(held.object_id, context.naive(record.modified))

    def queued(
        self,
        action: Action,
        identity: str,
        held: objects.Held | None,
        record: Record | None,
        content_hash: str,
        notes: list[str],
        dataset: dict[str, Any] | None,
    ) -> None:
        payload = record.payload if record is not None else None
        if record is not None:
            modified = record.modified
        else:
            modified = held.remote_modified if held is not None else None
        content = None if payload is None else json.dumps(payload, ensure_ascii=False)
        object_id = self._object(
            identity,
            held.package_id if held else None,
            modified,
            content=content,
            state=self.queued_state,
        )
        self._extra(object_id, objects.ACTION, action.value)
        if content_hash:
            self._extra(object_id, objects.HASH, content_hash)
        if payload is not None:
            self._extra(object_id, objects.SETTINGS, self.digest)
        if action in (Action.ARCHIVE, Action.DELETE) and held and held.missing_since:
            self._extra(object_id, objects.MISSING_SINCE, held.missing_since.isoformat())
        self._notes(object_id, notes)
        self.queued_ids.append(object_id)

    def failed(self, record: Record, held: objects.Held | None, message: str) -> None:
        object_id = self._object(
            record.identity,
            held.package_id if held else None,
            record.modified,
            content=json.dumps(record.payload, ensure_ascii=False, default=str),
            state=ObjectState.ERROR,
            report_status=ReportStatus.ERRORED,
        )
        self._extra(object_id, objects.ACTION, "map")
        self.errors.append((object_id, message))

    def missing(self, held: list[objects.Held]) -> None:
        objects.set_missing([h.object_id for h in held], self.now)

    def listed_again(self, held: list[objects.Held]) -> None:
        objects.clear_missing(h.object_id for h in held)

    def page_done(self) -> None:
        """Send the rows gathered so far, in the open transaction (memory stays flat)."""
        objects.set_extra(self.settings_read, objects.SETTINGS, self.digest)
        self.settings_read = []
        objects.insert_objects(self.object_rows, self.extra_rows)
        objects.insert_errors(self.errors, stage="Gather")
        self.object_rows, self.extra_rows, self.errors = [], [], []

    def stopped(self) -> bool:
        """Whether the job was stopped (by another process, committed) since it started."""
        return runs.status(self.job.id) in ENDED

    def planned(self, result: plan.Plan, errors: list[str], listed: int, complete: bool) -> None:
        counts: dict[str, Any] = {a.value: n for a, n in result.counts.items()}
        counts["config_digest"] = self.digest
        counts["held"] = sorted(result.held)
        runs.save_plan(self.job.id, self.options, counts, result.guard)
        self.page_done()
        model.Session.commit()
        for message in errors:
            HarvestGatherError.create(message, self.job)


@dataclass
class PreviewSink(Sink):
    """What a run would do, item by item; writes nothing."""

    #: Items kept (every record is counted in the plan).
    limit: int
    items: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    guard: str | None = None
    errors: list[str] = field(default_factory=list)
    listed: int = 0
    complete: bool = True

    def _item(self, identity: str, action: str, **values: Any) -> None:
        if len(self.items) < self.limit:
            self.items.append(
                {
                    "remote_id": identity,
                    "action": action,
                    "dataset": None,
                    "errors": [],
                    "notes": [],
                }
                | values
            )

    def unchanged(
        self,
        record: Record,
        held: objects.Held,
        notes: list[str],
        dataset: dict[str, Any] | None,
    ) -> None:
        self._item(record.identity, Action.UNCHANGED.value, dataset=dataset, notes=notes)

    def queued(
        self,
        action: Action,
        identity: str,
        held: objects.Held | None,
        record: Record | None,
        content_hash: str,
        notes: list[str],
        dataset: dict[str, Any] | None,
    ) -> None:
        self._item(identity, action.value, dataset=dataset, notes=notes)

    def failed(self, record: Record, held: objects.Held | None, message: str) -> None:
        self._item(record.identity, "error", errors=[message])
        self.errors.append(message)

    def planned(self, result: plan.Plan, errors: list[str], listed: int, complete: bool) -> None:
        self.counts = {
            a.value: n for a, n in sorted(result.counts.items(), key=lambda kv: kv[0].value)
        }
        self.guard, self.listed, self.complete = result.guard, listed, complete
        self.errors.extend(errors)
