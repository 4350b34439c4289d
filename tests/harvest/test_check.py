"""``ckan harvestplus check``: each broken invariant is made here, found, and repaired
(or left to an admin when no repair is safe)."""

from __future__ import annotations

import json
import uuid

import ckan.lib.search as search
import sqlalchemy as sa
from ckan import model
from ckan.tests.helpers import call_action
from ckanext.harvest.model import HarvestObject

from ckanext.harvestplus.jobs import run_sync
from tests.harvest.conftest import harvested
from tests.harvest.json_list import EXAMPLE

pytestmark = EXAMPLE


def kinds(report: dict) -> list[tuple[str, str | None]]:
    return sorted((p["kind"], p["package_id"]) for p in report["problems"])


def check(source_id: str | None = None, repair: bool = False) -> dict:
    return call_action("harvestplus_check", source_id=source_id, repair=repair)


def copy_object(obj: HarvestObject, **values) -> str:
    """A second object of the same source and remote id (committed)."""
    object_id = str(uuid.uuid4())
    model.Session.execute(
        sa.insert(HarvestObject.__table__).values(
            id=object_id,
            guid=obj.guid,
            current=values.get("current", True),
            package_id=values.get("package_id", obj.package_id),
            harvest_source_id=obj.harvest_source_id,
            harvest_job_id=obj.harvest_job_id,
            state="COMPLETE",
            retry_times=0,
        )
    )
    model.Session.commit()
    return object_id


def current_object(source_id: str, guid: str) -> HarvestObject:
    return (
        model.Session.query(HarvestObject)
        .filter_by(harvest_source_id=source_id, guid=guid, current=True)
        .order_by(HarvestObject.gathered)
        .first()
    )


def test_a_clean_source_has_no_problems(source):
    src = source()
    run_sync(src["id"])
    assert check(src["id"])["problems"] == []
    assert check()["problems"] == []  # every source (a sysadmin's call)


def test_two_current_objects_for_one_dataset_are_reduced_to_one(source):
    src = source()
    run_sync(src["id"])
    obj = current_object(src["id"], "EX-001")
    copy_object(obj)

    found = check(src["id"])
    assert kinds(found) == [("duplicate", obj.package_id)]
    assert found["problems"][0]["repair"] == "retire all but the latest"
    repaired = check(src["id"], repair=True)
    assert repaired["remaining"] == 0
    assert model.Session.query(HarvestObject).filter_by(guid="EX-001", current=True).count() == 1
    assert check(src["id"])["problems"] == []
    assert run_sync(src["id"]).unchanged == 10


def test_two_datasets_for_one_remote_record_are_left_to_an_admin(source, local_org):
    src = source()
    run_sync(src["id"])
    obj = current_object(src["id"], "EX-002")
    other = call_action("package_create", name="a-second-ex-002", owner_org=local_org["id"])
    copy_object(obj, package_id=other["id"])

    repaired = check(src["id"], repair=True)
    (problem,) = repaired["problems"]
    assert (problem["kind"], problem["repair"]) == ("duplicate", "")
    assert other["id"] in problem["detail"] and obj.package_id in problem["detail"]
    assert repaired["remaining"] == 1 and repaired["repaired"] == []


def test_a_dataset_held_by_two_sources_is_reported(source, catalogue, local_org):
    first = source()
    run_sync(first["id"])
    from tests.harvest.conftest import create_source

    second = create_source(catalogue.url + "/again", "example_jsonlist", local_org["id"])
    obj = current_object(first["id"], "EX-003")
    model.Session.execute(
        sa.insert(HarvestObject.__table__).values(
            id=str(uuid.uuid4()),
            guid="EX-003",
            current=True,
            package_id=obj.package_id,
            harvest_source_id=second["id"],
            state="COMPLETE",
            retry_times=0,
        )
    )
    model.Session.commit()

    found = check(second["id"])
    assert kinds(found) == [("shared", obj.package_id)]
    assert first["id"] in found["problems"][0]["detail"]
    assert check(second["id"], repair=True)["remaining"] == 1


