"""Content hash of a mapped dataset: equal exactly when an update would change nothing.

The hash covers the dataset dict a backend maps from a remote record, in a
normal form: keys sorted, list order kept where it means something (resources)
and dropped where it does not (tags, groups, extras), empty values removed,
and the fields that record the harvest itself (provenance, timestamps of this
site) left out, so that harvesting the same remote record twice gives the
same hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ckanext.harvestplus.backends.base import Provenance

#: Fields that change on every harvest or belong to this site, not the remote.
VOLATILE = frozenset(
    {"id", "metadata_created", "metadata_modified", "revision_id", "harvest", "harvestplus"}
)
#: Lists whose order carries no meaning.
UNORDERED = frozenset({"tags", "groups", "extras"})


def _normal(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        items = {k: _normal(v, k) for k, v in value.items() if k not in VOLATILE}
        return {k: v for k, v in sorted(items.items()) if v not in (None, "", [], {})}
    if isinstance(value, (list, tuple)):
        values = [_normal(v) for v in value]
        if key in UNORDERED:
            values.sort(key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
        return values
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def content_hash(dataset: dict[str, Any]) -> str:
    """A stable sha256 hex digest of the dataset's normal form."""
    canonical = json.dumps(
        _normal(dataset), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def written_hash(settled: dict[str, Any], found: Provenance) -> str:
    """The content hash of what a run writes: the settled dataset and the
    provenance that is not a date (so that a remote change of organisation or
    licence title alone is written too)."""
    stable = (found.remote_url, found.uri, found.organization, found.license_title)
    return content_hash({**settled, "__provenance": [*stable, found.license_url]})
