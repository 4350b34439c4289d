"""A CKAN process that imports one source's run and dies between package_delete and the commit.

Used by test_deletions.py: ``python killed_worker.py CONFIG SOURCE_ID PATH``. With
PATH ``in-process`` the process runs the source as ``ckan harvestplus run --sync``
does; with ``workers`` it is a fetch worker taking the objects of a run already
queued and gathered from Redis. It ends with ``os._exit`` right after
``package_delete`` committed, as a worker killed by the OOM killer or a deploy
would: no exception handler, no rollback, no cleanup.
"""

from __future__ import annotations

import os
import sys

from ckan.cli import load_config
from ckan.config.middleware import make_app


def main(config_path: str, source_id: str, path: str) -> None:
    app = make_app(load_config(config_path))
    from ckanext.harvestplus import jobs
    from ckanext.harvestplus.store import objects
    from ckanext.harvestplus.workers import Stage, Worker

    def killed(*args: object, **kwargs: object) -> None:
        os._exit(137)

    objects.retire = killed  # the step right after package_delete
    with app._wsgi_app.test_request_context():
        if path == "workers":
            Worker(Stage.FETCH, poll=0.05).run(until_idle=True)
        else:
            jobs.run_sync(source_id)
    sys.exit("the worker was expected to die during the deletion")


if __name__ == "__main__":
    main(*sys.argv[1:4])
