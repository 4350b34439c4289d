"""Preview is the gather engine with a sink that writes nothing: incremental reads,
planned actions per record, and not a row, index document or queue message written."""

from __future__ import annotations

import sqlalchemy as sa
from ckan import model
from ckan.tests.helpers import call_action
from ckanext.harvest import queue

from ckanext.harvestplus.jobs import run_sync
from tests.harvest.conftest import HARVEST

pytestmark = HARVEST

COUNTED = ("package", "harvest_object", "harvest_object_extra", "harvest_job", "harvestplus_job")


def footprint() -> dict[str, int]:
    """Rows of the tables a run writes, index documents, queued messages."""
    with model.ensure_engine().connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in COUNTED}
        counts["index"] = conn.execute(
            sa.text("SELECT count(*) FROM harvestplus_pgsearch.document")
        ).scalar()
    redis = queue.get_connection()
    counts["queued"] = redis.llen(queue.get_gather_routing_key()) + redis.llen(
        queue.get_fetch_routing_key()
    )
    return counts


def test_preview_of_a_harvested_source_reads_only_what_changed_and_writes_nothing(
    seed, make_source, remote_ckan
):
    remote = seed(6)
    source = make_source(deletion_policy="delete", max_vanished_share=0.5)
    run_sync(source["id"])
    remote_ckan.action("package_patch", id=remote[1]["id"], title="Changed on the remote")
    remote_ckan.action("package_delete", id=remote[2]["id"])
    before = footprint()

    found = call_action("harvestplus_preview", id=source["id"], limit=10)

    assert footprint() == before
    assert found["plan"] == {"delete": 1, "unchanged": 4, "update": 1}, found
    assert found["errors"] == [] and found["listing_complete"] is True
    items = {i["remote_id"]: i for i in found["items"]}
    changed = items[remote[1]["id"]]
    assert (changed["action"], changed["dataset"]["title"]) == ("update", "Changed on the remote")
    # Unchanged records are not read again (no dataset to show), as in a run.
    assert {i["action"] for i in items.values() if i["dataset"] is None} == {"unchanged", "delete"}
    assert items[remote[2]["id"]]["action"] == "delete"

    # The run that follows does what the preview said.
    summary = run_sync(source["id"])
    assert (summary.updated, summary.deleted, summary.unchanged) == (1, 1, 4), summary


def test_preview_of_a_source_not_saved_holds_nothing(seed, remote_ckan, remote_org):
    seed(3)
    from ckan.tests import factories

    factories.Dataset(name="preview")  # a dataset's name is no source id
    found = call_action(
        "harvestplus_preview",
        type="harvestplus_ckan",
        url=remote_ckan.url,
        config=f'{{"organizations_include": ["{remote_org["name"]}"]}}',
        limit=2,
    )
    assert found["plan"] == {"create": 3}
    assert [i["action"] for i in found["items"]] == ["create", "create"]
    assert len(found["datasets"]) == 2
