"""The gather stage: list the remote, map and hash every record once, plan the run.

One pass over the remote's listing, page by page. Every record read is mapped
and hashed here, and the plan (:func:`~ckanext.harvestplus.pipeline.plan.decide`)
says what each identity needs. What becomes of it is the sink's
(:mod:`~ckanext.harvestplus.pipeline.sinks`): for a job, harvest objects written
in one transaction (only records that need a write go to the fetch queue;
unchanged records get an object already complete, so the job report accounts
for every remote record); for a preview, a list of items and nothing written.

The import maps the stored record again rather than storing the mapped
dataset: the harvest object keeps the remote's own content (what
ckanext-harvest's pages show, and what ``ckan harvester import`` re-imports
from), and mapping is cheap next to a dataset write. What it does with the
record is what gather planned; it never decides again.
"""

from __future__ import annotations

import logging
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
from ckanext.harvestplus.pipeline.sinks import ObjectSink, Sink
from ckanext.harvestplus.store import objects, runs
from ckanext.harvestplus.types import QUEUED, Action, RunOptions

log = logging.getLogger(__name__)


def gather_job(backend: Backend, job: HarvestJob) -> list[str]:
    """Plan a job and write its objects; the ids of those for the fetch queue.

    On any failure nothing is written and the job's gather errors say why:
    returning no objects (rather than raising) lets the job finish like any
    other.
    """
    source = job.source
    options = runs.options(job)
    sink = ObjectSink(job, options)
    try:
        Gather(backend, source, options, sink).run()
    except sourceconfig.ConfigError as e:
        model.Session.rollback()
        HarvestGatherError.create(f"Invalid source configuration: {e}", job)
        return []
    except JobStopped:
        model.Session.rollback()
        log.info("Gather of source %s stopped", source.id)
        HarvestGatherError.create("Stopped while gathering; nothing was changed.", job)
        return []
    except Exception as e:
        model.Session.rollback()
        if isinstance(e, sa.exc.StatementError):  # no statement parameters in the log
            log.error("Gather of source %s failed: %s", source.id, describe(e))
        else:
            log.exception("Gather of source %s failed", source.id)
        HarvestGatherError.create(
            f"The gather stage failed, nothing was changed: {describe(e)}", job
        )
        return []
    return sink.queued_ids


class Gather:
    """One pass of the gather engine over a source, reporting to a sink.

    ``source`` needs ``id`` (empty for a source not saved yet: it holds
    nothing), ``url``, ``config`` and ``publisher_id``. Raises
    :class:`~.sourceconfig.ConfigError` for a bad configuration and
    :class:`~.errors.JobStopped` when the sink says the job was stopped.
    """

    def __init__(self, backend: Backend, source: Any, options: RunOptions, sink: Sink) -> None:
        self.backend, self.source, self.options, self.sink = backend, source, options, sink
        self.errors: list[str] = []
        self.now = context.now()

    def run(self) -> None:
        options = self.options
        cfg = sourceconfig.parse(self.source.config, self.backend.options)
        ctx = context.context_for(self.backend, self.source, options)
        held = objects.held(self.source.id) if self.source.id else {}
        # What shapes every mapped dataset besides the record itself: a record
        # last read under other settings is read again, whatever its date.
        digest = content_hash(
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
        self.sink.begin(digest, self.now)
        # Records a backend may skip reading when their modified date is unchanged:
        # only those held as active datasets (a restore needs the payload), last
        # read under these settings.
        ctx.known = {
            i: h.remote_modified
            for i, h in held.items()
            if h.package_state == "active"
            and h.archived_at is None
            and h.content_hash
            and h.settings_digest == digest
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
            self._page(page, ctx, held, locals_, remote)
            self.sink.page_done()
            if self.sink.stopped():
                raise JobStopped()
        if self.sink.stopped():
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
        self.sink.missing([held[i] for i in result.ids(Action.MARK_MISSING)])
        for action in (Action.ARCHIVE, Action.DELETE):
            for identity in result.ids(action):
                h = held[identity]
                self.sink.queued(action, identity, h, None, h.content_hash, [], None)
        self.sink.listed_again([held[i] for i in remote if i in held and held[i].missing_since])
        if result.guard:
            self.errors.append(result.guard)
        self.sink.planned(result, self.errors, listed=len(remote), complete=listing_complete)

    def _page(
        self,
        page: list[Record],
        ctx: SourceContext,
        held: dict[str, objects.Held],
        locals_: dict[str, plan.Local],
        remote: dict[str, str],
    ) -> None:
        hashes: dict[str, str] = {}
        records: dict[str, Record] = {}
        notes: dict[str, list[str]] = {}
        datasets: dict[str, dict[str, Any]] = {}
        for record in page:
            identity = record.identity
            if identity in remote or identity in hashes:
                continue  # listed twice (the remote's paging shifted); once is enough
            if record.payload is None:
                if identity in ctx.known:  # not re-read: unchanged since its last import
                    remote[identity] = held[identity].content_hash
                    self.sink.unchanged(record, held[identity], [], None)
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
                message = str(e) if isinstance(e, RecordError) else f"{type(e).__name__}: {e}"
                self.sink.failed(record, h, f"Could not map record {identity}: {message}")
                if identity in held:  # listed, so not vanished: keep it as it is
                    remote[identity] = held[identity].content_hash
                continue
            records[identity] = record
            notes[identity] = list(ctx.notes)
            datasets[identity] = mapped
        remote.update(hashes)
        page_plan = plan.decide(
            hashes,
            {i: locals_[i] for i in hashes if i in locals_},
            settings=plan.Settings(),
            now=self.now,
            force=self.options.force,
        )
        for identity, action in page_plan.actions.items():
            record, h = records[identity], held.get(identity)
            if action is Action.UNCHANGED and h is not None:
                self.sink.unchanged(record, h, notes[identity], datasets[identity])
            elif action in QUEUED:
                self.sink.queued(
                    action,
                    identity,
                    h,
                    record,
                    hashes[identity],
                    notes[identity],
                    datasets[identity],
                )

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
            listed = Record(record.identity, None, record.modified)
            self.sink.queued(Action.DELETE, record.identity, held, listed, "", [str(error)], None)
        else:
            self.sink.failed(record, held, f"Could not map record {record.identity}: {error}")
        if held is not None:
            remote[record.identity] = held.content_hash  # listed: no removal of its own