def test_an_orphan_is_found_and_repaired_by_the_deletion_policy(source):
    src = source(deletion_policy="delete")
    run_sync(src["id"])
    stranded = harvested(src["id"])["EX-004"]
    model.Session.execute(
        sa.text("UPDATE harvest_object SET current = false WHERE guid = 'EX-004'")
    )
    model.Session.commit()

    found = check(src["id"])
    assert kinds(found) == [("orphan", stranded.id)]
    assert found["problems"][0]["repair"] == "delete"
    assert check(src["id"], repair=True)["remaining"] == 0
    model.Session.expire_all()
    assert model.Package.get(stranded.id).state == "deleted"
    assert check(src["id"])["problems"] == []


def test_the_object_of_a_purged_dataset_is_retired_and_the_next_run_creates_it(source):
    src = source()
    run_sync(src["id"])
    purged = harvested(src["id"])["EX-005"]
    call_action("dataset_purge", id=purged.id)

    found = check(src["id"])
    assert [(p["kind"], p["remote_id"]) for p in found["problems"]] == [("purged", "EX-005")]
    assert check(src["id"], repair=True)["remaining"] == 0
    assert check(src["id"])["problems"] == []
    again = run_sync(src["id"])
    assert (again.created, again.unchanged) == (1, 9), again


def _search_ids(source_id: str) -> set[str]:
    found = call_action(
        "package_search",
        fq=f'extras_harvestplus_source_id:"{source_id}"',
        include_private=True,
        rows=100,
    )
    return {d["id"] for d in found["results"]}


def test_search_index_drift_of_each_kind_is_found_and_reindexed(source):
    src = source()
    run_sync(src["id"])
    local = harvested(src["id"])
    missing, stale, deleted = local["EX-006"].id, local["EX-007"].id, local["EX-008"].id
    # Three ways the index and the database part, behind CKAN's back.
    search.index_for(model.Package).remove_dict({"id": missing})
    with model.ensure_engine().begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE package SET metadata_modified = metadata_modified + interval '1 hour', "
                "title = 'Edited in the database' WHERE id = :id"
            ),
            {"id": stale},
        )
        conn.execute(
            sa.text("UPDATE package SET state = 'deleted' WHERE id = :id"), {"id": deleted}
        )
    model.Session.expire_all()

    found = check(src["id"])
    assert kinds(found) == sorted(
        [("index_missing", missing), ("index_stale", stale), ("index_deleted", deleted)]
    )
    assert {p["repair"] for p in found["problems"]} == {"reindex"}
    repaired = check(src["id"], repair=True)
    assert repaired["remaining"] == 0, json.dumps(repaired, indent=1)

    indexed = _search_ids(src["id"])
    assert missing in indexed and deleted not in indexed
    (shown,) = call_action("package_search", fq=f'id:"{stale}"')["results"]
    assert shown["title"] == "Edited in the database"
    assert check(src["id"])["problems"] == []


def test_a_purged_dataset_still_in_the_index_is_taken_out(source, monkeypatch):
    from ckanext.harvestplus.pgsearch.connection import PgSearchConnection

    src = source()
    run_sync(src["id"])
    gone = harvested(src["id"])["EX-009"].id
    with monkeypatch.context() as patch:  # the index misses the purge (Solr was away)
        patch.setattr(PgSearchConnection, "delete", lambda self, *a, **k: "")
        call_action("dataset_purge", id=gone)
    assert gone in _search_ids(src["id"])

    found = check(src["id"])
    assert ("index_deleted", gone) in kinds(found)
    assert check(src["id"], repair=True)["remaining"] == 0
    assert gone not in _search_ids(src["id"])


def test_check_is_for_those_who_may_update_the_source(source):
    import ckan.plugins.toolkit as tk
    import pytest
    from ckan.tests import factories

    src = source()
    stranger = factories.User()
    context = {"user": stranger["name"], "ignore_auth": False}
    with pytest.raises(tk.NotAuthorized):
        call_action("harvestplus_check", context=dict(context), source_id=src["id"])
    with pytest.raises(tk.NotAuthorized):
        call_action("harvestplus_check", context=dict(context))
