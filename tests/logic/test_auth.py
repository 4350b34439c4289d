"""Each action's and auth function's answer to an anonymous visitor, an editor and an
admin of the source's organisation, and a sysadmin (sysadmins pass CKAN's auth
before any auth function runs)."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories
from ckan.tests.helpers import call_action

from tests.harvest.json_list import EXAMPLE

pytestmark = EXAMPLE

ROLES = ("anonymous", "editor", "admin", "sysadmin")


@pytest.fixture
def site(catalogue, local_org, source) -> dict[str, Any]:
    """A source of an organisation with an editor and an admin, and their names."""
    editor, admin = factories.User(), factories.User()
    for user, capacity in ((editor, "editor"), (admin, "admin")):
        call_action(
            "organization_member_create",
            id=local_org["id"],
            username=user["name"],
            role=capacity,
        )
    return {
        "source": source(),
        "users": {
            "anonymous": "",
            "editor": editor["name"],
            "admin": admin["name"],
            "sysadmin": factories.Sysadmin()["name"],
        },
    }


def allowed(site: dict[str, Any], role: str, auth: str, data: dict[str, Any]) -> bool:
    context = {"user": site["users"][role], "ignore_auth": False}
    try:
        tk.check_access(auth, context, data)
    except tk.NotAuthorized:
        return False
    return True


@pytest.mark.parametrize(
    ("auth", "scope", "expected"),
    [
        ("harvestplus_backends", "none", (True, True, True, True)),
        ("harvestplus_source_run", "source", (False, True, True, True)),
        ("harvestplus_source_run_sync", "source", (False, False, False, True)),
        ("harvestplus_source_confirm", "source", (False, False, True, True)),
        ("harvestplus_preview", "source", (False, True, True, True)),
        ("harvestplus_preview", "none", (False, False, False, True)),
        ("harvestplus_orphans", "source_id", (False, True, True, True)),
        ("harvestplus_orphans", "none", (False, False, False, True)),
        ("harvestplus_check", "source_id", (False, True, True, True)),
        ("harvestplus_check", "none", (False, False, False, True)),
        ("harvestplus_source_adopt", "source", (False, True, True, True)),
    ],
)
def test_auth_functions(site, auth, scope, expected):
    source_id = site["source"]["id"]
    data = {"source": {"id": source_id}, "source_id": {"source_id": source_id}, "none": {}}[scope]
    assert tuple(allowed(site, role, auth, data) for role in ROLES) == expected


def call_as(site: dict[str, Any], role: str, action: str, **data: Any) -> Any:
    return call_action(action, context={"user": site["users"][role], "ignore_auth": False}, **data)


def test_actions_check_access_before_they_look_anything_up(site):
    # An anonymous caller learns nothing, not even whether a source exists.
    for action in ("harvestplus_source_run", "harvestplus_preview", "harvestplus_source_adopt"):
        with pytest.raises(tk.NotAuthorized):
            call_as(site, "anonymous", action, id=site["source"]["id"])
    with pytest.raises(tk.NotAuthorized):
        call_as(site, "editor", "harvestplus_check")
    with pytest.raises(tk.ObjectNotFound):
        call_as(site, "sysadmin", "harvestplus_source_run", id="no-such-source")


def test_an_editor_queues_a_run_but_may_not_run_it_inside_the_request(site):
    source_id = site["source"]["id"]
    queued = call_as(site, "editor", "harvestplus_source_run", id=source_id)
    assert queued["source_id"] == source_id and queued["job_id"]
    call_action("harvest_job_abort", id=queued["job_id"])
    with pytest.raises(tk.NotAuthorized):
        call_as(site, "editor", "harvestplus_source_run", id=source_id, sync=True)
    with pytest.raises(tk.NotAuthorized):
        call_as(site, "editor", "harvestplus_source_run", id=source_id, confirm=True)
    summary = call_as(site, "sysadmin", "harvestplus_source_run", id=source_id, sync=True)
    assert (summary["created"], summary["status"]) == (10, "Finished")
    shown = call_as(site, "editor", "harvestplus_job_summary", id=summary["job_id"])
    assert shown["created"] == 10


def test_bad_input_is_refused_by_each_actions_schema(site):
    source_id = site["source"]["id"]
    with pytest.raises(tk.ValidationError) as bad:
        call_action("harvestplus_preview", id=source_id, limit="lots")
    assert "limit" in bad.value.error_dict
    with pytest.raises(tk.ValidationError) as bad:
        call_action("harvestplus_source_run", id="")
    assert "id" in bad.value.error_dict
    with pytest.raises(tk.ValidationError) as bad:
        call_action("harvestplus_job_summary")
    assert "id" in bad.value.error_dict
    with pytest.raises(tk.ValidationError) as bad:
        call_action("harvestplus_preview", type="example_jsonlist")
    assert "url" in bad.value.error_dict
