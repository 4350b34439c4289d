"""The gather stage: list the remote, map and hash every record once, plan the run.

One pass over the remote's listing, page by page. Every record is mapped and
hashed here; the plan (:func:`~ckanext.harvestplus.pipeline.plan.decide`) says
what each identity needs. Objects go to the fetch queue only for records that
need a write: creates, updates, restores, archives and deletions, with the
planned action and the content hash in their extras. Unchanged records get
one bulk-inserted object each, already complete and reported "not modified",
so that the job report accounts for every remote record without a dataset
write. Nothing is taken away from users at gather time and the gather writes
in one transaction: a gather that fails half way leaves the source as it was.

The import maps the stored record again rather than storing the mapped
dataset: the harvest object keeps the remote's own content (what
ckanext-harvest's pages show, and what ``ckan harvester import`` re-imports
from), and mapping is cheap next to a dataset write. What it does with the
record is what gather planned; it never decides again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

import sqlalchemy as sa
from ckan import model
from ckanext.harvest.model import HarvestGatherError, HarvestJob

from ckanext.harvestplus.backends.base import (
    Backend,
    Record,
    RecordError,
    RecordWithheld,
    SourceContext,
)
from ckanext.harvestplus.pipeline import context, plan, sourceconfig
from ckanext.harvestplus.pipeline.errors import JobStopped, describe
from ckanext.harvestplus.pipeline.hashing import content_hash
from ckanext.harvestplus.store import objects, runs
from ckanext.harvestplus.types import (
    ENDED,
    QUEUED,
    Action,
    ObjectState,
    ReportStatus,
    RunOptions,
)

log = logging.getLogger(__name__)


class Gather:
    """The gather stage of one job."""

    def __init__(self, backend: Backend, job: HarvestJob) -> None:
        self.backend, self.job, self.source = backend, job, job.source
        self.errors: list[str] = []
        self.object_rows: list[dict[str, Any]] = []
        self.extra_rows: list[dict[str, str]] = []
        self.queued: list[str] = []
        self.pending_errors: list[tuple[str, str]] = []
        #: Held objects whose record was re-read under the current settings.
        self.settings_read: list[str] = []
        self.config_digest = ""
        self.now = context.now()
        #: The state of objects for the fetch queue (or for the process running the job).
        self.queued_state = ObjectState.WAITING

    def run(self) -> list[str]:
        """Plan and write the job's objects; on any failure write nothing and say why.

        Returning no objects (rather than raising) lets the job finish like
        any other, with the failure in its gather errors.
        """
        try:
            return self._run()
        except JobStopped:
            model.Session.rollback()
            log.info("Gather of source %s stopped", self.source.id)
            HarvestGatherError.create("Stopped while gathering; nothing was changed.", self.job)
            return []
        except Exception as e:
            model.Session.rollback()
            if isinstance(e, sa.exc.StatementError):  # no statement parameters in the log
                log.error("Gather of source %s failed: %s", self.source.id, describe(e))
            else:
                log.exception("Gather of source %s failed", self.source.id)
            HarvestGatherError.create(
                f"The gather stage failed, nothing was changed: {describe(e)}", self.job
            )
            return []

    def _run(self) -> list[str]:
        options = runs.options(self.job)
        self.queued_state = ObjectState.FETCH if options.in_process else ObjectState.WAITING
        try:
            cfg = sourceconfig.parse(self.source.config, self.backend.config_keys)
            ctx = context.context_for(self.backend, self.source, options)
        except sourceconfig.ConfigError as e:
            HarvestGatherError.create(f"Invalid source configuration: {e}", self.job)
            return []
        held = objects.held(self.source.id)
        # What shapes every mapped dataset besides the record itself: a record
        # last read under other settings is read again, whatever its date.
        self.config_digest = content_hash(
            {
                "config": dict(cfg.raw),
                "owner": ctx.owner_org,
                "mapping": self.backend.mapping_version,
                "schema": {
                    "dataset": sorted(ctx.schema.dataset_fields),
                    "resource": sorted(ctx.schema.resource_fields),
                    "structured": sorted(ctx.schema.structured),
                },
            }
        )
        # Records a backend may skip reading when their modified date is unchanged:
        # only those held as active datasets (a restore needs the payload), last
        # read under these settings.
        ctx.known = {
            i: h.remote_modified
            for i, h in held.items()
            if h.package_state == "active"
            and h.archived_at is None
            and h.content_hash
            and h.settings_digest == self.config_digest
        }
        ctx.private_here = frozenset(i for i, h in held.items() if h.private)
        locals_ = {i: h.local() for i, h in held.items()}

        remote: dict[str, str] = {}
        listing_complete = True
        pages = iter(self.backend.listing(ctx))
        while True:
            try:
                page = next(pages)
            except StopIteration:
                break
            except Exception as e:  # any failure of the listing: keep what was listed
                listing_complete = False
                self.errors.append(f"The remote listing failed after {len(remote)} records: {e}")
                log.warning("Listing of source %s failed: %s", self.source.id, e)
                break
            self._page(page, ctx, held, locals_, remote, options)
            self._flush()
            if runs.status(self.job.id) in ENDED:
                raise JobStopped()
        if runs.status(self.job.id) in ENDED:
            raise JobStopped()

        result = plan.decide(
            remote,
            locals_,
            settings=cfg.settings,
            now=self.now,
            listing_complete=listing_complete,
            force=options.force,
            confirmed=options.confirmed,
            confirmed_ids=options.confirmed_ids,
        )
        self._removals(result, held)
        objects.clear_missing(
            held[i].object_id for i in remote if i in held and held[i].missing_since
        )
        if result.guard:
            self.errors.append(result.guard)
        self._save_plan(result, options)
        self._flush()
        model.Session.commit()
        for message in self.errors:
            HarvestGatherError.create(message, self.job)
        return self.queued

    def _flush(self) -> None:
        """Send the rows gathered so far, in the open transaction (memory stays flat)."""
        objects.set_extra(self.settings_read, objects.SETTINGS, self.config_digest)
        self.settings_read = []
        objects.insert_objects(self.object_rows, self.extra_rows)
        objects.insert_errors(self.pending_errors, stage="Gather")
        self.object_rows, self.extra_rows, self.pending_errors = [], [], []

    def _page(
        self,
        page: list[Record],
        ctx: SourceContext,
        held: dict[str, objects.Held],
        locals_: dict[str, plan.Local],
        remote: dict[str, str],
        options: RunOptions,
    ) -> None:
        hashes: dict[str, str] = {}
        records: dict[str, Record] = {}
        notes: dict[str, list[str]] = {}
        for record in page:
            identity = record.identity
            if identity in remote or identity in hashes:
                continue  # listed twice (the remote's paging shifted); once is enough
            if record.payload is None:
                if identity in ctx.known:  # not re-read: unchanged since its last import
                    remote[identity] = held[identity].content_hash
                    self._unchanged(record, held[identity])
                elif identity in held:  # listed but not read: leave it as it is
                    remote[identity] = held[identity].content_hash
                continue
            ctx.notes.clear()
            try:
                mapped = self.backend.map(record, ctx)
                hashes[identity] = context.digest(mapped, ctx, self.backend.provenance(record, ctx))
            except RecordWithheld as e:
                self._withheld(record, held.get(identity), e, remote)
                continue
            except Exception as e:
                h = held.get(identity)
                if h is not None and not h.private and self.backend.remote_private(record.payload):
                    # Unmappable, and private on the remote: not left public here.
                    reason = f"private on the remote and could not be mapped ({describe(e)})"
                    self._withheld(record, h, RecordWithheld(reason), remote)
                    continue
                self._failed(record, h, e)
                if identity in held:  # listed, so not vanished: keep it as it is
                    remote[identity] = held[identity].content_hash
                continue
            records[identity] = record
            notes[identity] = list(ctx.notes)
        remote.update(hashes)
        page_plan = plan.decide(
            hashes,
            {i: locals_[i] for i in hashes if i in locals_},
            settings=plan.Settings(),
            now=self.now,
            force=options.force,
        )
        for identity, action in page_plan.actions.items():
            record, h = records[identity], held.get(identity)
            if action is Action.UNCHANGED and h is not None:
                self._unchanged(record, h, notes[identity])
            elif action in QUEUED:
                self._queue(action, identity, h, record.payload, record.modified, hashes[identity])
                self._notes(self.queued[-1], notes[identity])

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
            "harvest_source_id": self.source.id,
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

    def _queue(
        self,
        action: Action,
        identity: str,
        held: objects.Held | None,
        payload: Any,
        modified: dt.datetime | None,
        content_hash_: str,
    ) -> None:
        content = None if payload is None else json.dumps(payload, ensure_ascii=False)
        package_id = held.package_id if held else None
        object_id = self._object(
            identity, package_id, modified, content=content, state=self.queued_state
        )
        self.extra_rows.append(objects.extra_row(object_id, objects.ACTION, action.value))
        if content_hash_:
            self.extra_rows.append(objects.extra_row(object_id, objects.HASH, content_hash_))
        if payload is not None:
            self.extra_rows.append(
                objects.extra_row(object_id, objects.SETTINGS, self.config_digest)
            )
        self.queued.append(object_id)

    def _notes(self, object_id: str, notes: list[str]) -> None:
        if notes:
            self.extra_rows.append(objects.extra_row(object_id, objects.NOTES, json.dumps(notes)))

    def _withheld(
        self,
        record: Record,
        held: objects.Held | None,
        error: RecordWithheld,
        remote: dict[str, str],
    ) -> None:
        """A record this site must not publish: a local copy the source holds is
        deleted now (whatever the deletion policy: it is listed, not vanished);
        otherwise the record is reported and left out."""
        if held is not None and held.package_state == "active":
            self._queue(Action.DELETE, record.identity, held, None, record.modified, "")
            self._notes(self.queued[-1], [str(error)])
        else:
            self._failed(record, held, error)
        if held is not None:
            remote[record.identity] = held.content_hash  # listed: no removal of its own

    def _unchanged(
        self, record: Record, held: objects.Held, notes: list[str] | None = None
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
        self._notes(object_id, notes or [])
        if record.payload is not None and held.settings_digest != self.config_digest:
            # Re-read under new settings and equal: not read again next time.
            self.settings_read.append(held.object_id)
        if (
            record.payload is not None
            and record.modified is not None
            and record.modified != held.remote_modified
        ):
            # Re-read but equal: remember the new date so it is not read again.
            objects.set_remote_modified(held.object_id, context.naive(record.modified))

    def _failed(self, record: Record, held: objects.Held | None, error: Exception) -> None:
        message = (
            str(error) if isinstance(error, RecordError) else f"{type(error).__name__}: {error}"
        )
        content = json.dumps(record.payload, ensure_ascii=False, default=str)
        object_id = self._object(
            record.identity,
            held.package_id if held else None,
            record.modified,
            content=content,
            state=ObjectState.ERROR,
            report_status=ReportStatus.ERRORED,
        )
        self.extra_rows.append(objects.extra_row(object_id, objects.ACTION, "map"))
        self.pending_errors.append(
            (object_id, f"Could not map record {record.identity}: {message}")
        )

    def _removals(self, result: plan.Plan, held: dict[str, objects.Held]) -> None:
        missing = [held[i].object_id for i in result.ids(Action.MARK_MISSING)]
        objects.set_missing(missing, self.now)
        for action in (Action.ARCHIVE, Action.DELETE):
            for identity in result.ids(action):
                h = held[identity]
                self._queue(action, identity, h, None, h.remote_modified, h.content_hash)
                if h.missing_since is not None:
                    self.extra_rows.append(
                        objects.extra_row(
                            self.queued[-1], objects.MISSING_SINCE, h.missing_since.isoformat()
                        )
                    )

    def _save_plan(self, result: plan.Plan, options: RunOptions) -> None:
        counts: dict[str, Any] = {a.value: n for a, n in result.counts.items()}
        counts["config_digest"] = self.config_digest
        counts["held"] = sorted(result.held)
        runs.save_plan(self.job.id, options, counts, result.guard)
