"""The measured side of bench/harvest.py: one implementation at one size, in its own process.

``python bench/harvest_child.py prepare`` builds the schema in the (fresh) database named by
CKAN_SQLALCHEMY_URL: core, ckanext-harvest and harvestplus migrations, as ``ckan db init`` and
``ckan db upgrade -p ...`` do. ``python bench/harvest_child.py run IMPL --size N --remote URL``
loads CKAN the way its CLI does (load_config + make_app, inside a test request context), runs
the workloads of IMPL against the synthetic remote and prints one line ``RESULT {json}``.

Per workload it reports wall seconds, SQL statements (a ``before_cursor_execute`` listener on
CKAN's engine), the process's peak RSS so far (``ru_maxrss``), what the remote served, and a
check of the local result that is not counted (datasets held, datasets carrying the change).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import resource
import sys
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import synthetic_datasets

HERE = Path(__file__).parent
CHANGED_SHARE = 0.05
MUTATE_SEED = 10


class Skipped(Exception):  # noqa: N818 (a state, not a failure)
    """The implementation cannot run in this install; the message says why."""


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load_ckan(ini: str) -> Any:
    """CKAN's app from ``ini``, leaving out plugins that are not installed (yet)."""
    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    conf = load_config(ini)
    installed = {ep.name for ep in importlib.metadata.entry_points(group="ckan.plugins")}
    wanted = conf["ckan.plugins"].split()
    missing = [name for name in wanted if name not in installed]
    if missing:
        print(f"  plugins not installed, left out: {' '.join(missing)}", file=sys.stderr)
    conf["ckan.plugins"] = " ".join(name for name in wanted if name in installed)
    return make_app(conf)._wsgi_app


def prepare(ini: str) -> None:
    from ckan.cli.db import _run_migrations
    from ckan.lib.redis import connect_to_redis

    with load_ckan(ini).test_request_context():
        for plugin in (None, "harvest", "harvestplus", "harvestplus_pgsearch"):
            _run_migrations(plugin)  # type: ignore[arg-type,unused-ignore]  # None: core
        connect_to_redis().flushdb()  # the bench's own Redis database: leftover queues


