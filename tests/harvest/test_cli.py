"""``ckan harvestplus ...`` commands, run through CKAN's own CLI."""

from __future__ import annotations

import json

from ckan import model
from ckan.cli.cli import ckan as ckan_command

from tests.harvest.conftest import HARVEST, harvested

pytestmark = HARVEST


def invoke(cli, *args):
    result = cli.invoke(ckan_command, ["harvestplus", *args])
    return result


def test_backends_lists_the_source_types(cli):
    result = invoke(cli, "backends", "--json")
    assert result.exit_code == 0, result.output
    names = {b["name"]: b for b in json.loads(result.output)}
    assert names["harvestplus_ckan"]["harvestplus"] is True
    assert names["harvestplus_dkan"]["title"] == "DKAN (harvestplus)"
    human = invoke(cli, "backends")
    assert "harvestplus_ckan" in human.output and "CKAN (harvestplus)" in human.output


def test_run_sync_shows_progress_and_a_summary(cli, seed, make_source):
    seed(5)
    source = make_source()
    result = invoke(cli, "run", source["name"], "--sync")
    assert result.exit_code == 0, result.output
    assert "Importing" in result.output  # the progress bar (stderr is mixed in here)
    assert "created 5, updated 0, unchanged 0" in result.output

    again = invoke(cli, "run", source["name"], "--sync", "--json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output)
    assert (summary["created"], summary["unchanged"], summary["status"]) == (0, 5, "Finished")

    forced = json.loads(invoke(cli, "run", source["id"], "--sync", "--force", "--json").output)
    assert forced["updated"] == 5


def test_run_without_sync_queues_a_job(cli, seed, make_source):
    seed(1)
    source = make_source()
    result = invoke(cli, "run", source["name"], "--json")
    assert result.exit_code == 0, result.output
    queued = json.loads(result.output)
    assert queued["source_id"] == source["id"] and queued["job_id"]


def test_run_of_unknown_source_says_so(cli):
    result = invoke(cli, "run", "no-such-source", "--sync")
    assert result.exit_code != 0
    assert "No harvest source 'no-such-source'" in result.output


def test_preview_of_a_source_writes_nothing(cli, seed, make_source):
    remote = seed(3)
    source = make_source()
    result = invoke(cli, "preview", source["name"], "--limit", "2", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["listed"] == 3 and found["plan"] == {"create": 3}
    assert len(found["datasets"]) == 2
    assert {d["name"] for d in found["datasets"]} <= {d["name"] for d in remote}
    assert harvested(source["id"]) == {}
    assert model.Session.execute(model.meta.metadata.tables["package"].select()).rowcount == 1


def test_preview_by_type_and_url(cli, seed, remote_ckan, remote_org):
    seed(2)
    config = json.dumps({"organizations_include": [remote_org["name"]]})
    result = invoke(
        cli,
        "preview",
        "--type",
        "harvestplus_ckan",
        "--url",
        remote_ckan.url,
        "--config",
        config,
        "--limit",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert "Listed 2 record(s)." in result.output
    assert "Plan: create 2" in result.output


def test_preview_reports_a_bad_config(cli, remote_ckan):
    result = invoke(
        cli,
        "preview",
        "--type",
        "harvestplus_ckan",
        "--url",
        remote_ckan.url,
        "--config",
        '{"deletion_policy": "never"}',
    )
    assert result.exit_code != 0
    assert 'deletion_policy must be "keep", "archive" or "delete"' in result.output


def test_orphans_reports_none_on_a_healthy_site(cli, seed, make_source):
    seed(2)
    source = make_source()
    assert invoke(cli, "run", source["name"], "--sync").exit_code == 0
    result = invoke(cli, "orphans")
    assert result.exit_code == 0, result.output
    assert "No orphaned datasets." in result.output


def test_run_wait_follows_a_queued_job_through_the_workers(cli, seed, make_source):
    import threading

    from ckanext.harvest import queue

    from ckanext.harvestplus.workers import Stage, Worker

    queue.purge_queues()
    seed(3)
    source = make_source()

    def workers() -> None:
        Worker(Stage.GATHER, poll=0.2).run(max_messages=1)
        Worker(Stage.FETCH, poll=0.2).run(max_messages=3)

    thread = threading.Thread(target=workers, daemon=True)
    thread.start()
    result = invoke(cli, "run", source["name"], "--wait")
    thread.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert "waiting for the workers" in result.output
    assert "Gathered: 3 record(s) to import." in result.output
    assert ": Finished" in result.output and "created 3, updated 0" in result.output


def test_adopt_lists_then_adopts_detached_datasets(cli, seed, make_source):
    from ckan.tests.helpers import call_action

    seed(2)
    first = make_source()
    assert invoke(cli, "run", first["name"], "--sync").exit_code == 0
    call_action("harvest_source_delete", id=first["id"])
    second = make_source(deletion_policy="keep")

    dry = invoke(cli, "adopt", second["name"], "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Would adopt 2 dataset(s)." in dry.output
    done = json.loads(invoke(cli, "adopt", second["name"], "--json").output)
    assert len(done["adopted"]) == 2 and done["dry_run"] is False
    assert len(harvested(second["id"])) == 2


def test_scheduler_once_ticks_and_exits(cli, seed, make_source):
    from ckan.tests.helpers import call_action

    seed(1)
    source = make_source()
    call_action("harvest_source_patch", id=source["id"], frequency="ALWAYS")
    result = invoke(cli, "scheduler", "--once")
    assert result.exit_code == 0, result.output
    # The source was due: the tick created a job for it and queued it.
    jobs = call_action("harvest_job_list", source_id=source["id"])
    assert [j["status"] for j in jobs] == ["Running"]
    call_action("harvest_job_abort", id=jobs[0]["id"])


def test_ckanext_harvests_source_create_command_creates_a_harvestplus_source(
    cli, remote_ckan, remote_org, local_org
):
    """`ckan harvester source create` prints the new source (it used to end in a
    traceback once the source existed)."""
    from ckan.tests import factories
    from ckanext.harvest.model import HarvestSource

    factories.Sysadmin()  # the command acts as the first sysadmin it finds
    config = json.dumps({"organizations_include": [remote_org["name"]]})
    result = cli.invoke(
        ckan_command,
        ["harvester", "source", "create", "from-cli", remote_ckan.url, "harvestplus_ckan"]
        + ["From the CLI", "true", local_org["id"], "MANUAL", config],
    )

    assert result.exit_code == 0, result.output
    assert result.exception is None, result.exception
    assert "Created new harvest source" in result.output
    assert "type: harvestplus_ckan" in result.output and "jobs: 0" in result.output
    model.Session.expire_all()
    source = model.Session.query(HarvestSource).filter_by(url=remote_ckan.url).one()
    assert json.loads(source.config) == json.loads(config)
