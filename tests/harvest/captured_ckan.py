"""A CKAN catalogue on a loopback port that answers with a real portal's JSON.

The real remote CKAN of the tests (tests/remote) shows what CKAN itself
sends; this one serves a capture of EnviDat (tests/data/ckan, a CKAN with a
ckanext-scheming schema) as it was answered, quirks included: JSON held in
text fields, the string ``"null"`` in unset resource fields, resource
extras, an organisation, a licence no register knows. Tests change the
captured dataset before serving it.

``package_search`` (a JSON POST, as the CKAN backend sends it) answers every
dataset; that is enough for the backend's two passes over a small catalogue.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.harvest.loopback import JsonServer

SAMPLE = Path(__file__).parent.parent / "data" / "ckan" / "envidat_package_show.json"
API = "/api/3/action/"


def envidat() -> dict[str, Any]:
    """The captured dataset, as EnviDat's package_show returned it."""
    return dict(json.loads(SAMPLE.read_text(encoding="utf-8"))["result"])


class CapturedCkan(JsonServer):
    def __init__(self, datasets: list[dict[str, Any]]) -> None:
        self.datasets = datasets
        super().__init__()

    def answer(
        self, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == API + "package_search":
            results = copy.deepcopy(self.datasets)
            return 200, {"success": True, "result": {"count": len(results), "results": results}}
        return 404, {"success": False, "error": {"message": f"No action at {path}"}}
