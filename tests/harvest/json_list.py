"""A catalogue for README's example backend: a JSON array served from loopback
(the ``catalogue`` and ``source`` fixtures of conftest.py serve it), for the tests
that run the pipeline without a remote CKAN."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harvest.conftest import PLUGINS
from tests.harvest.loopback import JsonServer

#: Module marks of tests that harvest with the example backend.
EXAMPLE = [
    pytest.mark.ckan_config("ckan.plugins", f"{PLUGINS} harvestplus_example"),
    pytest.mark.ckan_config("ckanext.harvestplus.http.allowed_private", "127.0.0.1"),
    pytest.mark.usefixtures("with_plugins", "clean_db"),
]


def item(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": f"EX-{n:03d}",
        "title": f"Example {n}",
        "modified": "2026-01-01T00:00:00+00:00",
        "description": f"About example {n}.",
        "files": [f"https://example.org/{n}.csv"],
        **changes,
    }


class Catalogue(JsonServer):
    """A JSON-list catalogue; ``body`` replaces the array (a broken catalogue)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.items = [item(i) for i in range(n)]
        self.body: Any = None

    def answer(self, method, path, query, body):
        return 200, self.items if self.body is None else self.body
