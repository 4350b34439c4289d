"""The import stage: one dataset write per object, crash-safe, and its bookkeeping.

:meth:`Import.complete` is the importer of every harvestplus run: the fetch
worker calls it for a queued job's objects, ``run --sync`` for its own, and
ckanext-harvest's fetch consumer reaches :meth:`Import.run` through the
harvester's ``import_stage``. Each write is ordered so that a failure at any
point leaves the dataset managed by its source (see :meth:`Import._delete`).
Errors are recorded on the object after a rollback; the object ends in ERROR
and the previous object stays current, so the next run retries.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model
from ckanext.harvest.model import HarvestObject, HarvestObjectError

from ckanext.harvestplus.backends.base import (
    Backend,
    Provenance,
    Record,
    RecordError,
    SourceContext,
)
from ckanext.harvestplus.pipeline import context
from ckanext.harvestplus.pipeline.errors import describe
from ckanext.harvestplus.pipeline.hashing import written_hash
from ckanext.harvestplus.store import objects
from ckanext.harvestplus.types import (
    QUEUED,
    REPORTED,
    WRITES,
    Action,
    ObjectState,
    ReportStatus,
    RunOptions,
)

log = logging.getLogger(__name__)

ARCHIVE_REASON = "Not listed by the remote catalogue since {since}."
#: CKAN's longest dataset name.
NAME_MAX = 100


def import_one(backend: Backend, obj: HarvestObject) -> bool:
    """Import one object of this process's run (gathered for it, so no worker
    takes it); the object ends as a worker's would (:meth:`Import.complete`).
    There is nothing to fetch: the payload was stored at gather time."""
    started = dt.datetime.utcnow()
    obj.fetch_started = obj.fetch_finished = obj.import_started = started
    obj.state = ObjectState.IMPORT
    return Import(backend, obj).complete()


_CONTEXTS: dict[str, tuple[str, SourceContext, str]] = {}


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
            obj.state, obj.report_status = ObjectState.ERROR, ReportStatus.ERRORED
            obj.import_finished = dt.datetime.utcnow()
            model.Session.add(obj)
            model.Session.commit()
        return ok

    def _finished(self, action: Action) -> None:
        """With :meth:`complete`, the object's end state, written with the dataset."""
        if self.finish:
            self.obj.state, self.obj.report_status = ObjectState.COMPLETE, REPORTED[action]

    def run(self) -> bool:
        """Do what gather planned for the object (its ``harvestplus_action`` extra)."""
        obj = self.obj
        planned = objects.extras_of(obj.id).get(objects.ACTION, "")
        action = next((a for a in QUEUED if a.value == planned), None)
        try:
            if action is Action.DELETE:
                self._delete()
            elif action is Action.ARCHIVE:
                self._archive()
            elif action in WRITES:
                self._write(action)
            else:
                raise RuntimeError(f"object {obj.id} has no harvestplus action ({planned!r})")
        except Exception as e:
            model.Session.rollback()
            message = describe(e)
            log.warning("Import of %s (%s) failed: %s", obj.guid, planned, message)
            HarvestObjectError.create(f"{planned or 'import'} failed: {message}", obj, "Import")
            if action in WRITES:
                self._protect()
            return False
        return True

    def _protect(self) -> None:
        """After a failed write: a record private on the remote is not left public
        here (made private, or deleted when it has no organisation)."""
        payload = json.loads(self.obj.content or "null")
        package_id = self.obj.package_id or objects.last_package(self.source.id, self.obj.guid)
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
        objects.retire(self.source.id, obj.guid, keep=obj.id)
        obj.current = True
        obj.import_finished = dt.datetime.utcnow()  # ordering for ckanext-harvest's index hook
        model.Session.add(obj)
        objects.defer_package_check()
        model.Session.flush()

    def _cached(self) -> tuple[SourceContext, str]:
        """The source's context and the site user, looked up once per job."""
        cached = _CONTEXTS.get(self.source.id)
        if cached is None or cached[0] != self.obj.harvest_job_id:
            ctx = context.context_for(self.backend, self.source, RunOptions())
            cached = (self.obj.harvest_job_id, ctx, context.site_user())
            _CONTEXTS.clear()
            _CONTEXTS[self.source.id] = cached
        return cached[1], cached[2]

    def _context(self) -> SourceContext:
        return self._cached()[0]

    def _write(self, action: Action) -> None:
        obj = self.obj
        ctx = self._context()
        record = Record(
            identity=obj.guid,
            payload=json.loads(obj.content or "null"),
            modified=obj.metadata_modified_date,
        )
        ctx.notes.clear()
        dataset = context.settle(self.backend.map(record, ctx), ctx)
        found = self.backend.provenance(record, ctx)
        written = written_hash(dataset, found)
        known_id = obj.package_id or objects.last_package(self.source.id, obj.guid)
        existing = model.Package.get(known_id) if known_id else None
        if existing is not None and action is Action.CREATE:
            # Gather planned a create for a record this source held no current
            # object of; its dataset was deleted and comes back: a restore.
            action = Action.RESTORE
            _set_extra(obj, objects.ACTION, action.value)
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
        _set_extra(obj, objects.HASH, written)
        self._finished(action)
        self._take_current()
        api = self._api_context()
        if existing is None:
            tk.get_action("package_create")(api, dataset)
        else:
            tk.get_action("package_update")(api, dataset)

    def _organization(self, owner: str, record: Record, ctx: SourceContext) -> str:
        """The owner, created first when ``remote_orgs`` is ``create`` and this site
        does not have it yet (with the remote's title, description and image)."""
        if not owner or owner == ctx.owner_org or context.organization_id(owner):
            return owner
        remote = record.payload.get("organization") if isinstance(record.payload, dict) else None
        about = remote if isinstance(remote, dict) else {}
        self._create_group("organization_create", owner, about)
        return owner

    def _groups(self, dataset: dict[str, Any], record: Record, ctx: SourceContext) -> None:
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
            "last_harvest": context.now().isoformat(timespec="seconds"),
        }
        return [{"key": context.PROVENANCE + k, "value": v} for k, v in values.items() if v]

    def _archive(self) -> None:
        obj = self.obj
        api = self._api_context()
        # Gather copied the held object's missing mark onto this archive object.
        marked = objects.extras_of(obj.id).get(objects.MISSING_SINCE)
        since = objects.parse_time(marked) or context.now()
        reason = ARCHIVE_REASON.format(since=since.date().isoformat())
        dataset, archived_at = archived_copy(api, obj.package_id, reason)
        _set_extra(obj, objects.ARCHIVED_AT, archived_at)
        _set_extra(obj, objects.ARCHIVE_REASON, reason)
        self._finished(Action.ARCHIVE)
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
        objects.retire(self.source.id, obj.guid, keep=obj.id)
        obj.current = False
        # In the same commit as the flip.
        obj.state, obj.report_status = ObjectState.COMPLETE, ReportStatus.DELETED
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
    archived_at = context.now().isoformat(timespec="seconds")
    extras = [
        e
        for e in dataset.get("extras", [])
        if not e["key"].startswith(context.PROVENANCE + "archive")
    ]
    extras += [
        {"key": context.PROVENANCE + "archived_at", "value": archived_at},
        {"key": context.PROVENANCE + "archive_reason", "value": reason},
    ]
    dataset["extras"] = extras
    if dataset.get("owner_org"):
        dataset["private"] = True  # off the public catalogue, still there for admins
    return dataset, archived_at


def _set_extra(obj: HarvestObject, key: str, value: str) -> None:
    objects.set_extra([obj.id], key, value)


def _without_provenance(extras: Any) -> list[dict[str, str]]:
    return [e for e in extras or [] if not str(e.get("key", "")).startswith(context.PROVENANCE)]


def _unique_name(wanted: str, package_id: str, existing: model.Package | None) -> str:
    """The remote's name unless another local dataset has it; never take one over."""
    base = re.sub(r"[^a-z0-9_-]+", "-", wanted.lower()).strip("-")[:NAME_MAX] or "dataset"
    base = base if len(base) >= 2 else f"{base}-dataset"
    if not objects.name_taken(base, except_id=package_id):
        return base
    if existing is not None:
        return str(existing.name)
    for n in range(2, 1000):
        suffix = f"-{n}"
        candidate = base[: NAME_MAX - len(suffix)].rstrip("-") + suffix
        if not objects.name_taken(candidate, except_id=package_id):
            return candidate
    return f"{base[: NAME_MAX - 9]}-{uuid.uuid4().hex[:8]}"


def text_or(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value.strip() else default
