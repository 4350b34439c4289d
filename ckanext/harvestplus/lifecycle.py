"""The end of a source's life, and the start of the next one at the same address.

What the CKAN guide promises, made true:

- *Delete source* keeps the source's datasets as ordinary local datasets:
  :func:`detach` takes them out of the source (no current harvest object, so
  no ``harvest_source_id``/``harvest_object_id`` in the index) and replaces the
  ``harvestplus_source_id`` provenance with a note of where they came from
  (``harvestplus_detached_from``, ``harvestplus_detached_at``).
- *Delete and clear source* and *Clear* remove them: :func:`clear` purges every
  dataset the source brought (through CKAN's ``dataset_purge``, one dataset per
  transaction together with the harvest objects that point at it), then the
  source's jobs and remaining objects. A failure half way leaves the rest for
  a second attempt; nothing points at a purged dataset.
- *Re-adding the source* finds the detached datasets of the same address and
  backend; :func:`adopt` attaches them to the new source instead of letting
  its first run create them again as ``name-2``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model
from ckanext.harvest.model import (
    HarvestGatherError,
    HarvestJob,
    HarvestObject,
    HarvestObjectError,
    HarvestObjectExtra,
    HarvestSource,
)

from ckanext.harvestplus import jobs
from ckanext.harvestplus.pipeline.context import PROVENANCE, site_context
from ckanext.harvestplus.store import objects

log = logging.getLogger(__name__)

DETACHED_FROM = PROVENANCE + "detached_from"
DETACHED_AT = PROVENANCE + "detached_at"
#: Provenance that only makes sense while a source holds the dataset.
SOURCE_EXTRAS = (PROVENANCE + "source_id",)
PAGE = 500


def normalized_url(url: str) -> str:
    return url.strip().rstrip("/")


def stop_jobs(source_id: str) -> int:
    """End the source's unfinished jobs and take them off the gather queue."""
    unfinished = model.Session.scalars(
        sa.select(HarvestJob.id).where(
            HarvestJob.source_id == source_id, HarvestJob.status.in_(("New", "Running"))
        )
    ).all()
    if unfinished:
        model.Session.execute(
            sa.update(HarvestJob)
            .where(HarvestJob.id.in_(unfinished))
            .values(status="Finished", finished=dt.datetime.utcnow())
        )
        model.Session.execute(
            sa.update(HarvestObject)
            .where(
                HarvestObject.harvest_job_id.in_(unfinished),
                HarvestObject.state.notin_(("COMPLETE", "ERROR")),
            )
            .values(state="ERROR", report_status="errored")
        )
    model.Session.commit()
    for job_id in unfinished:
        jobs.remove_from_gather_queue(job_id)
    return len(unfinished)


def held_packages(source_id: str) -> list[str]:
    """Datasets the source holds now (a current object points at them), not deleted."""
    rows = model.Session.execute(
        sa.select(HarvestObject.package_id)
        .join(model.Package, model.Package.id == HarvestObject.package_id)
        .where(
            HarvestObject.harvest_source_id == source_id,
            HarvestObject.current.is_(True),
            model.Package.state != "deleted",
        )
        .distinct()
    )
    return [str(r[0]) for r in rows]


def brought_packages(source_id: str) -> list[str]:
    """Every dataset the source's objects point at, unless another source holds it now."""
    mine = sa.select(HarvestObject.package_id).where(
        HarvestObject.harvest_source_id == source_id, HarvestObject.package_id.isnot(None)
    )
    held_elsewhere = sa.select(HarvestObject.package_id).where(
        HarvestObject.current.is_(True),
        HarvestObject.harvest_source_id != source_id,
        HarvestObject.package_id.isnot(None),  # NOT IN over a NULL matches nothing
    )
    rows = model.Session.execute(
        sa.select(model.Package.id).where(
            model.Package.id.in_(mine), model.Package.id.notin_(held_elsewhere)
        )
    )
    return [str(r[0]) for r in rows]


def detach(source_id: str) -> int:
    """Make the source's datasets ordinary local datasets; returns how many."""
    source = HarvestSource.get(source_id)
    origin = normalized_url(source.url) if source is not None else ""
    done = 0
    api = site_context()
    for package_id in held_packages(source_id):
        dataset = tk.get_action("package_show")(
            dict(api, for_update=True, use_cache=False), {"id": package_id}
        )
        dataset["extras"] = [
            e
            for e in dataset.get("extras") or []
            if not str(e.get("key", "")).startswith("harvest_")
            and e.get("key") not in (*SOURCE_EXTRAS, DETACHED_FROM, DETACHED_AT)
        ] + [
            {"key": DETACHED_FROM, "value": origin},
            {
                "key": DETACHED_AT,
                "value": dt.datetime.now(dt.timezone.utc).isoformat("T", "seconds"),
            },
        ]
        # The flip and the dataset write share one commit (package_update's), so
        # the index never sees a detached dataset still linked, or the reverse.
        _retire_objects(source_id, package_id)
        tk.get_action("package_update")(dict(api), dataset)
        done += 1
    return done


