"""The shared harvest pipeline on ckanext-harvest's IHarvester, models and queues.

A harvester plugin is a :class:`PipelineHarvester` subclass naming its
:class:`~ckanext.harvestplus.pipeline.backend.Backend`. The three stages:

gather
    Lists the remote page by page, maps every record and hashes it, and plans
    the run against what the source holds (:func:`plan.decide`). Objects go to
    the fetch queue only for records that need a write: creates, updates,
    restores, archives and deletions. Unchanged records get one bulk-inserted
    object each, already complete and reported "not modified", so that the
    job report accounts for every remote record without a dataset write.
    Nothing is taken away from users at gather time and the gather writes in
    one transaction: a gather that fails half way leaves the source as it was.
fetch
    Nothing to do: the payload was stored at gather time.
import
    One dataset write per object, ordered so that a failure at any point
    leaves the dataset managed by its source (see :meth:`_delete`). Errors are
    recorded on the object after a rollback; the object ends in ERROR and the
    previous object stays current, so the next run retries.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model
from ckan.lib.plugins import lookup_package_plugin
from ckan.logic.schema import default_resource_schema
from ckanext.harvest.interfaces import IHarvester
from ckanext.harvest.model import HarvestGatherError, HarvestJob, HarvestObject, HarvestObjectError

from ckanext.harvestplus.pipeline import http, plan, sourceconfig, store
from ckanext.harvestplus.pipeline.backend import (
    Backend,
    Context,
    LocalSchema,
    Provenance,
    Record,
    RecordError,
    RecordWithheld,
)
from ckanext.harvestplus.pipeline.hashing import content_hash
from ckanext.harvestplus.pipeline.plan import Action

log = logging.getLogger(__name__)

#: Prefix of the provenance extras on every harvested dataset (indexed as extras_*).
PROVENANCE = "harvestplus_"
#: Actions that become an object on the fetch queue.
QUEUED = (Action.CREATE, Action.UPDATE, Action.RESTORE, Action.ARCHIVE, Action.DELETE)
ARCHIVE_REASON = "Not listed by the remote catalogue since {since}."
#: CKAN's longest dataset name.
NAME_MAX = 100


@dataclass(frozen=True)
class RunOptions:
    """What an admin asked of one run; kept in its ``harvestplus_job`` row, the one
    place every stage reads them from, whichever process runs it."""

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


def save_job_options(job_id: str, options: RunOptions) -> None:
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


def job_options(job: HarvestJob) -> RunOptions:
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


WITHHELD = (
    "private (on the remote, or by the source's settings), and this source has no "
    "organisation to keep it private in: not published here"
)


def settle(dataset: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The mapped dataset with its owner and privacy as they are written.

    The owner is the organisation the mapping chose (``remote_orgs``) or the
    source's. A dataset is private when the remote's is, or when the source
    says ``private``; CKAN keeps only an organisation's datasets private, so a
    record private on the remote with no organisation is withheld.
    """
    owner = str(dataset.get("owner_org") or ctx.owner_org or "")
    private = bool(dataset.get("private")) or bool(ctx.config.get("private", False))
    if private and not owner:
        raise RecordWithheld(WITHHELD)
    return {**dataset, "owner_org": owner, "private": private}


def written_hash(settled: dict[str, Any], found: Provenance) -> str:
    """The content hash of what a run writes: the settled dataset and the
    provenance that is not a date (so that a remote change of organisation or
    licence title alone is written too)."""
    stable = (found.remote_url, found.uri, found.organization, found.license_title)
    return content_hash({**settled, "__provenance": [*stable, found.license_url]})


def digest(dataset: dict[str, Any], ctx: Context, found: Provenance) -> str:
    return written_hash(settle(dataset, ctx), found)


