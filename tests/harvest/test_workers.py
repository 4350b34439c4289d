"""``ckan harvestplus worker gather|fetch``: queued jobs run to Finished, stopped jobs
stay stopped, and a worker outlives an idle connection and a Redis restart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from ckan import model
from ckan.tests.helpers import call_action
from ckanext.harvest import queue
from ckanext.harvest.model import HarvestJob, HarvestObject

from ckanext.harvestplus.workers import Stage, Worker
from tests.harvest.conftest import HARVEST, harvested, worker_ini
from tests.remote.ckan import free_port

pytestmark = HARVEST


@pytest.fixture(autouse=True)
def empty_queues():
    queue.purge_queues()
    yield
    queue.purge_queues()


def gather_queue() -> list[str]:
    return queue.get_connection().lrange(queue.get_gather_routing_key(), 0, -1)


def job(job_id: str) -> HarvestJob:
    model.Session.expire_all()
    return model.Session.get(HarvestJob, job_id)


def test_a_queued_run_is_gathered_fetched_and_finished_by_the_workers(seed, make_source):
    seed(3)
    source = make_source()
    queued = call_action("harvestplus_source_run", id=source["id"])
    assert gather_queue() == [json.dumps({"harvest_job_id": queued["job_id"]})]

    Worker(Stage.GATHER, poll=0.1).run(max_messages=1)
    assert job(queued["job_id"]).status == "Running"  # three objects wait for the fetch worker
    Worker(Stage.FETCH, poll=0.1).run(max_messages=3)

    # Finished by the worker itself, without `ckan harvester run`.
    assert job(queued["job_id"]).status == "Finished"
    summary = call_action("harvestplus_job_summary", id=queued["job_id"])
    assert (summary["created"], summary["errored"]) == (3, 0), summary
    assert len(harvested(source["id"])) == 3


def test_a_resent_message_of_a_finished_object_is_skipped(seed, make_source):
    """``ckan harvester run`` re-sends waiting objects that are not in the queue,
    including the one a worker has just taken; the copy must change nothing."""
    seed(2)
    source = make_source()
    queued = call_action("harvestplus_source_run", id=source["id"])
    Worker(Stage.GATHER, poll=0.1).run(max_messages=1)
    Worker(Stage.FETCH, poll=0.1).run(max_messages=2)
    done = model.Session.query(HarvestObject).filter_by(harvest_job_id=queued["job_id"]).first()
    object_id, package_id = done.id, done.package_id
    modified = model.Package.get(package_id).metadata_modified

    queue.get_fetch_publisher().send({"harvest_object_id": object_id})
    Worker(Stage.FETCH, poll=0.1).run(max_messages=1)
    again = model.Session.get(HarvestObject, object_id)
    assert (again.state, again.report_status, again.retry_times) == ("COMPLETE", "added", 1)
    assert model.Package.get(package_id).metadata_modified == modified
    summary = call_action("harvestplus_job_summary", id=queued["job_id"])
    assert (summary["created"], summary["errored"], summary["status"]) == (2, 0, "Finished")


def test_a_run_with_nothing_to_write_finishes_after_the_gather(seed, make_source):
    seed(2)
    source = make_source()
    first = call_action("harvestplus_source_run", id=source["id"])
    Worker(Stage.GATHER, poll=0.1).run(max_messages=1)
    Worker(Stage.FETCH, poll=0.1).run(max_messages=2)
    assert job(first["job_id"]).status == "Finished"

    again = call_action("harvestplus_source_run", id=source["id"])
    Worker(Stage.GATHER, poll=0.1).run(max_messages=1)
    finished = job(again["job_id"])
    assert finished.status == "Finished"
    assert finished.finished >= finished.gather_finished  # not the unchanged objects' time
    assert call_action("harvestplus_job_summary", id=again["job_id"])["unchanged"] == 2


def test_stop_takes_a_queued_job_off_the_queue_and_the_worker_skips_it(seed, make_source):
    seed(2)
    source = make_source()
    queued = call_action("harvestplus_source_run", id=source["id"])
    call_action("harvest_job_abort", id=queued["job_id"])
    assert gather_queue() == []
    assert job(queued["job_id"]).status == "Finished"

    # A message that was already popped or re-queued (resubmit) is skipped too.
    queue.get_gather_publisher().send({"harvest_job_id": queued["job_id"]})
    Worker(Stage.GATHER, poll=0.1).run(max_messages=1)
    stopped = job(queued["job_id"])
    assert stopped.gather_started is None
    assert model.Session.query(HarvestObject).filter_by(harvest_job_id=stopped.id).count() == 0
    assert harvested(source["id"]) == {}


def test_an_exception_in_a_harvester_does_not_end_the_worker(seed, make_source, monkeypatch):
    from ckanext.harvestplus import harvesters

    seed(1)
    source = make_source()
    first = call_action("harvestplus_source_run", id=source["id"])

    def broken(self, job):
        raise RuntimeError("a harvester bug")  # ckanext-harvest's consumer dies of this

    monkeypatch.setattr(harvesters.PipelineHarvester, "gather_stage", broken)
    worker = Worker(Stage.GATHER, poll=0.1)
    worker.run(max_messages=1)
    assert worker.handled == 1
    monkeypatch.undo()
    call_action("harvest_job_abort", id=first["job_id"])
    second = call_action("harvestplus_source_run", id=source["id"])
    Worker(Stage.GATHER, poll=0.1).run(max_messages=1)
    Worker(Stage.FETCH, poll=0.1).run(max_messages=1)
    assert job(second["job_id"]).status == "Finished"


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, which the test may stop and start."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed (Debian: apt-get install redis-server)"
    port = free_port()

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                return process
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    server = {"process": start(), "port": port}
    server["restart"] = lambda: server.update(process=start())
    yield server
    server["process"].terminate()
    server["process"].wait(timeout=10)


def test_a_worker_process_outlives_an_idle_connection_and_a_redis_restart(
    seed, make_source, own_redis, tmp_path
):
    seed(1)
    source = make_source()
    settings = {"ckan.harvest.mq.port": own_redis["port"], "ckan.harvest.mq.redis_db": 0}
    ini = worker_ini(tmp_path / "worker.ini", **settings)
    log = tmp_path / "worker.log"
    ckan = Path(sys.executable).parent / "ckan"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(ckan), "-c", str(ini), "harvestplus", "worker", "gather", "--max-messages", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        time.sleep(6.5)  # idle past redis-py's 5 s socket timeout
        assert worker.poll() is None, log.read_text()
        own_redis["process"].terminate()
        own_redis["process"].wait(timeout=10)
        # Down long enough to outlast redis-py's own quick retries.
        time.sleep(8)
        assert worker.poll() is None, log.read_text()
        own_redis["restart"]()

        created = call_action("harvest_job_create", source_id=source["id"], run=False)
        model.Session.execute(
            HarvestJob.__table__.update()
            .where(HarvestJob.id == created["id"])
            .values(status="Running")
        )
        model.Session.commit()
        client = redis.Redis(port=own_redis["port"], decode_responses=True)
        client.rpush(queue.get_gather_routing_key(), json.dumps({"harvest_job_id": created["id"]}))
        assert worker.wait(timeout=90) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    output = log.read_text()
    assert "Redis unavailable" in output and "Redis is back" in output, output
    assert job(created["id"]).gather_started is not None
    assert model.Session.query(HarvestObject).filter_by(harvest_job_id=created["id"]).count() == 1


def test_ckan_harvester_run_during_an_in_process_run_queues_none_of_its_objects(seed, make_source):
    """``ckan harvester run`` re-sends waiting objects to the fetch queue; those of a
    ``--sync`` run are this process's, and no worker may import them too."""
    from ckanext.harvestplus.jobs import run_sync

    seed(4)
    source = make_source()
    queued_meanwhile = []

    def tick(done: int, total: int) -> None:
        if done == 0:
            call_action("harvest_jobs_run", context={"ignore_auth": True})
            queued_meanwhile.append(queue.get_connection().llen(queue.get_fetch_routing_key()))

    summary = run_sync(source["id"], progress=tick)
    assert queued_meanwhile == [0]
    assert (summary.created, summary.errored) == (4, 0), summary
