"""Deleting, clearing and re-adding a source, as the CKAN guide describes them.

- Delete source: the datasets stay, as ordinary datasets (no harvest links),
  with a note of where they came from; whatever page or call deletes it.
- Delete and clear source / Clear: the datasets, jobs and objects are gone.
- Re-adding the source: the same URL and config are accepted again, and the
  detached datasets can be adopted instead of being created again as name-2.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.tests import factories
from ckan.tests.helpers import call_action
from ckanext.harvest.model import HarvestJob, HarvestObject

from ckanext.harvestplus.jobs import run_sync
from ckanext.harvestplus.pipeline import orphans
from tests.harvest.conftest import HARVEST, harvested

pytestmark = HARVEST


@pytest.fixture
def harvested_source(seed, make_source):
    """A source holding three remote datasets: (source, {remote id: local package id})."""
    seed(3)
    source = make_source(deletion_policy="delete")
    assert run_sync(source["id"]).created == 3
    return source, {guid: p.id for guid, p in harvested(source["id"]).items()}


def shown(package_id: str) -> dict:
    return call_action("package_show", context={"use_cache": False}, id=package_id)


def searched(package_id: str) -> dict:
    found = call_action("package_search", fq=f"id:{package_id}", include_private=True)
    assert found["count"] == 1
    return found["results"][0]


def extras(dataset: dict) -> dict[str, str]:
    return {e["key"]: e["value"] for e in dataset.get("extras", [])}


def test_delete_source_keeps_datasets_as_ordinary_datasets(harvested_source, remote_ckan):
    source, held = harvested_source
    assert "harvest_source_id" in extras(searched(next(iter(held.values()))))

    call_action("harvest_source_delete", id=source["id"])

    for remote_id, package_id in held.items():
        for dataset in (shown(package_id), searched(package_id)):
            assert dataset["state"] == "active"
            found = extras(dataset)
            assert not {"harvest_source_id", "harvest_object_id", "harvest_source_title"} & set(
                found
            ), found
            assert "harvestplus_source_id" not in found
            assert found["harvestplus_detached_from"] == remote_ckan.url
            assert found["harvestplus_remote_id"] == remote_id
            assert found["harvestplus_detached_at"] and found["harvestplus_last_harvest"]
    # Not an orphan of the deleted source: detached on purpose.
    assert orphans.find() == []
    assert harvested(source["id"]) == {}


def test_deleting_through_ckans_dataset_delete_also_detaches(harvested_source, app):
    """What ckanext-harvest's "Delete source" button posts to (CKAN's own view)."""
    source, held = harvested_source
    sysadmin = factories.SysadminWithToken()
    response = app.post(
        f"/harvest/delete/{source['name']}",
        headers={"Authorization": sysadmin["token"]},
        follow_redirects=False,
    )
    assert response.status_code in (302, 303), response.body
    assert model.Package.get(source["id"]).state == "deleted"
    for package_id in held.values():
        assert "harvest_source_id" not in extras(searched(package_id))


def test_delete_and_clear_removes_datasets_jobs_and_objects(harvested_source):
    source, held = harvested_source
    call_action("harvest_source_delete", context={"clear_source": True}, id=source["id"])

    for package_id in held.values():
        assert model.Package.get(package_id) is None
        assert (
            call_action("package_search", fq=f"id:{package_id}", include_private=True)["count"] == 0
        )
    assert model.Session.query(HarvestObject).filter_by(harvest_source_id=source["id"]).count() == 0
    assert model.Session.query(HarvestJob).filter_by(source_id=source["id"]).count() == 0
    assert model.Package.get(source["id"]).state == "deleted"


def test_clear_keeps_the_source_and_the_next_run_creates_the_same_names(harvested_source):
    source, held = harvested_source
    names = {shown(i)["name"] for i in held.values()}
    result = call_action("harvest_source_clear", id=source["id"])
    assert result == {"id": source["id"], "purged": 3}
    assert all(model.Package.get(i) is None for i in held.values())
    assert model.Package.get(source["id"]).state == "active"

    again = run_sync(source["id"])
    assert again.created == 3, again
    assert {p.name for p in harvested(source["id"]).values()} == names


def test_clear_never_touches_a_dataset_another_source_holds(harvested_source, make_source):
    source, held = harvested_source
    other = make_source(deletion_policy="keep")
    assert run_sync(other["id"]).created == 3  # datasets of its own ("name-2")
    theirs = {p.id for p in harvested(other["id"]).values()}
    call_action("harvest_source_clear", id=source["id"])
    assert all(model.Package.get(i).state == "active" for i in theirs)


def test_re_adding_a_deleted_source_is_accepted_and_can_adopt_its_datasets(
    harvested_source, remote_ckan, remote_org, local_org
):
    source, held = harvested_source
    call_action("harvest_source_delete", id=source["id"])
    names = {shown(i)["name"] for i in held.values()}

    sysadmin = factories.Sysadmin()
    stored = model.Session.execute(
        sa.text("SELECT config FROM harvest_source WHERE id = :id"), {"id": source["id"]}
    ).scalar()
    # The same URL and the very same config string: ckanext-harvest refused this.
    again = call_action(
        "harvest_source_create",
        context={"user": sysadmin["name"]},
        name="re-added",
        title="Re-added",
        url=remote_ckan.url,
        source_type="harvestplus_ckan",
        owner_org=local_org["id"],
        config=stored,
    )

    preview = call_action("harvestplus_source_adopt", id=again["id"], dry_run=True)
    assert {d["package_id"] for d in preview["adopted"]} == set(held.values())
    assert harvested(again["id"]) == {}  # a dry run changes nothing

    adopted = call_action("harvestplus_source_adopt", id=again["id"])
    assert len(adopted["adopted"]) == 3
    summary = run_sync(again["id"])
    assert (summary.created, summary.updated) == (0, 3), summary
    mine = harvested(again["id"])
    assert {p.id for p in mine.values()} == set(held.values())
    assert {p.name for p in mine.values()} == names  # no name-2 duplicates
    for package_id in held.values():
        found = extras(searched(package_id))
        assert found["harvest_source_id"] == again["id"]
        assert "harvestplus_detached_from" not in found
    assert call_action("harvestplus_source_adopt", id=again["id"], dry_run=True)["adopted"] == []


def test_without_adoption_the_first_run_creates_new_datasets(harvested_source, make_source):
    source, held = harvested_source
    call_action("harvest_source_delete", id=source["id"])
    again = make_source(deletion_policy="keep")
    assert (
        len(call_action("harvestplus_source_adopt", id=again["id"], dry_run=True)["adopted"]) == 3
    )
    assert run_sync(again["id"]).created == 3
    assert not {p.id for p in harvested(again["id"]).values()} & set(held.values())


def test_a_source_that_is_not_deleted_still_blocks_the_same_url_and_config(
    harvested_source, remote_ckan, local_org
):
    source, _ = harvested_source
    stored = model.Session.execute(
        sa.text("SELECT config FROM harvest_source WHERE id = :id"), {"id": source["id"]}
    ).scalar()
    with pytest.raises(Exception, match="There already is a Harvest Source for this URL"):
        call_action(
            "harvest_source_create",
            context={"user": factories.Sysadmin()["name"]},
            name="duplicate",
            url=remote_ckan.url,
            source_type="harvestplus_ckan",
            owner_org=local_org["id"],
            config=stored,
        )
    assert json.loads(stored)["deletion_policy"] == "delete"


def test_a_source_that_holds_those_records_is_offered_nothing(harvested_source, make_source):
    source, _ = harvested_source
    portal = make_source(deletion_policy="keep")  # another source of the same remote
    assert run_sync(portal["id"]).created == 3
    call_action("harvest_source_delete", id=source["id"])
    assert call_action("harvestplus_source_adopt", id=portal["id"], dry_run=True)["adopted"] == []