def site_user() -> str:
    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return str(user["name"])


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    """UTC without tzinfo, as ckanext-harvest's timestamp columns hold it."""
    if value is None:
        return None
    if value.tzinfo:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def local_groups() -> frozenset[str]:
    rows = model.Session.query(model.Group.name).filter(
        model.Group.is_organization.is_(False), model.Group.state == "active"
    )
    return frozenset(r[0] for r in rows)


def local_orgs() -> frozenset[str]:
    rows = model.Session.query(model.Group.name).filter(
        model.Group.is_organization.is_(True), model.Group.state == "active"
    )
    return frozenset(r[0] for r in rows)


def _multiple(field: dict[str, Any]) -> bool:
    """Whether a ckanext-scheming field takes a list or an object as it is."""
    words = f"{field.get('preset', '')} {field.get('validators', '')}"
    return bool(field.get("repeating_subfields")) or "multiple" in words


def local_schema() -> LocalSchema:
    """This site's schema of the ``dataset`` type: ckanext-scheming's when that
    plugin is on, else CKAN's default one."""
    try:
        show = tk.get_action("scheming_dataset_schema_show")
    except KeyError:
        show = None
    if show is not None:
        try:
            schema = show({"ignore_auth": True}, {"type": "dataset"})
        except tk.ObjectNotFound:
            schema = None
        if schema:
            fields = [f for f in schema.get("dataset_fields", []) if f.get("field_name")]
            resource = [f for f in schema.get("resource_fields", []) if f.get("field_name")]
            return LocalSchema(
                dataset_fields=frozenset(f["field_name"] for f in fields) | dataset_fields(),
                resource_fields=frozenset(f["field_name"] for f in resource),
                structured=frozenset(f["field_name"] for f in fields + resource if _multiple(f)),
                scheming=True,
            )
    return LocalSchema(
        dataset_fields=dataset_fields(), resource_fields=frozenset(default_resource_schema())
    )


def dataset_fields() -> frozenset[str]:
    """Field names of this site's dataset schema (create and update)."""
    plugin = lookup_package_plugin()
    return frozenset({*plugin.create_package_schema(), *plugin.update_package_schema()})


def licences() -> dict[str, str]:
    """Licence id, URL and title (lower case) -> local licence id."""
    result: dict[str, str] = {}
    for licence in model.Package.get_license_register().values():
        for key in (licence.id, licence.url, licence.title):
            if key:
                result[str(key).strip().lower()] = licence.id
    return result


class PipelineHarvester(p.SingletonPlugin):
    """IHarvester for one backend; subclasses set :attr:`backend`."""

    p.implements(IHarvester)

    backend: Backend

    # IHarvester
    def info(self) -> dict[str, str]:
        return {
            "name": self.backend.name,
            "title": self.backend.title,
            "description": self.backend.description,
            "form_config_interface": "Text",
        }

    def validate_config(self, config: str | None) -> str | None:
        """Check a source config on save; every problem is listed in the error."""
        try:
            parsed = sourceconfig.parse(config, self.backend.config_keys)
            problems = self.backend.validate(parsed.raw)
        except sourceconfig.ConfigError as e:
            problems = e.problems
        else:
            org = parsed.organization
            if org and not _organization_id(org):
                problems.append(f"organization {org!r} does not exist on this site")
        if problems:
            raise ValueError("; ".join(problems))
        return config

    def get_original_url(self, harvest_object_id: str) -> str | None:
        obj = HarvestObject.get(harvest_object_id)
        if obj is None or not obj.package_id:
            return None
        package = model.Package.get(obj.package_id)
        return package.extras.get(PROVENANCE + "remote_url") if package is not None else None

    def gather_stage(self, harvest_job: HarvestJob) -> list[str]:
        return Gather(self.backend, harvest_job).run()

    def fetch_stage(self, harvest_object: HarvestObject) -> bool:
        return True

    def import_stage(self, harvest_object: HarvestObject) -> bool | str:
        return Import(self.backend, harvest_object).run()


def _organization_id(name_or_id: str) -> str | None:
    group = model.Group.get(name_or_id)
    if group is None or not group.is_organization or group.state != "active":
        return None
    return str(group.id)


