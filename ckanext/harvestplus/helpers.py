"""Template helpers for the Harvest Sources pages."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan.lib.pagination import Page


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


@tk.chained_helper
def package_list_for_source(up: Any, source_id: str) -> Any:
    """The source's datasets the current user may see, private ones included, 20
    a page (ckanext-harvest lists public ones only, under a count of them all)."""
    limit = 20
    try:
        page = max(int(tk.request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    query = tk.get_action("package_search")(
        _context(),
        {
            "fq": f'+harvest_source_id:"{source_id}"',
            "include_private": True,
            "rows": limit,
            "start": (page - 1) * limit,
            "sort": "metadata_modified desc",
        },
    )
    if not query["results"]:
        return tk.h.snippet("snippets/package_list_empty.html")
    source = tk.get_action("harvest_source_show")(_context(), {"id": source_id})
    base_url = tk.h.url_for("harvest.read", id=source["name"])
    pager = Page(
        collection=query["results"],
        page=page,
        url=lambda q=None, page=None: f"{base_url}?page={page}" if page else base_url,
        item_count=query["count"],
        items_per_page=limit,
    )
    pager.items = query["results"]
    return tk.h.snippet("snippets/package_list.html", packages=query["results"]) + pager.pager()


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


def harvestplus_latest_job_id(source_id: str) -> str | None:
    """The id of the source's newest job (only its held removals may be confirmed)."""
    from ckanext.harvestplus.store.runs import latest_job_id

    return latest_job_id(source_id)


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
        "package_list_for_source": package_list_for_source,
        "harvestplus_job_summary": harvestplus_job_summary,
        "harvestplus_may_confirm": harvestplus_may_confirm,
        "harvestplus_adoptable": harvestplus_adoptable,
        "harvestplus_latest_job_id": harvestplus_latest_job_id,
    }
