"""Fixtures for harvesting from the real remote CKAN (tests/remote)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ckan import model
from ckan.tests import factories
from ckan.tests.helpers import call_action
from ckanext.harvest.model import HarvestObject

PLUGINS = "harvest harvestplus harvestplus_pgsearch harvestplus_ckan harvestplus_dkan"
ROOT = Path(__file__).resolve().parents[2]
#: An ini for a CKAN process a test starts: test.ini with ``settings`` over it, and
#: logging sections of its own (CKAN 2.11 reads logging only from the ini it is given).
WORKER_INI = """\
[DEFAULT]
debug = false

[app:main]
use = config:{test_ini}
ckan.plugins = {plugins}
ckanext.harvestplus.http.allowed_private = 127.0.0.1
{settings}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)s [%(name)s] %(message)s
"""


def worker_ini(path: Path, **settings: Any) -> Path:
    """Write an ini for a worker process at ``path`` (setting names with dots as keys)."""
    lines = "\n".join(f"{key} = {value}" for key, value in settings.items())
    path.write_text(WORKER_INI.format(test_ini=ROOT / "test.ini", plugins=PLUGINS, settings=lines))
    return path


#: Module marks of every harvest test: the harvest plugins, loopback allowed, a clean database.
HARVEST = [
    pytest.mark.ckan_config("ckan.plugins", PLUGINS),
    pytest.mark.ckan_config("ckanext.harvestplus.http.allowed_private", "127.0.0.1"),
    pytest.mark.usefixtures("with_plugins", "clean_db"),
]


@pytest.fixture
def remote_org(remote_ckan) -> dict[str, Any]:
    """An organisation of its own on the remote, so tests do not see each other's datasets."""
    return remote_ckan.action("organization_create", name=f"remote-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def seed(remote_ckan, remote_org) -> Callable[..., list[dict[str, Any]]]:
    """Create ``n`` datasets in the remote organisation; returns them."""

    def create(n: int, prefix: str = "ds") -> list[dict[str, Any]]:
        return [
            remote_ckan.action(
                "package_create",
                name=f"{prefix}-{i:03d}-{remote_org['name']}",
                title=f"Dataset {i} of {remote_org['name']}",
                notes=f"Notes about dataset {i}.",
                owner_org=remote_org["id"],
                license_id="cc-by",
                tags=[{"name": "economy"}, {"name": f"tag{i % 3}"}],
                extras=[{"key": "theme", "value": f"theme-{i % 2}"}],
                resources=[{"url": f"http://example.org/{i}.csv", "format": "CSV", "name": "data"}],
            )
            for i in range(n)
        ]

    return create


@pytest.fixture
def local_org() -> dict[str, Any]:
    return factories.Organization()


def create_source(
    url: str,
    source_type: str,
    owner_org: str,
    title: str = "A harvest source",
    skip_url_check: bool = False,
    **config: Any,
) -> dict[str, Any]:
    """A harvest source created by a sysadmin through ckanext-harvest's action
    (``skip_url_check`` for a remote that does not answer)."""
    sysadmin = factories.Sysadmin()
    return call_action(
        "harvest_source_create",
        context={"user": sysadmin["name"]},
        name=f"source-{uuid.uuid4().hex[:8]}",
        title=title,
        url=url,
        source_type=source_type,
        owner_org=owner_org,
        config=json.dumps(config),
        skip_url_check=skip_url_check,
    )


def update_config(source: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Change settings of a source as a sysadmin would (``harvest_source_update``)."""
    config = {**json.loads(source["config"] or "{}"), **changes}
    sysadmin = factories.Sysadmin()
    return call_action(
        "harvest_source_update",
        context={"user": sysadmin["name"]},
        **{k: source[k] for k in ("id", "name", "url", "source_type", "owner_org", "title")},
        config=json.dumps(config),
    )


@pytest.fixture
def make_source(remote_ckan, remote_org, local_org) -> Callable[..., dict[str, Any]]:
    def make(source_type: str = "harvestplus_ckan", url: str = "", **config: Any) -> dict[str, Any]:
        if source_type == "harvestplus_ckan":
            config.setdefault("organizations_include", [remote_org["name"]])
        return create_source(url or remote_ckan.url, source_type, local_org["id"], **config)

    return make


@pytest.fixture
def catalogue() -> Iterator[Any]:
    """A catalogue of ten records for README's example backend (tests/harvest/json_list.py)."""
    from tests.harvest.json_list import Catalogue

    with Catalogue(10) as served:
        yield served


@pytest.fixture
def source(catalogue, local_org) -> Callable[..., dict[str, Any]]:
    """A source of the example backend on ``catalogue``: ``source(**config)``."""

    def make(**config: Any) -> dict[str, Any]:
        return create_source(catalogue.url, "example_jsonlist", local_org["id"], **config)

    return make


def harvested(source_id: str, state: str = "active") -> dict[str, model.Package]:
    """Local datasets a source holds (current objects), by remote id."""
    rows = (
        model.Session.query(HarvestObject.guid, model.Package)
        .join(model.Package, model.Package.id == HarvestObject.package_id)
        .filter(HarvestObject.harvest_source_id == source_id, HarvestObject.current.is_(True))
        .filter(model.Package.state == state)
    )
    return {guid: package for guid, package in rows}


#: The two ways a job runs: in this process (``ckan harvestplus run --sync``), and
#: queued on Redis for the gather and fetch workers (the Harvest Sources UI, cron).
PATHS = ("in-process", "workers")


def run_on_workers(
    source_id: str,
    *,
    force: bool = False,
    confirmed: bool = False,
    confirm_job: str | None = None,
    before_import: Callable[[], None] | None = None,
) -> Any:
    """Queue a run as the Harvest Sources UI does and let the workers do it: the
    gather worker takes the job from Redis, the fetch worker every object, until
    the queues are empty. Returns the job's summary.

    The workers consume in this process, not in processes of their own, so that
    a fault a test injects (monkeypatch) reaches them; the same code runs as
    ``ckan harvestplus worker gather|fetch``. Tests that need separate processes
    (a worker killed, Redis restarted) start them (test_deletions, test_workers).
    """
    from ckanext.harvest import queue

    from ckanext.harvestplus.jobs import summary
    from ckanext.harvestplus.workers import Stage, Worker

    queue.purge_queues()
    queued = call_action(
        "harvestplus_source_run",
        id=source_id,
        force=force,
        confirm=confirmed,
        confirm_job=confirm_job,
    )
    Worker(Stage.GATHER, poll=0.05).run(max_messages=1, until_idle=True)
    if before_import is not None:
        before_import()
    Worker(Stage.FETCH, poll=0.05).run(until_idle=True)
    model.Session.expire_all()
    return summary(queued["job_id"])


def run_in_process(
    source_id: str, *, before_import: Callable[[], None] | None = None, **options: Any
) -> Any:
    """``ckan harvestplus run SOURCE --sync``: gather and import in this process."""
    from ckanext.harvestplus.jobs import run_sync

    def progress(done: int, total: int) -> None:
        if done == 0 and before_import is not None:
            before_import()

    result = run_sync(source_id, progress=progress, **options)
    model.Session.expire_all()
    return result


@pytest.fixture(params=PATHS)
def harvest(request) -> Callable[..., Any]:
    """Run a source to its end and return the job's summary, on each path in turn
    (``harvest(source_id, force=, confirmed=, confirm_job=, before_import=)``)."""
    return run_in_process if request.param == "in-process" else run_on_workers
