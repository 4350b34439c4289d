"""Template helpers for the Harvest Sources pages."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk


def _context() -> dict[str, Any]:
    return {"user": tk.current_user.name if tk.current_user else ""}


@tk.chained_helper
def package_count_for_source(up: Any, source_id: str) -> int:
    """The source's datasets the current user may see, private ones included
    (ckanext-harvest counts as an anonymous user, so a sysadmin saw 0)."""
    result = tk.get_action("package_search")(
        _context(),
        {"fq": f'+harvest_source_id:"{source_id}"', "include_private": True, "rows": 0},
    )
    return int(result.get("count", 0))


def harvestplus_job_summary(job_id: str) -> dict[str, Any] | None:
    """What a job did, as harvestplus counts it (created, updated, unchanged,
    deleted, archived, restored, kept, errored; the guard's reason)."""
    try:
        return dict(tk.get_action("harvestplus_job_summary")(_context(), {"id": job_id}))
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return None


def harvestplus_may_confirm(source_id: str) -> bool:
    """Whether the current user may confirm removals the mass-deletion guard held."""
    try:
        tk.check_access("harvestplus_source_confirm", _context(), {"id": source_id})
    except tk.NotAuthorized:
        return False
    return True


def harvestplus_adoptable(source_id: str) -> int:
    """How many datasets detached from an earlier source of this address the
    current user could adopt into this one (0 when they may not update it)."""
    try:
        found = tk.get_action("harvestplus_source_adopt")(
            _context(), {"id": source_id, "dry_run": True}
        )
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return 0
    return len(found["adopted"])


def get_helpers() -> dict[str, Any]:
    return {
        "package_count_for_source": package_count_for_source,
        "harvestplus_job_summary": harvestplus_job_summary,
        "harvestplus_may_confirm": harvestplus_may_confirm,
        "harvestplus_adoptable": harvestplus_adoptable,
    }
