"""A dataset private on the remote CKAN stays private here, wherever anonymous users look.

The remote is the real remote CKAN of the tests, read with an API token of its
sysadmin (the source's ``api_key``), so its answers include private datasets.
The local site runs the activity and DCAT plugins too, to look at the activity
stream (with the site user's activities shown) and the DCAT catalogue endpoint.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from ckan import model
from ckan.plugins import toolkit as tk
from ckan.tests.helpers import call_action
from ckanext.harvest.model import HarvestObject, HarvestObjectError

from ckanext.harvestplus.jobs import run_sync
from tests.harvest.conftest import HARVEST, PLUGINS, create_source, harvested

pytestmark = [
    *HARVEST,
    pytest.mark.ckan_config("ckan.plugins", f"{PLUGINS} activity dcat"),
    # CKAN hides the site user's activities (every harvest write) by default; shown
    # here, so that only the dataset's privacy can keep them from anonymous users.
    pytest.mark.ckan_config("ckan.hide_activity_from_users", "no-such-user"),
]

ANONYMOUS = {"user": "", "ignore_auth": False}


def remote_dataset(remote_ckan, remote_org, title: str, private: bool) -> dict[str, Any]:
    return remote_ckan.action(
        "package_create",
        name=f"{'secret' if private else 'open'}-{uuid.uuid4().hex[:8]}",
        title=title,
        owner_org=remote_org["id"],
        private=private,
        resources=[{"url": "http://example.org/data.csv", "format": "CSV"}],
    )


def reading_private(remote_ckan, remote_org, owner_org: str) -> dict[str, Any]:
    """A source for the remote organisation with the remote sysadmin's token as api_key."""
    return create_source(
        remote_ckan.url,
        "harvestplus_ckan",
        owner_org,
        organizations_include=[remote_org["name"]],
        api_key=remote_ckan.token,
    )


def anonymous_sees(app, package: model.Package, org_name: str) -> dict[str, bool]:
    """Where an anonymous user finds the dataset: search, show, its page, the
    activity stream, the DCAT catalogue."""
    found = call_action("package_search", context=dict(ANONYMOUS), q="*:*", rows=1000)
    try:
        call_action("package_show", context=dict(ANONYMOUS), id=package.id)
        shown = True
    except tk.NotAuthorized:
        shown = False
    page = app.get(f"/dataset/{package.name}")
    activity = call_action(
        "organization_activity_list", context=dict(ANONYMOUS), id=org_name, limit=100
    )
    catalogue = app.get("/catalog.ttl")
    assert catalogue.status_code == 200, catalogue.status_code
    return {
        "search": package.id in {d["id"] for d in found["results"]},
        "show": shown,
        "page": page.status_code == 200 and package.title in page.get_data(as_text=True),
        "activity": any(a.get("object_id") == package.id for a in activity),
        "dcat": f'dct:title "{package.title}"' in catalogue.get_data(as_text=True),
    }


NOWHERE = dict.fromkeys(("search", "show", "page", "activity", "dcat"), False)
EVERYWHERE = dict.fromkeys(NOWHERE, True)


def test_a_private_remote_dataset_is_private_here_and_follows_the_remote(
    remote_ckan, remote_org, local_org, app
):
    secret = remote_dataset(remote_ckan, remote_org, "Salaries by person", private=True)
    public = remote_dataset(remote_ckan, remote_org, "Budget by year", private=False)
    source = reading_private(remote_ckan, remote_org, local_org["id"])

    summary = run_sync(source["id"])

    assert (summary.created, summary.errored) == (2, 0), summary
    local = harvested(source["id"])
    assert (local[secret["id"]].private, local[public["id"]].private) == (True, False)
    assert anonymous_sees(app, local[secret["id"]], local_org["name"]) == NOWHERE
    assert anonymous_sees(app, local[public["id"]], local_org["name"]) == EVERYWHERE

    # The remote publishes it: so does the next run.
    remote_ckan.action("package_patch", id=secret["id"], private=False)
    assert run_sync(source["id"]).updated == 1
    model.Session.expire_all()
    assert anonymous_sees(app, harvested(source["id"])[secret["id"]], local_org["name"])["show"]

    # And private again.
    remote_ckan.action("package_patch", id=secret["id"], private=True)
    assert run_sync(source["id"]).updated == 1
    model.Session.expire_all()
    package = harvested(source["id"])[secret["id"]]
    assert package.private is True
    seen = anonymous_sees(app, package, local_org["name"])
    assert {k: v for k, v in seen.items() if k != "activity"} == {
        k: False for k in seen if k != "activity"
    }


def test_without_an_organisation_a_private_remote_dataset_is_withheld(remote_ckan, remote_org):
    shown = remote_dataset(remote_ckan, remote_org, "Open now", private=False)
    hidden = remote_dataset(remote_ckan, remote_org, "Never open", private=True)
    source = reading_private(remote_ckan, remote_org, "")

    summary = run_sync(source["id"])

    assert (summary.created, summary.errored) == (1, 1), summary
    assert set(harvested(source["id"])) == {shown["id"]}
    errors = (
        model.Session.query(HarvestObjectError.message)
        .join(HarvestObject)
        .filter(HarvestObject.harvest_job_id == summary.job_id, HarvestObject.guid == hidden["id"])
        .all()
    )
    assert any("no organisation to keep it private in" in e.message for e in errors), errors

    # The public one turns private on the remote: its copy here is deleted, not left public.
    local_id = harvested(source["id"])[shown["id"]].id
    remote_ckan.action("package_patch", id=shown["id"], private=True)
    summary = run_sync(source["id"])
    assert summary.deleted == 1, summary
    model.Session.expire_all()
    assert model.Package.get(local_id).state == "deleted"
    notes = {item["guid"]: item["notes"] for item in summary.notes}
    assert "not published here" in notes[shown["id"]][0]


def test_a_dataset_made_private_in_bulk_on_the_remote_is_private_next_run(
    remote_ckan, remote_org, local_org
):
    """CKAN 2.11's bulk "Make private" leaves the modified date as it was (2.12 goes
    through package_patch, which changes it)."""
    public = remote_dataset(remote_ckan, remote_org, "Soon private", private=False)
    source = reading_private(remote_ckan, remote_org, local_org["id"])
    run_sync(source["id"])
    assert harvested(source["id"])[public["id"]].private is False
    remote_ckan.action("bulk_update_private", datasets=[public["id"]], org_id=remote_org["id"])

    summary = run_sync(source["id"])

    assert summary.updated == 1, summary
    model.Session.expire_all()
    assert harvested(source["id"])[public["id"]].private is True


def test_the_private_setting_without_an_organisation_withholds_every_record(
    remote_ckan, remote_org
):
    remote_dataset(remote_ckan, remote_org, "Public on the remote", private=False)
    source = create_source(
        remote_ckan.url,
        "harvestplus_ckan",
        "",
        organizations_include=[remote_org["name"]],
        private=True,
    )

    summary = run_sync(source["id"])

    assert (summary.created, summary.errored) == (0, 1), summary
    assert harvested(source["id"]) == {}
