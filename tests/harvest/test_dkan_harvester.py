"""The DKAN harvester against a DKAN 7 catalogue served from a real DKAN answer.

The scenarios of test_ckan_harvester.py and test_deletions.py, against
:mod:`tests.harvest.dkan_server`: first harvest and its mapping, no change,
exactly the changed records updated, deletion policies, the mass-deletion
guard, a remote read failing, and a deletion failing half way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ckan import model
from ckan.model.license import License, LicenseRegister
from ckan.tests.helpers import call_action
from ckanext.harvest.model import HarvestObject, HarvestObjectError

from ckanext.harvestplus.jobs import run_sync
from ckanext.harvestplus.pipeline import orphans
from tests.harvest.conftest import HARVEST, create_source, harvested
from tests.harvest.dkan_server import DkanServer, sample

pytestmark = HARVEST

ETALAB = "http://www.etalab.gouv.fr/pages/Licence_ouverte_Open_licence-5899923.html"


@pytest.fixture
def dkan() -> Iterator[Callable[..., DkanServer]]:
    """Start a DKAN catalogue of ``n`` datasets; stopped after the test."""
    servers: list[DkanServer] = []

    def start(n: int, **kwargs: Any) -> DkanServer:
        servers.append(DkanServer(n, **kwargs).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def dkan_source(local_org) -> Callable[..., dict[str, Any]]:
    """A harvestplus_dkan source on a server (no remote CKAN needed, unlike make_source)."""

    def make(server: DkanServer, **config: Any) -> dict[str, Any]:
        return create_source(
            server.url, "harvestplus_dkan", local_org["id"], title="A DKAN source", **config
        )

    return make


@pytest.fixture
def harvested_site(dkan, dkan_source):
    """A source holding ``n`` DKAN datasets; returns (server, source)."""

    def make(n: int = 10, **config: Any) -> tuple[DkanServer, dict[str, Any]]:
        server = dkan(n)
        source = dkan_source(server, **config)
        first = run_sync(source["id"])
        assert (first.created, first.errored) == (n, 0), object_errors(first.job_id)
        return server, source

    return make


def object_errors(job_id: str) -> list[str]:
    """Import errors of a job, for assertion messages."""
    rows = (
        model.Session.query(HarvestObjectError.message)
        .join(HarvestObject, HarvestObject.id == HarvestObjectError.harvest_object_id)
        .filter(HarvestObject.harvest_job_id == job_id)
    )
    return [r[0] for r in rows]


def extras_of(dataset: dict[str, Any]) -> dict[str, str]:
    return {e["key"]: e["value"] for e in dataset["extras"]}


def assert_no_orphans(source_id: str) -> None:
    assert orphans.find(source_id) == []


# --- creating, no change, changes ----------------------------------------------


@pytest.mark.parametrize("list_by", ["id", "name"])
def test_first_harvest_maps_every_dataset_as_dkan_serves_it(dkan, dkan_source, list_by):
    server = dkan(12, list_by=list_by)
    source = dkan_source(server)

    summary = run_sync(source["id"])

    assert (summary.created, summary.updated, summary.errored) == (12, 0, 0), object_errors(
        summary.job_id
    )
    assert summary.status == "Finished" and summary.guard is None
    assert len(server.shows()) == 12  # no modified date in package_list: every record read
    local = harvested(source["id"])
    # The identity is the dataset id, whether package_list gives ids or names.
    assert set(local) == {d["id"] for d in server.datasets}

    original, remote = sample(), server.datasets[3]
    shown = call_action("package_show", id=local[remote["id"]].id)
    assert (shown["name"], shown["title"]) == (remote["name"], remote["title"])
    assert shown["notes"] == original["notes"]
    assert shown["maintainer_email"] == "opendata@hautsdefrance.fr"
    # DKAN's "private": true and "state": "Active" are the remote's, not ours.
    assert (shown["private"], shown["state"]) == (False, "active")
    # Every DKAN tag is in Drupal vocabulary "2"; all of them become free tags.
    assert sorted(t["name"] for t in shown["tags"]) == sorted(t["name"] for t in original["tags"])
    assert all(t["vocabulary_id"] is None for t in shown["tags"])
    xlsx, viewer = shown["resources"]
    assert (xlsx["url"], viewer["url"]) == tuple(r["url"] for r in original["resources"])
    assert (xlsx["format"], viewer["format"]) == ("XLSX", "")
    assert xlsx["name"] == "coordonnees_antennes.xlsx"
    # "42 octets" and French dates are not numbers or ISO dates: left out.
    assert xlsx["size"] is None
    assert xlsx["created"] != "jeu, 19/12/2019 - 03:00"
    # CKAN's default licence register has no Etalab licence: no licence is set.
    assert ETALAB not in {lic.url for lic in model.Package.get_license_register().values()}
    assert shown["license_id"] in (None, "")

    extras = extras_of(shown)
    assert extras["harvestplus_backend"] == "harvestplus_dkan"
    assert extras["harvestplus_remote_id"] == remote["id"]
    assert extras["harvestplus_remote_url"] == f"{server.url}/dataset/{remote['name']}"
    assert extras["harvestplus_remote_created"] == "mar, 10/12/2019 - 09:23"
    assert extras["harvestplus_remote_modified"] == "2019-09-30 22:00:00"
    assert extras["frequency-of-update"] == "asNeeded"
    assert extras["bbox-east-long"] == "4.65820313"
    # The remote's own harvest extras are dropped (ckanext-harvest shows ours), and so are its
    # metadata_modified and metadata_created extras, named like dataset fields (CKAN 2.12
    # refuses them as extras; the remote's dates are in the provenance above).
    assert extras["harvest_source_id"] == source["id"]
    assert "metadata_modified" not in extras and "metadata_created" not in extras


def test_licence_url_in_license_title_maps_to_a_licence_the_site_knows(
    dkan, dkan_source, monkeypatch
):
    # A site that lists Etalab's licence (e.g. through licenses_group_url).
    register = LicenseRegister()
    register.licenses.append(License({"id": "lov2", "title": "Licence Ouverte", "url": ETALAB}))
    server = dkan(2)
    source = dkan_source(server)

    with monkeypatch.context() as patch:
        patch.setattr(model.Package, "_license_register", register, raising=False)
        summary = run_sync(source["id"])

    assert summary.created == 2, summary
    for package in harvested(source["id"]).values():
        assert package.license_id == "lov2"


def test_reharvest_without_change_writes_nothing(harvested_site, harvest):
    server, source = harvested_site(10)
    before = {p.id: p.metadata_modified for p in harvested(source["id"]).values()}

    summary = harvest(source["id"])

    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 10), summary
    assert summary.errored == 0 and summary.guard is None
    after = {p.id: p.metadata_modified for p in harvested(source["id"]).values()}
    assert after == before


def test_force_reimports_everything(harvested_site, harvest):
    server, source = harvested_site(4)
    summary = harvest(source["id"], force=True)
    assert (summary.updated, summary.unchanged) == (4, 0), summary


def test_exactly_the_changed_datasets_are_updated(harvested_site, harvest):
    server, source = harvested_site(20)
    changed = server.datasets[7]  # one of 20: 5%
    server.set_title(changed["id"], "Antennes régionales (mise à jour)")

    summary = harvest(source["id"])

    assert (summary.updated, summary.unchanged, summary.created) == (1, 19, 0), summary
    model.Session.expire_all()
    local = harvested(source["id"])[changed["id"]]
    assert local.title == "Antennes régionales (mise à jour)"
    assert local.extras["harvestplus_remote_modified"] == changed["metadata_modified"]


# --- deletions --------------------------------------------------------------------


def test_delete_policy_deletes_vanished_dataset_and_restores_it_when_back(harvested_site, harvest):
    server, source = harvested_site(10, deletion_policy="delete")
    gone = server.datasets[0]
    local_id = harvested(source["id"])[gone["id"]].id
    server.delete(gone["id"])

    summary = harvest(source["id"])

    assert (summary.deleted, summary.unchanged) == (1, 9), summary
    assert model.Package.get(local_id).state == "deleted"
    assert gone["id"] not in harvested(source["id"])
    assert_no_orphans(source["id"])

    server.bring_back(gone["id"])
    summary = harvest(source["id"])
    assert (summary.restored, summary.created, summary.unchanged) == (1, 0, 9), summary
    model.Session.expire_all()
    restored = harvested(source["id"])[gone["id"]]
    assert (restored.id, restored.name, restored.state) == (local_id, gone["name"], "active")
    assert_no_orphans(source["id"])


def test_archive_policy_without_grace_archives_at_once_and_restores(harvested_site, harvest):
    server, source = harvested_site(10, deletion_policy="archive", grace_days=0)
    gone = server.datasets[1]
    local_id = harvested(source["id"])[gone["id"]].id
    server.delete(gone["id"])

    summary = harvest(source["id"])

    assert (summary.archived, summary.kept, summary.unchanged) == (1, 0, 9), summary
    archived = call_action("package_show", id=local_id)
    assert archived["private"] is True and archived["state"] == "active"
    assert "Not listed by the remote" in extras_of(archived)["harvestplus_archive_reason"]
    assert_no_orphans(source["id"])
    # Archived datasets are not archived again, and come back when listed again.
    again = harvest(source["id"])
    assert (again.archived, again.kept) == (0, 1), again

    server.bring_back(gone["id"])
    summary = harvest(source["id"])
    assert (summary.restored, summary.unchanged) == (1, 9), summary
    restored = call_action("package_show", id=local_id)
    assert restored["private"] is False
    assert not any(e["key"].startswith("harvestplus_archive") for e in restored["extras"])
    assert_no_orphans(source["id"])


def test_mass_deletion_guard_holds_removals_until_confirmed(harvested_site, harvest):
    server, source = harvested_site(10, deletion_policy="delete")
    server.delete(*(d["id"] for d in server.datasets[:3]))  # 30% > 10%

    summary = harvest(source["id"])
    assert (summary.deleted, summary.kept, summary.unchanged) == (0, 3, 7), summary
    assert "3 of 10 datasets (30%) vanished" in summary.guard
    assert any("vanished" in e for e in summary.errors)
    assert len(harvested(source["id"])) == 10

    summary = harvest(source["id"], confirmed=True)
    assert summary.deleted == 3, summary
    assert len(harvested(source["id"])) == 7
    assert_no_orphans(source["id"])


@pytest.mark.ckan_config("ckanext.harvestplus.http.retries", "0")
def test_a_failing_package_show_makes_the_listing_incomplete_and_holds_removals(
    harvested_site, harvest
):
    server, source = harvested_site(10, deletion_policy="delete")
    gone, broken, changed = server.datasets[0], server.datasets[4], server.datasets[8]
    server.delete(gone["id"])
    server.fail(broken["id"], 500)
    server.set_title(changed["id"], "Changed while another record fails")

    summary = harvest(source["id"])

    # The broken record is not read, so it counts as missing too: both are held.
    assert summary.deleted == 0 and summary.kept == 2, summary
    assert "listing was incomplete" in summary.guard
    assert any("HTTP 500" in e for e in summary.errors), summary.errors
    assert len(harvested(source["id"])) == 10
    # One broken record does not hold back the others.
    assert (summary.updated, summary.unchanged) == (1, 7), summary
    model.Session.expire_all()
    assert harvested(source["id"])[changed["id"]].title == "Changed while another record fails"

    server.heal(broken["id"])
    summary = harvest(source["id"])
    assert (summary.deleted, summary.updated, summary.unchanged) == (1, 0, 9), summary
    assert summary.guard is None
    assert_no_orphans(source["id"])


def test_deletion_failing_in_a_plugin_hook_is_completed_by_the_next_run(
    harvested_site, monkeypatch, harvest
):
    from ckanext.harvest.plugin import Harvest

    server, source = harvested_site(10, deletion_policy="delete")
    gone = server.datasets[0]
    local_id = harvested(source["id"])[gone["id"]].id
    server.delete(gone["id"])

    def hook_fails(self, context, data_dict):
        raise RuntimeError("a plugin hook failed")

    with monkeypatch.context() as patch:
        patch.setattr(Harvest, "after_dataset_delete", hook_fails)
        summary = harvest(source["id"])
    assert summary.errored == 1 and summary.deleted == 0, summary
    held = harvested(source["id"], state=model.Package.get(local_id).state)
    assert held[gone["id"]].id == local_id, "the source no longer holds the dataset"

    summary = harvest(source["id"])
    assert summary.deleted == 1 and summary.errored == 0, summary
    model.Session.expire_all()
    assert model.Package.get(local_id).state == "deleted"
    assert gone["id"] not in harvested(source["id"])
    assert_no_orphans(source["id"])
    again = harvest(source["id"])
    assert (again.deleted, again.errored, again.unchanged) == (0, 0, 9), again


def test_the_ckan_mapping_rules_apply_and_what_is_dropped_is_noted(dkan, dkan_source):
    """DKAN's ``private: true`` on published datasets is ignored; its extras
    named like dataset fields and its groups this site lacks are noted."""
    server = dkan(1)
    source = dkan_source(server)

    summary = run_sync(source["id"])

    assert (summary.created, summary.errored) == (1, 0), object_errors(summary.job_id)
    local = call_action("package_show", id=harvested(source["id"])[server.datasets[0]["id"]].id)
    assert local["private"] is False
    extras = extras_of(local)
    assert extras["revision_timestamp"] == sample()["revision_timestamp"]  # a DKAN field
    assert "metadata_modified" not in extras
    (item,) = summary.notes
    assert (
        "extra 'metadata_modified' dropped: metadata_modified is a dataset field here"
        in (item["notes"])
    )
    assert (
        "group 'group/region-hauts-de-france' dropped: there is no such group on this site"
        in (item["notes"])
    )
