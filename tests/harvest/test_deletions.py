"""Deletion policy, the mass-deletion guard, and deletions that fail half way.

Every fault-injection test breaks one step of a deletion, checks that the
dataset is still managed by its source, runs the source again and checks that
the deletion completed and that no orphan exists (datasets referenced by the
source's objects with no current object for their remote id).
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.tests.helpers import call_action
from ckanext.harvest.model import HarvestJob

from ckanext.harvestplus.jobs import run_sync
from ckanext.harvestplus.pipeline import context, importer, orphans
from ckanext.harvestplus.store import objects as store
from tests.harvest.conftest import HARVEST, PATHS, harvested, run_on_workers

pytestmark = HARVEST


def assert_no_orphans(source_id):
    assert orphans.find(source_id) == []


@pytest.fixture
def ten(seed, make_source, remote_ckan):
    """A source holding ten remote datasets; returns (source, remote datasets)."""

    def make(**config):
        remote = seed(10)
        source = make_source(**config)
        first = run_sync(source["id"])
        assert first.created == 10, first
        return source, remote

    return make


def remove_remotely(remote_ckan, datasets):
    for d in datasets:
        remote_ckan.action("package_delete", id=d["id"])


def bring_back(remote_ckan, dataset):
    remote_ckan.action("package_patch", id=dataset["id"], state="active")


def test_delete_policy_deletes_vanished_dataset_and_restores_it_when_back(
    ten, remote_ckan, harvest
):
    source, remote = ten(deletion_policy="delete")
    gone = remote[0]
    local_id = harvested(source["id"])[gone["id"]].id
    remove_remotely(remote_ckan, [gone])

    summary = harvest(source["id"])

    assert (summary.deleted, summary.unchanged) == (1, 9), summary
    assert model.Package.get(local_id).state == "deleted"
    assert gone["id"] not in harvested(source["id"])
    assert_no_orphans(source["id"])

    bring_back(remote_ckan, gone)
    summary = harvest(source["id"])
    # Counted as restored: the record's deleted dataset comes back, none is created.
    assert (summary.restored, summary.created) == (1, 0), summary
    model.Session.expire_all()
    restored = harvested(source["id"])[gone["id"]]
    assert (restored.id, restored.name, restored.state) == (local_id, gone["name"], "active")


def test_archive_policy_waits_for_grace_period_then_archives_and_restores(
    ten, remote_ckan, monkeypatch, harvest
):
    source, remote = ten(grace_days=7)
    gone = remote[1]
    local_id = harvested(source["id"])[gone["id"]].id
    remove_remotely(remote_ckan, [gone])

    summary = harvest(source["id"])
    assert (summary.archived, summary.kept) == (0, 1), summary
    assert model.Package.get(local_id).private is False

    later = context.now() + dt.timedelta(days=8)
    monkeypatch.setattr(context, "now", lambda: later)
    summary = harvest(source["id"])
    assert summary.archived == 1, summary
    archived = call_action("package_show", id=local_id)
    extras = {e["key"]: e["value"] for e in archived["extras"]}
    assert archived["private"] is True and archived["state"] == "active"
    assert "Not listed by the remote" in extras["harvestplus_archive_reason"]
    assert extras["harvestplus_archived_at"].startswith(later.date().isoformat())
    assert_no_orphans(source["id"])

    # Archived datasets are not archived again, and come back when listed again.
    assert harvest(source["id"]).archived == 0
    bring_back(remote_ckan, gone)
    summary = harvest(source["id"])
    assert summary.restored == 1, summary
    restored = call_action("package_show", id=local_id)
    assert restored["private"] is False
    assert not any(e["key"].startswith("harvestplus_archive") for e in restored["extras"])


def test_keep_policy_leaves_vanished_datasets(ten, remote_ckan, harvest):
    source, remote = ten(deletion_policy="keep")
    remove_remotely(remote_ckan, remote[:3])
    summary = harvest(source["id"])
    assert (summary.deleted, summary.archived, summary.kept) == (0, 0, 3), summary
    assert len(harvested(source["id"])) == 10


def test_mass_deletion_guard_holds_removals_until_confirmed(ten, remote_ckan, harvest):
    source, remote = ten(deletion_policy="delete")
    remove_remotely(remote_ckan, remote[:3])  # 30% > 10%

    summary = harvest(source["id"])
    assert summary.deleted == 0 and summary.kept == 3, summary
    assert "3 of 10 datasets (30%) vanished" in summary.guard
    assert any("vanished" in e for e in summary.errors)
    assert len(harvested(source["id"])) == 10

    summary = harvest(source["id"], confirmed=True)
    assert summary.deleted == 3, summary
    assert len(harvested(source["id"])) == 7
    assert_no_orphans(source["id"])


def test_guard_holds_removals_when_the_listing_fails_half_way(
    ten, remote_ckan, monkeypatch, harvest
):
    from ckanext.harvestplus.backends.ckan import CkanBackend

    source, remote = ten(deletion_policy="delete", page_size=2)
    remove_remotely(remote_ckan, remote[:1])
    remote_ckan.action("package_patch", id=remote[5]["id"], title="Changed before the failure")

    def failing_read(self, ctx, ids):
        raise RuntimeError("remote went away")

    with monkeypatch.context() as patch:
        patch.setattr(CkanBackend, "_read", failing_read)
        summary = harvest(source["id"], force=True)
    assert summary.deleted == 0, summary
    assert "listing was incomplete" in summary.guard
    assert any("remote went away" in e for e in summary.errors)
    assert len(harvested(source["id"])) == 10

    summary = harvest(source["id"])
    assert (summary.deleted, summary.updated) == (1, 1), summary
    assert_no_orphans(source["id"])


# --- fault injection: each failure leaves the dataset managed; the next run completes ---


def _delete_one(ten, remote_ckan):
    source, remote = ten(deletion_policy="delete")
    gone = remote[0]
    local_id = harvested(source["id"])[gone["id"]].id
    remove_remotely(remote_ckan, [gone])
    return source, gone, local_id


def _still_managed(source, gone, local_id):
    held = harvested(source["id"], state=model.Package.get(local_id).state)
    assert held[gone["id"]].id == local_id, "the source no longer holds the dataset"


def _completes(source, gone, local_id, harvest=run_sync):
    summary = harvest(source["id"])
    assert summary.deleted == 1 and summary.errored == 0, summary
    model.Session.expire_all()
    assert model.Package.get(local_id).state == "deleted"
    assert gone["id"] not in harvested(source["id"])
    assert_no_orphans(source["id"])
    # Idempotent: nothing left to do.
    again = harvest(source["id"])
    assert again.deleted == 0 and again.errored == 0, again


def test_package_delete_raising_in_a_plugin_hook(ten, remote_ckan, monkeypatch, harvest):
    from ckanext.harvest.plugin import Harvest

    source, gone, local_id = _delete_one(ten, remote_ckan)

    def hook_fails(self, context, data_dict):
        raise RuntimeError("a plugin hook failed")

    with monkeypatch.context() as patch:
        patch.setattr(Harvest, "after_dataset_delete", hook_fails)
        summary = harvest(source["id"])
    assert summary.errored == 1 and summary.deleted == 0, summary
    _still_managed(source, gone, local_id)
    _completes(source, gone, local_id, harvest)


def test_package_delete_raising_in_the_search_index(ten, remote_ckan, monkeypatch, harvest):
    from ckanext.harvestplus.pgsearch.connection import PgSearchConnection

    source, gone, local_id = _delete_one(ten, remote_ckan)

    def index_fails(self, *args, **kwargs):
        raise RuntimeError("search index unavailable")

    with monkeypatch.context() as patch:
        patch.setattr(PgSearchConnection, "delete", index_fails)
        summary = harvest(source["id"])
    assert summary.errored == 1 and summary.deleted == 0, summary
    _still_managed(source, gone, local_id)
    _completes(source, gone, local_id, harvest)


def test_database_error_after_package_delete(ten, remote_ckan, monkeypatch, harvest):
    source, gone, local_id = _delete_one(ten, remote_ckan)

    def db_fails(*args, **kwargs):
        raise sa.exc.OperationalError("UPDATE harvest_object", {}, Exception("connection lost"))

    with monkeypatch.context() as patch:
        patch.setattr(store, "retire", db_fails)
        summary = harvest(source["id"])
    assert summary.errored == 1, summary
    assert model.Package.get(local_id).state == "deleted"  # package_delete committed
    _still_managed(source, gone, local_id)
    _completes(source, gone, local_id, harvest)


def test_job_aborted_before_the_deletion(ten, remote_ckan, harvest):
    source, gone, local_id = _delete_one(ten, remote_ckan)

    def abort():
        call_action("harvest_job_abort", source_id=source["id"])

    summary = harvest(source["id"], before_import=abort)
    assert summary.deleted == 0 and summary.status == "Finished", summary
    _still_managed(source, gone, local_id)
    _completes(source, gone, local_id, harvest)


def test_gather_failing_half_way_writes_nothing_and_the_job_still_finishes(
    ten, remote_ckan, monkeypatch, harvest
):
    source, gone, local_id = _delete_one(ten, remote_ckan)

    def gather_fails(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT harvest_object", {}, Exception("disk full"))

    with monkeypatch.context() as patch:
        patch.setattr(store, "insert_objects", gather_fails)
        summary = harvest(source["id"])
    assert summary.status == "Finished", summary
    assert any("gather stage failed" in e and "disk full" in e for e in summary.errors)
    assert (summary.deleted, summary.unchanged) == (0, 0), summary
    _still_managed(source, gone, local_id)
    _completes(source, gone, local_id, harvest)


@pytest.mark.parametrize("path", PATHS)
def test_worker_killed_between_package_delete_and_commit(ten, remote_ckan, tmp_path, path):
    import subprocess
    import sys
    from pathlib import Path

    from ckanext.harvest import queue

    from ckanext.harvestplus.workers import Stage, Worker
    from tests.harvest.conftest import worker_ini

    source, gone, local_id = _delete_one(ten, remote_ckan)
    root = Path(__file__).parents[2]
    ini = worker_ini(tmp_path / "worker.ini")
    if path == "workers":  # queued and gathered here; the fetch worker process dies
        queue.purge_queues()
        call_action("harvestplus_source_run", id=source["id"])
        Worker(Stage.GATHER, poll=0.05).run(max_messages=1, until_idle=True)
    model.Session.commit()
    killed = Path(__file__).with_name("killed_worker.py")
    done = subprocess.run(
        [sys.executable, str(killed), str(ini), source["id"], path],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert done.returncode == 137, done.stderr[-3000:]
    model.Session.expire_all()
    assert model.Package.get(local_id).state == "deleted"  # package_delete had committed
    _still_managed(source, gone, local_id)

    # The dead worker's job is still "Running"; the job timeout (or an admin) ends it.
    call_action("harvest_job_abort", source_id=source["id"])
    _completes(source, gone, local_id, run_on_workers if path == "workers" else run_sync)


@pytest.mark.ckan_config("ckan.harvest.timeout", "5")
def test_queue_purged_and_job_timed_out(ten, remote_ckan):
    from ckanext.harvest import queue

    from ckanext.harvestplus.pipeline.context import site_user

    source, gone, local_id = _delete_one(ten, remote_ckan)
    api = {"user": site_user()}
    job = call_action("harvest_job_create", context=dict(api), source_id=source["id"], run=False)
    job_obj = HarvestJob.get(job["id"])
    job_obj.status = "Running"
    job_obj.save()
    harvester = queue.get_harvester("harvestplus_ckan")
    queued = queue.gather_stage(harvester, job_obj)  # what the gather consumer does...
    assert len(queued) == 1
    queue.purge_queues()  # ...but the fetch queue is purged before any object is fetched
    past = dt.datetime.utcnow() - dt.timedelta(hours=1)
    model.Session.execute(
        sa.text(
            "UPDATE harvest_object SET import_finished = :t, gathered = :t "
            "WHERE harvest_job_id = :j"
        ),
        {"t": past, "j": job["id"]},
    )
    model.Session.execute(
        sa.text("UPDATE harvest_job SET gather_finished = :t, created = :t WHERE id = :j"),
        {"t": past, "j": job["id"]},
    )
    model.Session.commit()
    call_action("harvest_jobs_run", context=dict(api), source_id=source["id"])
    model.Session.expire_all()
    assert HarvestJob.get(job["id"]).status == "Finished"  # timed out
    _still_managed(source, gone, local_id)
    _completes(source, gone, local_id)


def test_orphans_left_by_a_flip_before_delete_are_found_and_repaired(ten, remote_ckan, cli):
    """The defect of harvesters that flip objects first: no current object, dataset active."""
    import json

    from ckan.cli.cli import ckan as ckan_command

    source, remote = ten(deletion_policy="delete")
    stranded = [harvested(source["id"])[d["id"]] for d in remote[:2]]
    model.Session.execute(
        sa.text("UPDATE harvest_object SET current = false WHERE guid = ANY(:g)"),
        {"g": [d["id"] for d in remote[:2]]},
    )
    model.Session.commit()

    report = cli.invoke(ckan_command, ["harvestplus", "orphans", source["name"], "--json"])
    assert report.exit_code == 0, report.output
    found = json.loads(report.output)
    assert found["repaired"] is False
    assert {o["package_id"] for o in found["orphans"]} == {p.id for p in stranded}
    assert {o["action"] for o in found["orphans"]} == {"delete"}

    repaired = cli.invoke(ckan_command, ["harvestplus", "orphans", source["name"], "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "deleted" in repaired.output
    model.Session.expire_all()
    assert {model.Package.get(p.id).state for p in stranded} == {"deleted"}
    assert_no_orphans(source["id"])
    # Still listed remotely: the next run brings the same datasets back, managed again.
    summary = run_sync(source["id"])
    assert (summary.restored, summary.created) == (2, 0), summary
    assert {harvested(source["id"])[d["id"]].id for d in remote[:2]} == {p.id for p in stranded}


def test_orphans_are_reattached_under_keep_and_updated_by_the_next_run(ten, remote_ckan):
    source, remote = ten(deletion_policy="keep")
    stranded = harvested(source["id"])[remote[0]["id"]]
    model.Session.execute(
        sa.text("UPDATE harvest_object SET current = false WHERE guid = :g"), {"g": remote[0]["id"]}
    )
    model.Session.commit()
    done = orphans.repair(source["id"])
    assert [(o.package_id, o.action) for o in done] == [(stranded.id, "reattached")]
    assert harvested(source["id"])[remote[0]["id"]].id == stranded.id
    summary = run_sync(source["id"])
    assert (summary.updated, summary.created, summary.unchanged) == (1, 0, 9), summary
    assert_no_orphans(source["id"])


def test_confirming_a_held_job_removes_what_it_held_and_holds_what_vanished_since(ten, remote_ckan):
    source, remote = ten(deletion_policy="delete")
    remove_remotely(remote_ckan, remote[:3])
    held_job = run_sync(source["id"])
    assert held_job.guard and held_job.deleted == 0
    remove_remotely(remote_ckan, remote[3:5])  # two more vanish before the admin confirms

    confirmed = call_action(
        "harvestplus_source_run", id=source["id"], confirm_job=held_job.job_id, sync=True
    )
    assert confirmed["deleted"] == 3, confirmed
    assert "2 of 10 datasets (20%) vanished" in confirmed["guard"]
    assert set(harvested(source["id"])) == {d["id"] for d in remote[3:]}

    # The first report is no longer the latest: it cannot confirm anything now.
    with pytest.raises(Exception, match="A later run replaced this report"):
        call_action("harvestplus_source_run", id=source["id"], confirm_job=held_job.job_id)
    again = call_action(
        "harvestplus_source_run", id=source["id"], confirm_job=confirmed["job_id"], sync=True
    )
    assert again["deleted"] == 2 and again["guard"] is None
    assert_no_orphans(source["id"])


def test_a_job_stopped_while_gathering_changes_nothing(ten, remote_ckan, monkeypatch, harvest):
    from ckanext.harvestplus.backends.ckan import CkanBackend

    source, remote = ten(deletion_policy="delete", page_size=2)
    remove_remotely(remote_ckan, remote[:1])
    listing = CkanBackend.listing

    def stopped_half_way(self, ctx):
        for number, page in enumerate(listing(self, ctx)):
            if number == 0:  # an admin clicks Stop (another process, committed)
                with model.ensure_engine().begin() as conn:
                    conn.execute(
                        sa.text("UPDATE harvest_job SET status = 'Finished' WHERE source_id = :s"),
                        {"s": source["id"]},
                    )
            yield page

    monkeypatch.setattr(CkanBackend, "listing", stopped_half_way)
    summary = harvest(source["id"])
    assert "Stopped while gathering; nothing was changed." in summary.errors
    assert (summary.deleted, summary.unchanged, summary.created) == (0, 0, 0), summary
    assert len(harvested(source["id"])) == 10


def test_stop_says_who_stopped_the_job_and_when(seed, make_source):
    from ckan.tests import factories

    seed(1)
    source = make_source()
    queued = call_action("harvestplus_source_run", id=source["id"])
    admin = factories.Sysadmin()
    call_action("harvest_job_abort", context={"user": admin["name"]}, id=queued["job_id"])
    job = HarvestJob.get(queued["job_id"])
    assert job.finished is not None
    assert [e.message[: len(f"Stopped by {admin['name']} at ")] for e in job.gather_errors] == [
        f"Stopped by {admin['name']} at "
    ]
    call_action("harvest_job_abort", id=queued["job_id"])  # again: nothing more to say
    assert len(HarvestJob.get(queued["job_id"]).gather_errors) == 1


# --- the search index agrees with the database after any failed write ---------------


@contextlib.contextmanager
def _commit_fails(package_id: str, **values):
    """Every commit of the dataset with these values fails (after CKAN wrote the
    index), as when the database connection drops at the commit."""

    def commit_fails(session):
        if any(
            isinstance(o, model.Package)
            and o.id == package_id
            and all(getattr(o, k) == v for k, v in values.items())
            for o in session.identity_map.values()
        ):
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    sa.event.listen(model.Session, "before_commit", commit_fails)
    try:
        yield
    finally:
        sa.event.remove(model.Session, "before_commit", commit_fails)


def _indexed(package_id: str) -> bool:
    found = call_action("package_search", fq=f'id:"{package_id}"', include_private=True)
    return found["count"] == 1


def test_a_package_delete_whose_commit_fails_stays_in_the_search_index(
    ten, remote_ckan, monkeypatch, harvest
):
    """CKAN writes the index before its commit; when the commit fails, the dataset
    is still active in the database and must still be found."""
    source, gone, local_id = _delete_one(ten, remote_ckan)
    assert _indexed(local_id)

    with _commit_fails(local_id, state="deleted"):
        summary = harvest(source["id"])
    assert summary.errored == 1 and summary.deleted == 0, summary
    model.Session.expire_all()
    assert model.Package.get(local_id).state == "active"
    assert _indexed(local_id), "active in the database, missing from the search index"
    _still_managed(source, gone, local_id)
    _completes(source, gone, local_id, harvest)
    assert not _indexed(local_id)


def test_an_update_whose_commit_fails_leaves_the_indexed_copy_as_in_the_database(
    ten, remote_ckan, harvest
):
    source, remote = ten()
    changed = remote[2]
    local_id = harvested(source["id"])[changed["id"]].id
    remote_ckan.action("package_patch", id=changed["id"], title="A title the commit loses")

    with _commit_fails(local_id, title="A title the commit loses"):
        summary = harvest(source["id"])
    assert summary.errored == 1, summary
    found = call_action("package_search", fq=f'id:"{local_id}"')["results"]
    assert [d["title"] for d in found] == [model.Package.get(local_id).title]
    assert found[0]["title"] != "A title the commit loses"
    assert harvest(source["id"]).updated == 1


def test_a_failed_write_logs_the_dataset_and_the_error_not_the_payload(
    ten, remote_ckan, monkeypatch, caplog, harvest
):
    source, remote = ten()
    changed = remote[4]
    remote_ckan.action("package_patch", id=changed["id"], title="Changed")

    def db_fails(*args, **kwargs):
        raise sa.exc.OperationalError(
            "UPDATE harvest_object SET current = false",
            {"extras": '[{"key": "contact", "value": "SECRET-PAYLOAD"}]'},
            Exception("connection lost"),
        )

    # Migrations run by other fixtures reload the logging config, which disables
    # loggers that already exist.
    monkeypatch.setattr(importer.log, "disabled", False)
    with monkeypatch.context() as patch, caplog.at_level("WARNING"):
        patch.setattr(store, "retire", db_fails)
        summary = harvest(source["id"])
    assert summary.errored == 1, summary
    assert changed["id"] in caplog.text and "connection lost" in caplog.text
    assert "SECRET-PAYLOAD" not in caplog.text
    reported = (
        model.Session.execute(
            sa.text(
                "SELECT e.message FROM harvest_object_error e JOIN harvest_object o "
                "ON o.id = e.harvest_object_id WHERE o.harvest_job_id = :j"
            ),
            {"j": summary.job_id},
        )
        .scalars()
        .all()
    )
    assert len(reported) == 1 and "connection lost" in reported[0], reported
    assert "SECRET-PAYLOAD" not in reported[0]