class SqlCounter:
    """Counts statements sent by CKAN's engine while ``active``."""

    def __init__(self) -> None:
        import ckan.model as model
        import sqlalchemy as sa

        self.count = 0
        self.active = False
        sa.event.listen(model.meta.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        if self.active:
            self.count += 1


def remote_call(remote: str, path: str, **body: Any) -> Any:
    data = json.dumps(body).encode() if body else None
    request = urllib.request.Request(f"{remote}{path}", data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


@contextmanager
def measured(sql: SqlCounter, remote: str, size: int, row: dict[str, Any]) -> Iterator[None]:
    remote_call(remote, "/bench/stats", reset=True)
    sql.count, sql.active = 0, True
    started = time.perf_counter()
    try:
        yield
    finally:
        wall = time.perf_counter() - started
        sql.active = False
        row.update(
            wall_s=round(wall, 2),
            datasets_per_s=round(size / wall, 1),
            sql_statements=sql.count,
            sql_per_dataset=round(sql.count / size, 1),
            peak_rss_mb=peak_rss_mb(),
            remote_served=remote_call(remote, "/bench/stats"),
        )


def local_state(size: int, changed: int) -> dict[str, Any]:
    """Not timed: does the site now hold every remote dataset, with exactly the changes?"""
    import ckan.model as model

    active = model.Session.query(model.Package).filter_by(state="active", type="dataset")
    held = active.count()
    revised = active.filter(model.Package.title.like("%(revision %")).count()
    complete = held == size and revised == changed
    return {"local_datasets": held, "local_revised": revised, "complete": complete}


def site_context() -> dict[str, Any]:
    import ckan.plugins.toolkit as tk

    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"user": user["name"], "ignore_auth": True}


def create_org() -> str:
    import ckan.plugins.toolkit as tk

    org = tk.get_action("organization_create")(site_context(), {"name": "bench-publisher"})
    return str(org["id"])


def as_local(remote: dict[str, Any], owner_org: str) -> dict[str, Any]:
    """What both harvesters hand package_create with their default config: remote groups and
    organisation dropped, the source's organisation as owner."""
    dataset = {k: v for k, v in remote.items() if k not in ("groups", "organization")}
    return {**dataset, "owner_org": owner_org}


def run_bare(size: int, remote: str, sql: SqlCounter, rows: list[dict[str, Any]]) -> None:
    """The ceiling: package_create in a loop, one commit per dataset, same dicts as served."""
    import ckan.plugins.toolkit as tk

    owner_org = create_org()
    create = tk.get_action("package_create")
    row: dict[str, Any] = {"workload": "first"}
    with measured(sql, remote, size, row):
        for dataset in synthetic_datasets.iter_datasets(size):
            create(site_context(), as_local(dataset, owner_org))
    rows.append({**row, **local_state(size, 0)})


def create_source(source_type: str, remote: str, config: str) -> str:
    import ckan.plugins.toolkit as tk

    source = tk.get_action("harvest_source_create")(
        site_context(),
        {
            "name": "bench-source",
            "title": "Synthetic remote CKAN",
            "url": remote,
            "source_type": source_type,
            "config": config,
            "owner_org": create_org(),
            "frequency": "MANUAL",
        },
    )
    return str(source["id"])


def run_ckanext_harvest_job(source_id: str) -> dict[str, Any]:
    """What ``ckan harvester run-test`` does (ckanext.harvest.tests.lib.run_harvest_job), minus
    its package_show per object (test reporting, not harvesting) and the gather queue message."""
    import ckan.model as model
    import ckan.plugins.toolkit as tk
    import sqlalchemy as sa
    from ckanext.harvest import queue
    from ckanext.harvest.model import HarvestJob, HarvestObject

    job_dict = tk.get_action("harvest_job_create")(
        site_context(), {"source_id": source_id, "run": False}
    )
    job = HarvestJob.get(job_dict["id"])
    job.status = "Running"
    job.save()
    harvester = queue.get_harvester("ckan")
    object_ids = queue.gather_stage(harvester, job)
    for object_id in object_ids if isinstance(object_ids, list) else []:
        queue.fetch_and_import_stages(harvester, HarvestObject.get(object_id))
    tk.get_action("harvest_jobs_run")({"ignore_auth": True}, {})
    statuses = (
        model.Session.query(HarvestObject.report_status, sa.func.count())
        .filter(HarvestObject.harvest_job_id == job.id)
        .group_by(HarvestObject.report_status)
    )
    return {"objects": {str(status): count for status, count in statuses}}


def run_harvestplus_sync(source_id: str) -> dict[str, Any]:
    """harvestplus's in-process run; the one place to adapt if run_sync's shape changes."""
    try:
        from ckanext.harvestplus.jobs import run_sync
    except ImportError:
        try:  # releases before the pipeline's restructure
            from ckanext.harvestplus.pipeline.run import run_sync  # type: ignore[no-redef]
        except ImportError as error:
            raise Skipped(f"harvestplus's run_sync not available: {error}") from error
    summary = run_sync(source_id, force=False)
    if dataclasses.is_dataclass(summary) and not isinstance(summary, type):
        return {"summary": dataclasses.asdict(summary)}
    return {"summary": summary if isinstance(summary, dict) else repr(summary)}


def run_harvestplus_queue(source_id: str) -> dict[str, Any]:
    """harvestplus through the queues, as the Harvest Sources UI runs it: the run is queued
    by ``harvestplus_source_run`` and consumed from Redis by the gather worker, then by one
    fetch worker (the code of ``ckan harvestplus worker gather|fetch``, in this process)
    until the job is finished."""
    import ckan.plugins.toolkit as tk
    from ckanext.harvest import queue

    from ckanext.harvestplus.workers import Stage, Worker

    queued = tk.get_action("harvestplus_source_run")(site_context(), {"id": source_id})
    job_id = queued["job_id"]
    Worker(Stage.GATHER, poll=0.05).run(max_messages=1)
    fetch = Worker(Stage.FETCH, poll=0.05)
    while True:
        summary = tk.get_action("harvestplus_job_summary")(site_context(), {"id": job_id})
        if summary["status"] == "Finished":
            return {"summary": summary}
        waiting = queue.get_connection().llen(queue.get_fetch_routing_key())
        if not waiting:
            raise RuntimeError(f"job {job_id} is {summary['status']} with nothing queued")
        fetch.run(max_messages=fetch.handled + waiting)


HARVESTERS: dict[str, tuple[str, str, Callable[[str], dict[str, Any]]]] = {
    # implementation: (source type, source config, one harvest run)
    "ckanext-harvest": ("ckan", "", run_ckanext_harvest_job),
    # Not run by default: its full listing on every run, as a harvester must to see deletions.
    "ckanext-harvest-full": ("ckan", '{"force_all": true}', run_ckanext_harvest_job),
    "harvestplus": ("harvestplus_ckan", "{}", run_harvestplus_sync),
    "harvestplus-queue": ("harvestplus_ckan", "{}", run_harvestplus_queue),
}


def run_harvester(
    impl: str, size: int, remote: str, sql: SqlCounter, rows: list[dict[str, Any]]
) -> None:
    """First harvest, no-change reharvest, then 5% changed on the remote and reharvest."""
    from ckanext.harvest import queue

    source_type, config, harvest = HARVESTERS[impl]
    if queue.get_harvester(source_type) is None:
        raise Skipped(f"no harvester of type {source_type!r}: its plugin is not installed")
    source_id = create_source(source_type, remote, config)
    changed = 0
    for workload in ("first", "no-change", "5% changed"):
        if workload == "5% changed":
            answer = remote_call(remote, "/bench/mutate", share=CHANGED_SHARE, seed=MUTATE_SEED)
            changed = len(answer["changed"])
            print(f"  remote: {changed} datasets changed", file=sys.stderr)
        row: dict[str, Any] = {"workload": workload}
        with measured(sql, remote, size, row):
            outcome = harvest(source_id)
        rows.append({**row, **outcome, **local_state(size, changed)})
        print(f"  {impl} {size} {workload}: {row['wall_s']} s", file=sys.stderr)


def run(impl: str, size: int, remote: str, ini: str) -> dict[str, Any]:
    with load_ckan(ini).test_request_context():
        sql = SqlCounter()
        result: dict[str, Any] = {"implementation": impl, "size": size}
        result["rss_after_ckan_load_mb"] = peak_rss_mb()
        workloads: list[dict[str, Any]] = []
        try:
            if impl == "bare":
                run_bare(size, remote, sql, workloads)
            else:
                run_harvester(impl, size, remote, sql, workloads)
        except Skipped as skipped:
            return {"implementation": impl, "size": size, "skipped": str(skipped)}
        except Exception as error:  # reported with the workloads that finished
            traceback.print_exc()
            result["failed"] = f"{type(error).__name__}: {error}"
    return {**result, "peak_rss_mb": peak_rss_mb(), "workloads": workloads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["prepare", "run"])
    parser.add_argument("implementation", nargs="?", choices=["bare", *HARVESTERS])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--remote", default="http://127.0.0.1:8765")
    parser.add_argument("--ini", default=str(HERE / "bench.ini"))
    args = parser.parse_args()
    if "CKAN_SQLALCHEMY_URL" not in os.environ:
        parser.error("set CKAN_SQLALCHEMY_URL to the benchmark database (it is rebuilt)")
    if args.step == "prepare":
        prepare(args.ini)
        return
    if not args.implementation:
        parser.error("run needs an implementation")
    result = run(args.implementation, args.size, args.remote, args.ini)
    print("RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
