"""One pass over what sources hold, reporting every broken invariant, and its repair.

What is checked (for one source, or for every source):

``duplicate``
    a source holds more than one current object for one remote id. When they
    all point at the same dataset (or at none), the repair keeps the latest
    and retires the others; when they point at different datasets, two
    datasets stand for one remote record and an admin decides which to keep.
``shared``
    one dataset is held by the current objects of two sources (each would
    update it in turn); reported, an admin decides which source keeps it.
``orphan``
    a dataset the source's objects point at with no current object for its
    remote id (see :mod:`.orphans`); repaired as the deletion policy says.
``purged``
    a current object whose dataset no longer exists (purged); the repair
    retires it, and the next run creates the dataset again if the remote
    still lists the record.
``index_missing``, ``index_stale``, ``index_deleted``
    the search index disagrees with the database about a dataset of the
    source: an active dataset not indexed, indexed with another modified
    time, or still indexed after its deletion or purge; the repair reindexes
    it (or takes it out of the index).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import ckan.lib.search as search
import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.harvestplus.pipeline import orphans
from ckanext.harvestplus.store import objects

#: Datasets asked of the search index per query.
CHUNK = 200
#: Modified times closer than this agree (Solr keeps milliseconds).
TOLERANCE = dt.timedelta(milliseconds=1)


@dataclass(frozen=True)
class Problem:
    kind: str
    source_id: str | None
    package_id: str | None
    remote_id: str | None
    detail: str
    #: What the repair does, or "" when an admin must decide.
    repair: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    #: The problems the repair fixed (empty without ``repair``).
    repaired: list[Problem] = field(default_factory=list)

    @property
    def remaining(self) -> list[Problem]:
        return [p for p in self.problems if p not in self.repaired]

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for problem in self.problems:
            counts[problem.kind] = counts.get(problem.kind, 0) + 1
        return {
            "problems": [p.as_dict() for p in self.problems],
            "counts": counts,
            "repaired": [p.as_dict() for p in self.repaired],
            "remaining": len(self.remaining),
        }


def find(source_id: str | None = None) -> list[Problem]:
    """Every broken invariant of one source (or of every source)."""
    found: list[Problem] = []
    for source, remote_id, object_ids, packages in objects.duplicates(source_id):
        distinct = {p for p in packages if p}
        if len(distinct) <= 1:
            found.append(
                Problem(
                    "duplicate",
                    source,
                    next(iter(distinct), None),
                    remote_id,
                    f"{len(object_ids)} current objects for one remote record",
                    "retire all but the latest",
                )
            )
        else:
            found.append(
                Problem(
                    "duplicate",
                    source,
                    packages[0],
                    remote_id,
                    "datasets " + ", ".join(sorted(distinct)) + " stand for one remote record",
                    "",
                )
            )
    for package_id, sources in objects.shared(source_id):
        found.append(
            Problem(
                "shared",
                source_id if source_id in sources else sources[0],
                package_id,
                None,
                "held by the sources " + ", ".join(sources),
                "",
            )
        )
    for orphan in orphans.find(source_id):
        found.append(
            Problem(
                "orphan",
                orphan.source_id,
                orphan.package_id,
                orphan.remote_id,
                f"no current object for its remote record ({orphan.name})",
                orphan.action,
            )
        )
    for _object_id, source, remote_id in objects.dangling(source_id):
        found.append(
            Problem("purged", source, None, remote_id, "its dataset no longer exists", "retire")
        )
    found.extend(_index_problems(source_id))
    return found


def repair(source_id: str | None = None) -> Report:
    """Find every problem and fix those that can be fixed safely; the report lists
    both."""
    report = Report(find(source_id))
    kinds = {p.kind for p in report.problems if p.repair}
    if "duplicate" in kinds:
        for _source, _remote_id, object_ids, packages in objects.duplicates(source_id):
            if len({p for p in packages if p}) <= 1:
                objects.retire_objects(object_ids[1:])
        model.Session.commit()
    if "orphan" in kinds:
        orphans.repair(source_id)
    if "purged" in kinds:
        objects.retire_objects(o[0] for o in objects.dangling(source_id))
        model.Session.commit()
    for problem in report.problems:
        if problem.kind.startswith("index_") and problem.package_id:
            _reindex(problem.package_id)
    report.repaired = [p for p in report.problems if p.repair]
    return report


def _reindex(package_id: str) -> None:
    if model.Package.get(package_id) is None:
        search.index_for(model.Package).remove_dict({"id": package_id})
    else:
        search.rebuild(package_id=package_id)


def _index_problems(source_id: str | None) -> list[Problem]:
    """Datasets of the sources whose index entry disagrees with the database."""
    stored = objects.datasets_of(source_id)
    indexed: dict[str, str] = {}
    for chunk in _chunks(sorted(stored), CHUNK):
        indexed.update(_indexed("+id:(" + " OR ".join(f'"{i}"' for i in chunk) + ")"))
    for source in objects.source_ids(source_id):
        indexed.update(_indexed(f'+extras_harvestplus_source_id:"{source}"'))
    remove_deleted = tk.asbool(tk.config.get("ckan.search.remove_deleted_packages"))
    found = []
    for package_id in sorted(set(stored) | set(indexed)):
        state, modified = stored.get(package_id, (None, None))
        in_index = indexed.get(package_id)
        if state == "active" and in_index is None:
            found.append(_index_problem("index_missing", package_id, "active, not in the index"))
        elif state == "active" and in_index is not None and not _same(modified, in_index):
            found.append(
                _index_problem(
                    "index_stale",
                    package_id,
                    f"modified {_iso(modified)} here, {in_index} in the index",
                )
            )
        elif in_index is not None and (state is None or (state == "deleted" and remove_deleted)):
            what = "purged" if state is None else "deleted"
            found.append(_index_problem("index_deleted", package_id, f"{what}, still indexed"))
    return found


def _index_problem(kind: str, package_id: str, detail: str) -> Problem:
    return Problem(kind, None, package_id, None, detail, "reindex")


def _indexed(fq: str) -> dict[str, str]:
    """Dataset id -> metadata_modified of the index entries matching a filter,
    whatever their state (private ones too)."""
    query = search.query_for(model.Package)
    found: dict[str, str] = {}
    start = 0
    while True:
        result = query.run(
            {
                "q": "*:*",
                # Naming a state keeps CKAN from adding its +state:active.
                "fq": f"{fq} +state:(active OR draft OR deleted)",
                "fl": "id,metadata_modified",
                "rows": 1000,
                "start": start,
            },
            permission_labels=None,
        )
        rows = result["results"]
        for row in rows:
            found[str(row["id"])] = str(row.get("metadata_modified") or "")
        start += len(rows)
        if not rows or start >= result["count"]:
            return found


def _same(modified: dt.datetime | None, indexed: str) -> bool:
    if modified is None or not indexed:
        return False
    try:
        other = dt.datetime.fromisoformat(indexed.rstrip("Z"))
    except ValueError:
        return False
    return abs(other.replace(tzinfo=None) - modified.replace(tzinfo=None)) <= TOLERANCE


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat() if value else "never"


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
