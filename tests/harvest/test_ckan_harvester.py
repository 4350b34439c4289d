"""The CKAN harvester against a real remote CKAN: create, no change, changes, deletions."""

from __future__ import annotations

from ckan import model
from ckan.tests.helpers import call_action

from tests.harvest.conftest import HARVEST, harvested, update_config

pytestmark = HARVEST


def test_first_harvest_creates_every_remote_dataset_with_provenance(
    seed, make_source, remote_ckan, harvest
):
    remote = seed(12)
    source = make_source()

    summary = harvest(source["id"])

    assert (summary.created, summary.updated, summary.errored) == (12, 0, 0), summary
    assert summary.status == "Finished"
    local = harvested(source["id"])
    assert set(local) == {d["id"] for d in remote}
    first = call_action("package_show", id=local[remote[0]["id"]].id)
    extras = {e["key"]: e["value"] for e in first["extras"]}
    assert extras["harvestplus_backend"] == "harvestplus_ckan"
    assert extras["harvestplus_remote_url"] == f"{remote_ckan.url}/dataset/{remote[0]['name']}"
    assert extras["harvestplus_remote_modified"] == remote[0]["metadata_modified"]
    assert extras["theme"] == "theme-0"
    assert first["license_id"] == "cc-by"
    assert first["resources"][0]["url"] == "http://example.org/0.csv"
    assert sorted(t["name"] for t in first["tags"]) == ["economy", "tag0"]
    # Provenance is queryable in search.
    found = call_action(
        "package_search", fq=f'extras_harvestplus_source_id:"{source["id"]}"', rows=100
    )
    assert found["count"] == 12


def test_reharvest_without_change_writes_nothing(seed, make_source, harvest):
    seed(10)
    source = make_source()
    harvest(source["id"])
    before = {p.id: p.metadata_modified for p in harvested(source["id"]).values()}

    summary = harvest(source["id"])

    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 10), summary
    after = {p.id: p.metadata_modified for p in harvested(source["id"]).values()}
    assert after == before


def test_force_reimports_everything(seed, make_source, harvest):
    seed(4)
    source = make_source()
    harvest(source["id"])
    summary = harvest(source["id"], force=True)
    assert (summary.updated, summary.unchanged) == (4, 0), summary


def test_exactly_the_changed_datasets_are_updated(seed, make_source, remote_ckan, harvest):
    remote = seed(20)
    source = make_source()
    harvest(source["id"])
    changed = remote[3]
    remote_ckan.action("package_patch", id=changed["id"], title="A new title")

    summary = harvest(source["id"])

    assert (summary.updated, summary.unchanged, summary.created) == (1, 19, 0), summary
    model.Session.expire_all()
    assert harvested(source["id"])[changed["id"]].title == "A new title"


def test_listing_walks_every_page_by_key(seed, make_source, monkeypatch, harvest):
    from ckanext.harvestplus.backends import ckan as backend

    remote = seed(10)
    monkeypatch.setattr(backend, "ID_ROWS", 3)  # four pages of ids
    source = make_source(page_size=2)
    summary = harvest(source["id"])
    assert (summary.created, summary.errored, summary.errors) == (10, 0, []), summary
    assert set(harvested(source["id"])) == {d["id"] for d in remote}
    assert harvest(source["id"]).unchanged == 10


def test_changing_the_source_settings_rewrites_what_they_affect(seed, make_source, harvest):
    seed(4)
    source = make_source()
    harvest(source["id"])
    update_config(source, private=True)
    summary = harvest(source["id"])
    assert (summary.updated, summary.unchanged) == (4, 0), summary
    model.Session.expire_all()
    assert {p.private for p in harvested(source["id"]).values()} == {True}
