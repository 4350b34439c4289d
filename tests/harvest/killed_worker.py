"""A CKAN process that runs one source and dies between package_delete and the commit.

Used by test_deletions.py: ``python killed_worker.py CONFIG SOURCE_ID``. The
process ends with ``os._exit`` right after ``package_delete`` committed, as a
worker killed by the OOM killer or a deploy would: no exception handler, no
rollback, no cleanup.
"""

from __future__ import annotations

import os
import sys

from ckan.cli import load_config
from ckan.config.middleware import make_app


def main(config_path: str, source_id: str) -> None:
    app = make_app(load_config(config_path))
    from ckanext.harvestplus.pipeline import run, store

    def killed(*args: object, **kwargs: object) -> None:
        os._exit(137)

    store.retire = killed  # the step right after package_delete
    with app._wsgi_app.test_request_context():
        run.run_sync(source_id)
    sys.exit("the worker was expected to die during the deletion")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