def _retire_objects(source_id: str, package_id: str) -> None:
    model.Session.execute(
        sa.update(HarvestObject)
        .where(
            HarvestObject.harvest_source_id == source_id,
            HarvestObject.package_id == package_id,
            HarvestObject.current.is_(True),
        )
        .values(current=False)
    )


def _delete_objects(where: Any) -> None:
    """Delete harvest objects matching ``where`` with their extras and errors (no commit)."""
    ids = sa.select(HarvestObject.id).where(where)
    for statement in (
        sa.delete(HarvestObjectError).where(HarvestObjectError.harvest_object_id.in_(ids)),
        sa.delete(HarvestObjectExtra).where(HarvestObjectExtra.harvest_object_id.in_(ids)),
        sa.delete(HarvestObject).where(where),
    ):
        model.Session.execute(statement.execution_options(synchronize_session=False))


def clear(source_id: str) -> int:
    """Purge every dataset the source brought, then its jobs and objects; returns
    how many datasets were purged."""
    stop_jobs(source_id)
    purged = 0
    api = site_context()
    for package_id in brought_packages(source_id):
        _delete_objects(HarvestObject.package_id == package_id)
        try:
            # dataset_purge commits, taking the object deletions with it.
            tk.get_action("dataset_purge")(dict(api), {"id": package_id})
        except tk.ObjectNotFound:
            model.Session.commit()
        purged += 1
    _delete_objects(HarvestObject.harvest_source_id == source_id)
    job_ids = sa.select(HarvestJob.id).where(HarvestJob.source_id == source_id)
    model.Session.execute(
        sa.delete(HarvestGatherError)
        .where(HarvestGatherError.harvest_job_id.in_(job_ids))
        .execution_options(synchronize_session=False)
    )
    model.Session.execute(
        sa.text(
            "DELETE FROM harvestplus_job WHERE job_id IN (SELECT id FROM harvest_job "
            "WHERE source_id = :source)"
        ),
        {"source": source_id},
    )
    model.Session.execute(
        sa.delete(HarvestJob)
        .where(HarvestJob.source_id == source_id)
        .execution_options(synchronize_session=False)
    )
    model.Session.commit()
    return purged


@dataclass(frozen=True)
class Detached:
    package_id: str
    name: str
    remote_id: str


def _search(fq: str) -> Iterator[dict[str, Any]]:
    start = 0
    api = site_context()
    while True:
        found = tk.get_action("package_search")(
            dict(api),
            {
                "fq": fq,
                "include_private": True,
                "rows": PAGE,
                "start": start,
                "sort": "name asc",
                "fl": "id,name,extras_harvestplus_remote_id,extras_harvestplus_backend",
            },
        )
        yield from found["results"]
        start += PAGE
        if start >= found["count"]:
            return


def adoptable(source_id: str) -> list[Detached]:
    """Detached datasets of this source's address and backend that no source holds,
    for remote records this source does not hold a dataset of yet."""
    source = HarvestSource.get(source_id)
    if source is None or not source.active:
        return []
    url = normalized_url(source.url).replace("\\", "\\\\").replace('"', '\\"')
    # package_search returns extras asked for in fl without their "extras_" prefix.
    candidates = [
        d
        for d in _search(f'extras_{DETACHED_FROM}:"{url}"')
        if d.get(f"{PROVENANCE}remote_id") and d.get(f"{PROVENANCE}backend") in (None, source.type)
    ]
    if not candidates:  # the usual case: no database query at all
        return []
    taken = set(objects.held(source_id))
    held = sa.select(HarvestObject.package_id).where(
        HarvestObject.current.is_(True),
        HarvestObject.package_id.in_([d["id"] for d in candidates]),
    )
    held_ids = {str(r[0]) for r in model.Session.execute(held)}
    found = [
        Detached(d["id"], d["name"], str(d[f"{PROVENANCE}remote_id"]))
        for d in candidates
        if d["id"] not in held_ids and d[f"{PROVENANCE}remote_id"] not in taken
    ]
    # The index may lag behind the database (or be another site's Solr core).
    alive = {
        str(r[0])
        for r in model.Session.execute(
            sa.select(model.Package.id).where(
                model.Package.id.in_([d.package_id for d in found]),
                model.Package.state != "deleted",
            )
        )
    }
    found = [d for d in found if d.package_id in alive]
    return found


def adopt(source_id: str) -> list[Detached]:
    """Attach the adoptable datasets to the source; its next run updates them from
    the remote (or removes them, as its deletion policy says)."""
    taken: set[str] = set()
    done = []
    api = site_context()
    for detached in adoptable(source_id):
        if detached.remote_id in taken:
            continue  # two detached datasets of one remote record: the first one
        dataset = tk.get_action("package_show")(
            dict(api, for_update=True, use_cache=False), {"id": detached.package_id}
        )
        dataset["extras"] = [
            e
            for e in dataset.get("extras") or []
            if e.get("key") not in (*SOURCE_EXTRAS, DETACHED_FROM, DETACHED_AT)
        ] + [{"key": PROVENANCE + "source_id", "value": source_id}]
        objects.attach(source_id, detached.remote_id, detached.package_id, action="adopt")
        model.Session.flush()
        tk.get_action("package_update")(dict(api), dataset)
        taken.add(detached.remote_id)
        done.append(detached)
    return done