def context_for(backend: Backend, source: Any, options: RunOptions) -> Context:
    """A backend context for one source; raises ConfigError for a bad config."""
    cfg = sourceconfig.parse(source.config, backend.config_keys)
    problems = backend.validate(cfg.raw)
    # The source dataset's organisation (ckanext-harvest leaves publisher_id empty).
    source_dataset = model.Package.get(source.id)
    owner = (source_dataset.owner_org if source_dataset else None) or source.publisher_id or ""
    if cfg.organization:
        owner = _organization_id(cfg.organization) or ""
        if not owner:
            problems.append(f"organization {cfg.organization!r} does not exist on this site")
    if problems:
        raise sourceconfig.ConfigError(problems)
    return Context(
        source_id=source.id,
        url=source.url.strip(),
        config=cfg.raw,
        policy=http.HttpPolicy.from_config(),
        force=options.force,
        owner_org=owner,
        local_groups=local_groups(),
        licences=licences(),
        schema=local_schema(),
        local_orgs=local_orgs(),
    )


class JobStopped(Exception):  # noqa: N818 (a state, like StopIteration)
    """An admin stopped the job while it was being gathered."""


def _stopped(job_id: str) -> bool:
    """Whether the job was stopped (by another process, committed) since it started."""
    status = model.Session.execute(
        sa.select(HarvestJob.status).where(HarvestJob.id == job_id)
    ).scalar()
    return status in ("Finished", "Aborted")


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
        self.now = now()
        #: The state of objects for the fetch queue (or for the process running the job).
        self.queued_state = store.WAITING

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
        options = job_options(self.job)
        self.queued_state = store.IN_PROCESS if options.in_process else store.WAITING
        try:
            cfg = sourceconfig.parse(self.source.config, self.backend.config_keys)
            ctx = context_for(self.backend, self.source, options)
        except sourceconfig.ConfigError as e:
            HarvestGatherError.create(f"Invalid source configuration: {e}", self.job)
            return []
        held = store.held(self.source.id)
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
            if _stopped(self.job.id):
                raise JobStopped()
        if _stopped(self.job.id):
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
        store.clear_missing(
            held[i].object_id for i in remote if i in held and held[i].missing_since
        )
        if result.guard:
            self.errors.append(result.guard)
        self._save_plan(result)
        self._flush()
        model.Session.commit()
        for message in self.errors:
            HarvestGatherError.create(message, self.job)
        return self.queued

    def _flush(self) -> None:
        """Send the rows gathered so far, in the open transaction (memory stays flat)."""
        store.set_extra(self.settings_read, store.SETTINGS, self.config_digest)
        self.settings_read = []
        store.insert_objects(self.object_rows, self.extra_rows)
        store.insert_errors(self.pending_errors, stage="Gather")
        self.object_rows, self.extra_rows, self.pending_errors = [], [], []

    def _page(
        self,
        page: list[Record],
        ctx: Context,
        held: dict[str, store.Held],
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
                hashes[identity] = digest(mapped, ctx, self.backend.provenance(record, ctx))
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
            "gathered": _naive(self.now),
            "content": None,
            "state": "WAITING",
            "metadata_modified_date": _naive(modified),
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
        held: store.Held | None,
        payload: Any,
        modified: dt.datetime | None,
        content_hash_: str,
    ) -> None:
        content = None if payload is None else json.dumps(payload, ensure_ascii=False)
        package_id = held.package_id if held else None
        object_id = self._object(
            identity, package_id, modified, content=content, state=self.queued_state
        )
        self.extra_rows.append(store.extra_row(object_id, store.ACTION, action.value))
        if content_hash_:
            self.extra_rows.append(store.extra_row(object_id, store.HASH, content_hash_))
        if payload is not None:
            self.extra_rows.append(store.extra_row(object_id, store.SETTINGS, self.config_digest))
        self.queued.append(object_id)

    def _notes(self, object_id: str, notes: list[str]) -> None:
        if notes:
            self.extra_rows.append(store.extra_row(object_id, store.NOTES, json.dumps(notes)))

    def _withheld(
        self,
        record: Record,
        held: store.Held | None,
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

    def _unchanged(self, record: Record, held: store.Held, notes: list[str] | None = None) -> None:
        done = _naive(self.now)
        object_id = self._object(
            record.identity,
            held.package_id,
            record.modified,
            state="COMPLETE",
            report_status="not modified",
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
            model.Session.execute(
                sa.text("UPDATE harvest_object SET metadata_modified_date = :m WHERE id = :id"),
                {"m": _naive(record.modified), "id": held.object_id},
            )

    def _failed(self, record: Record, held: store.Held | None, error: Exception) -> None:
        message = (
            str(error) if isinstance(error, RecordError) else f"{type(error).__name__}: {error}"
        )
        content = json.dumps(record.payload, ensure_ascii=False, default=str)
        object_id = self._object(
            record.identity,
            held.package_id if held else None,
            record.modified,
            content=content,
            state="ERROR",
            report_status="errored",
        )
        self.extra_rows.append(store.extra_row(object_id, store.ACTION, "map"))
        self.pending_errors.append(
            (object_id, f"Could not map record {record.identity}: {message}")
        )

    def _removals(self, result: plan.Plan, held: dict[str, store.Held]) -> None:
        missing = [held[i].object_id for i in result.ids(Action.MARK_MISSING)]
        store.set_missing(missing, self.now)
        for action in (Action.ARCHIVE, Action.DELETE):
            for identity in result.ids(action):
                h = held[identity]
                self._queue(action, identity, h, None, h.remote_modified, h.content_hash)
                if h.missing_since is not None:
                    self.extra_rows.append(
                        store.extra_row(
                            self.queued[-1], store.MISSING_SINCE, h.missing_since.isoformat()
                        )
                    )

    def _save_plan(self, result: plan.Plan) -> None:
        counts: dict[str, Any] = {a.value: n for a, n in result.counts.items()}
        counts["config_digest"] = self.config_digest
        counts["held"] = sorted(result.held)
        options = job_options(self.job)
        model.Session.execute(
            sa.text(
                "INSERT INTO harvestplus_job (job_id, force, confirmed, plan, guard) "
                "VALUES (:id, :f, :c, CAST(:plan AS jsonb), :guard) ON CONFLICT (job_id) "
                "DO UPDATE SET plan = CAST(:plan AS jsonb), guard = :guard"
            ),
            {
                "id": self.job.id,
                "f": options.force,
                "c": options.confirmed,
                "plan": json.dumps(counts),
                "guard": result.guard,
            },
        )


_CONTEXTS: dict[str, tuple[str, Context, str]] = {}


#: ckanext-harvest's report_status for what an object's import did.
REPORT_STATUS = {
    Action.CREATE.value: "added",
    Action.UPDATE.value: "updated",
    Action.RESTORE.value: "updated",
    Action.ARCHIVE.value: "updated",
    Action.DELETE.value: "deleted",
}


class Import:
    """The import stage of one object: one dataset write, crash-safe."""

    def __init__(self, backend: Backend, obj: HarvestObject) -> None:
        self.backend, self.obj, self.source = backend, obj, obj.source
        #: Whether the object's end state is written with its dataset (:meth:`complete`).
        self.finish = False

    def complete(self) -> bool:
        """Import the object and record how it ended: the importer of every
        harvestplus run, queued (the fetch worker) or in one process (``run
        --sync``).

        The object's end state (COMPLETE and its report status) is written in
        the commit that writes its dataset, or for a deletion in the commit that
        flips the objects after ``package_delete``: a crash at any point leaves
        the object as it was before or as it is after, never half way. A failure
        ends it in ERROR, with the reason in the job report.
        """
        self.finish = True
        ok = self.run()
        if not ok:
            obj = self.obj
            obj.state, obj.report_status = "ERROR", "errored"
            obj.import_finished = dt.datetime.utcnow()
            model.Session.add(obj)
            model.Session.commit()
        return ok

    def _finished(self, action: str) -> None:
        """With :meth:`complete`, the object's end state, written with the dataset."""
        if self.finish:
            self.obj.state, self.obj.report_status = "COMPLETE", REPORT_STATUS[action]

    def run(self, action: str | None = None) -> bool:
        obj = self.obj
        if action is None:
            action = store.extras_of(obj.id).get(store.ACTION, "")
        try:
            if action == Action.DELETE.value:
                self._delete()
            elif action == Action.ARCHIVE.value:
                self._archive()
            elif action in (Action.CREATE.value, Action.UPDATE.value, Action.RESTORE.value):
                self._write(action)
            else:
                raise RuntimeError(f"object {obj.id} has no harvestplus action ({action!r})")
        except Exception as e:
            model.Session.rollback()
            message = describe(e)
            log.warning("Import of %s (%s) failed: %s", obj.guid, action, message)
            HarvestObjectError.create(f"{action or 'import'} failed: {message}", obj, "Import")
            if action in (Action.CREATE.value, Action.UPDATE.value, Action.RESTORE.value):
                self._protect()
            return False
        return True

    def _protect(self) -> None:
        """After a failed write: a record private on the remote is not left public
        here (made private, or deleted when it has no organisation)."""
        payload = json.loads(self.obj.content or "null")
        package_id = self.obj.package_id or store.last_package(self.source.id, self.obj.guid)
        package = model.Package.get(package_id) if package_id else None
        if (
            package is None
            or package.state != "active"
            or package.private
            or not self.backend.remote_private(payload)
        ):
            return
        try:
            if package.owner_org:
                tk.get_action("package_patch")(
                    self._api_context(), {"id": package.id, "private": True}
                )
            else:
                tk.get_action("package_delete")(self._api_context(), {"id": package.id})
        except Exception as e:
            model.Session.rollback()
            log.error("Could not take the public copy of %s down: %s", self.obj.guid, describe(e))

    def _api_context(self) -> dict[str, Any]:
        # return_id_only: the caller needs no package_show of what it just wrote.
        return {
            "model": model,
            "session": model.Session,
            "user": self._cached()[1],
            "ignore_auth": True,
            "return_id_only": True,
        }

    def _take_current(self) -> None:
        """Make this object the current one of its identity, in the open transaction."""
        obj = self.obj
        store.retire(self.source.id, obj.guid, keep=obj.id)
        obj.current = True
        obj.import_finished = dt.datetime.utcnow()  # ordering for ckanext-harvest's index hook
        model.Session.add(obj)
        model.Session.execute(sa.text("SET CONSTRAINTS harvest_object_package_id_fkey DEFERRED"))
        model.Session.flush()

    def _cached(self) -> tuple[Context, str]:
        """The source's context and the site user, looked up once per job."""
        cached = _CONTEXTS.get(self.source.id)
        if cached is None or cached[0] != self.obj.harvest_job_id:
            ctx = context_for(self.backend, self.source, RunOptions())
            cached = (self.obj.harvest_job_id, ctx, site_user())
            _CONTEXTS.clear()
            _CONTEXTS[self.source.id] = cached
        return cached[1], cached[2]

    def _context(self) -> Context:
        return self._cached()[0]

    def _write(self, action: str) -> None:
        obj = self.obj
        ctx = self._context()
        record = Record(
            identity=obj.guid,
            payload=json.loads(obj.content or "null"),
            modified=obj.metadata_modified_date,
        )
        ctx.notes.clear()
        dataset = settle(self.backend.map(record, ctx), ctx)
        found = self.backend.provenance(record, ctx)
        written = written_hash(dataset, found)
        known_id = obj.package_id or store.last_package(self.source.id, obj.guid)
        existing = model.Package.get(known_id) if known_id else None
        if existing is not None and action == Action.CREATE.value:
            # Its dataset was deleted and comes back: a restore, counted as one.
            action = Action.RESTORE.value
            _set_extra(obj, store.ACTION, action)
        package_id = str(existing.id) if existing is not None else str(uuid.uuid4())
        dataset["id"] = package_id
        dataset["name"] = _unique_name(dataset.get("name") or obj.guid, package_id, existing)
        dataset["owner_org"] = self._organization(dataset["owner_org"], record, ctx) or None
        self._groups(dataset, record, ctx)
        dataset["state"] = "active"
        dataset["extras"] = _without_provenance(dataset.get("extras")) + self._provenance(
            record, found
        )

        obj.package_id = package_id
        _set_extra(obj, store.HASH, written)
        self._finished(action)
        self._take_current()
        api = self._api_context()
        if existing is None:
            tk.get_action("package_create")(api, dataset)
        else:
            tk.get_action("package_update")(api, dataset)

    def _organization(self, owner: str, record: Record, ctx: Context) -> str:
        """The owner, created first when ``remote_orgs`` is ``create`` and this site
        does not have it yet (with the remote's title, description and image)."""
        if not owner or owner == ctx.owner_org or _organization_id(owner):
            return owner
        remote = record.payload.get("organization") if isinstance(record.payload, dict) else None
        about = remote if isinstance(remote, dict) else {}
        self._create_group("organization_create", owner, about)
        return owner

    def _groups(self, dataset: dict[str, Any], record: Record, ctx: Context) -> None:
        """With ``remote_groups: create``, the dataset's groups this site lacks are created."""
        if ctx.config.get("remote_groups") != "create":
            return
        payload = record.payload if isinstance(record.payload, dict) else {}
        remote = {g.get("name"): g for g in payload.get("groups") or [] if isinstance(g, dict)}
        for group in dataset.get("groups") or []:
            found = model.Group.get(group["name"])
            if found is None or found.state != "active" or found.is_organization:
                self._create_group("group_create", group["name"], remote.get(group["name"], {}))

    def _create_group(self, action: str, name: str, about: dict[str, Any]) -> None:
        """Create a group or organisation in the import's transaction (committed
        with the dataset, or not at all)."""
        data = {"name": name, "title": text_or(about.get("title"), name)}
        if isinstance(about.get("description"), str) and about["description"]:
            data["description"] = about["description"]
        image = about.get("image_display_url") or about.get("image_url")
        if isinstance(image, str) and image.startswith(("https://", "http://")):
            data["image_url"] = image  # a relative one is a file of the remote's
        context = dict(self._api_context(), return_id_only=False, defer_commit=True)
        try:
            tk.get_action(action)(context, data)
            model.Session.flush()
        except tk.ValidationError as e:
            kind = "organisation" if action == "organization_create" else "group"
            raise RecordError(
                f"could not create the remote's {kind} {name!r} here: {describe(e)}"
            ) from e

    def _provenance(self, record: Record, found: Provenance) -> list[dict[str, str]]:
        values = {
            "source_id": self.source.id,
            "backend": self.backend.name,
            "remote_id": record.identity,
            "remote_url": found.remote_url,
            "uri": found.uri,
            "remote_created": found.created,
            "remote_modified": found.modified,
            "remote_organization": found.organization,
            "license_title": found.license_title,
            "license_url": found.license_url,
            "last_harvest": now().isoformat(timespec="seconds"),
        }
        return [{"key": PROVENANCE + k, "value": v} for k, v in values.items() if v]

    def _archive(self) -> None:
        obj = self.obj
        api = self._api_context()
        # Gather copied the held object's missing mark onto this archive object.
        marked = store.extras_of(obj.id).get(store.MISSING_SINCE)
        since = store.parse_time(marked) or now()
        reason = ARCHIVE_REASON.format(since=since.date().isoformat())
        dataset, archived_at = archived_copy(api, obj.package_id, reason)
        _set_extra(obj, store.ARCHIVED_AT, archived_at)
        _set_extra(obj, store.ARCHIVE_REASON, reason)
        self._finished(Action.ARCHIVE.value)
        self._take_current()
        tk.get_action("package_update")(api, dataset)

    def _delete(self) -> None:
        """Delete first, then flip the objects in one commit.

        ``package_delete`` commits on its own and is idempotent, so a failure
        or a crash before the flip leaves the previous object current: the
        next run sees the identity still held, still vanished, and deletes
        again. Only once the dataset is gone does the source stop holding it.
        """
        obj = self.obj
        if obj.package_id:
            try:
                tk.get_action("package_delete")(self._api_context(), {"id": obj.package_id})
            except tk.ObjectNotFound:
                pass  # already gone: deleting is done
        store.retire(self.source.id, obj.guid, keep=obj.id)
        obj.current = False
        obj.state, obj.report_status = "COMPLETE", "deleted"  # in the same commit as the flip
        obj.import_finished = dt.datetime.utcnow()
        model.Session.add(obj)
        model.Session.commit()


def archived_copy(api: dict[str, Any], package_id: str, reason: str) -> tuple[dict[str, Any], str]:
    """The dataset as it is once archived (and the archive time): marked, made private."""
    # From the database, not the search index's copy (which carries index-only extras).
    show = dict(api, for_update=True, use_cache=False)
    dataset = tk.get_action("package_show")(show, {"id": package_id})
    dataset["extras"] = [
        e for e in dataset.get("extras", []) if not str(e.get("key", "")).startswith("harvest_")
    ]
    archived_at = now().isoformat(timespec="seconds")
    extras = [
        e for e in dataset.get("extras", []) if not e["key"].startswith(PROVENANCE + "archive")
    ]
    extras += [
        {"key": PROVENANCE + "archived_at", "value": archived_at},
        {"key": PROVENANCE + "archive_reason", "value": reason},
    ]
    dataset["extras"] = extras
    if dataset.get("owner_org"):
        dataset["private"] = True  # off the public catalogue, still there for admins
    return dataset, archived_at


def _set_extra(obj: HarvestObject, key: str, value: str) -> None:
    store.set_extra([obj.id], key, value)


def _without_provenance(extras: Any) -> list[dict[str, str]]:
    return [e for e in extras or [] if not str(e.get("key", "")).startswith(PROVENANCE)]


def _unique_name(wanted: str, package_id: str, existing: model.Package | None) -> str:
    """The remote's name unless another local dataset has it; never take one over."""
    base = re.sub(r"[^a-z0-9_-]+", "-", wanted.lower()).strip("-")[:NAME_MAX] or "dataset"
    base = base if len(base) >= 2 else f"{base}-dataset"
    if not store.name_taken(base, except_id=package_id):
        return base
    if existing is not None:
        return str(existing.name)
    for n in range(2, 1000):
        suffix = f"-{n}"
        candidate = base[: NAME_MAX - len(suffix)].rstrip("-") + suffix
        if not store.name_taken(candidate, except_id=package_id):
            return candidate
    return f"{base[: NAME_MAX - 9]}-{uuid.uuid4().hex[:8]}"


def text_or(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value.strip() else default


def describe(error: Exception) -> str:
    """An error as the job report and the log show it. A database error is its
    first line only: SQLAlchemy's text adds the statement and its parameters,
    which hold a dataset's content (and may hold what the remote kept private)."""
    if isinstance(error, tk.ValidationError):
        return f"validation error: {json.dumps(error.error_dict, default=str)}"
    if isinstance(error, sa.exc.StatementError):
        cause = error.orig if error.orig is not None else error
        lines = str(cause).strip().splitlines() if isinstance(cause, Exception) else []
        return f"database error: {lines[0] if lines else type(cause).__name__}"
    return str(error) or type(error).__name__
