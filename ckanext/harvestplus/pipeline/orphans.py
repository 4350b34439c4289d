"""Datasets stranded by earlier runs or by other harvesters, and their repair.

An orphan is an active dataset that a source's harvest objects refer to while
no object of that source is current for its remote id: the source no longer
knows it holds the dataset, so no later run would update or delete it (the
defect described in DESIGN.md). Repairing hands each one back to its source,
as the source's deletion policy says:

``keep``
    re-attach: a current object points at the dataset again; the next run
    updates it if the remote still lists it and keeps it otherwise;
``archive``
    archive it now and re-attach it archived; the next run restores it if the
    remote still lists it;
``delete``
    delete it; if the remote still lists it, the next run brings the same
    dataset back.

Sources of other harvesters (not harvestplus's) are always re-attached, so
that their own harvester sees the dataset again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model
from ckanext.harvest.model import HarvestSource

from ckanext.harvestplus.pipeline import sourceconfig
from ckanext.harvestplus.pipeline.context import site_context
from ckanext.harvestplus.pipeline.plan import Policy
from ckanext.harvestplus.store import objects

ORPHANS_SQL = sa.text(
    """
    SELECT DISTINCT ON (o.harvest_source_id, o.package_id)
           o.harvest_source_id, o.package_id, o.guid, p.name
    FROM harvest_object o
    JOIN package p ON p.id = o.package_id AND p.state = 'active' AND p.type <> 'harvest'
    -- a deleted source's datasets were detached on purpose
    JOIN harvest_source s ON s.id = o.harvest_source_id AND s.active
    WHERE (CAST(:source AS text) IS NULL OR o.harvest_source_id = :source)
      AND o.guid <> ''
      AND NOT EXISTS (
          SELECT 1 FROM harvest_object c
          WHERE c.harvest_source_id = o.harvest_source_id AND c.guid = o.guid AND c.current
      )
      AND NOT EXISTS (  -- held by another source now: not this source's orphan
          SELECT 1 FROM harvest_object c
          WHERE c.package_id = o.package_id AND c.current
            AND c.harvest_source_id <> o.harvest_source_id
      )
    ORDER BY o.harvest_source_id, o.package_id, o.import_finished DESC NULLS LAST
    """
)


@dataclass(frozen=True)
class Orphan:
    source_id: str
    package_id: str
    name: str
    remote_id: str
    #: What the repair did ("reattached", "archived", "deleted") or would do.
    action: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _policy(source: HarvestSource) -> Policy | None:
    """The source's deletion policy, or None for sources of other harvesters."""
    from ckanext.harvest import queue

    from ckanext.harvestplus.harvesters import PipelineHarvester

    if not isinstance(queue.get_harvester(source.type), PipelineHarvester):
        return None
    try:
        return Policy(sourceconfig.loads(source.config).get("deletion_policy", "archive"))
    except (sourceconfig.ConfigError, ValueError):
        return Policy.KEEP


def find(source_id: str | None = None) -> list[Orphan]:
    rows = model.Session.execute(ORPHANS_SQL, {"source": source_id}).fetchall()
    sources: dict[str, HarvestSource | None] = {}
    found = []
    for source_id_, package_id, guid, name in rows:
        if source_id_ not in sources:
            sources[source_id_] = HarvestSource.get(source_id_)
        source = sources[source_id_]
        policy = _policy(source) if source is not None else None
        action = {Policy.ARCHIVE: "archive", Policy.DELETE: "delete"}.get(policy, "reattach")  # type: ignore[arg-type]
        found.append(Orphan(source_id_, package_id, name, guid, action))
    return found


def repair(source_id: str | None = None) -> list[Orphan]:
    """Repair every orphan (of one source, or all); returns what was done."""
    done = []
    for orphan in find(source_id):
        if orphan.action == "delete":
            tk.get_action("package_delete")(site_context(), {"id": orphan.package_id})
            done.append(_did(orphan, "deleted"))
            continue
        object_id = _reattach(orphan)
        if orphan.action == "archive":
            archive(object_id, orphan.package_id, reason="Stranded by an earlier harvest run.")
            done.append(_did(orphan, "archived"))
        else:
            model.Session.commit()
            done.append(_did(orphan, "reattached"))
    return done


def _did(orphan: Orphan, action: str) -> Orphan:
    return Orphan(orphan.source_id, orphan.package_id, orphan.name, orphan.remote_id, action)


def _reattach(orphan: Orphan) -> str:
    """A current object for the dataset again (no commit). Its empty hash makes
    the next run that lists the record update it."""
    return objects.attach(orphan.source_id, orphan.remote_id, orphan.package_id, action="reattach")


def archive(object_id: str, package_id: str, reason: str) -> None:
    """Archive a dataset whose current object is ``object_id``; commits."""
    from ckanext.harvestplus.pipeline.importer import archived_copy

    api = site_context()
    dataset, archived_at = archived_copy(api, package_id, reason)
    objects.insert_objects(
        [],
        [
            objects.extra_row(object_id, objects.ARCHIVED_AT, archived_at),
            objects.extra_row(object_id, objects.ARCHIVE_REASON, reason),
        ],
    )
    model.Session.flush()
    tk.get_action("package_update")(api, dataset)
