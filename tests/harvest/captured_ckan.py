"""A CKAN catalogue on a loopback port that answers with a real portal's JSON.

The real remote CKAN of the tests (tests/remote) shows what CKAN itself
sends; this one serves a capture of EnviDat (tests/data/ckan, a CKAN with a
ckanext-scheming schema) as it was answered, quirks included: JSON held in
text fields, the string ``"null"`` in unset resource fields, resource
extras, an organisation, a licence no register knows. Tests change the
captured dataset before serving it.

``package_search`` (a JSON POST, as the CKAN backend sends it) answers the
datasets its ``fq`` asks for by ``id:(...)``, or all, in id order after the
``+id:{LAST TO *]`` of key paging, ``rows`` at a time: what the backend's two
passes need.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from tests.harvest.loopback import JsonServer

SAMPLE = Path(__file__).parent.parent / "data" / "ckan" / "envidat_package_show.json"
API = "/api/3/action/"


def envidat() -> dict[str, Any]:
    """The captured dataset, as EnviDat's package_show returned it."""
    return dict(json.loads(SAMPLE.read_text(encoding="utf-8"))["result"])


def copy_of(original: dict[str, Any], n: int) -> dict[str, Any]:
    """Copy ``n`` of a captured dataset, with its own id, name and resource ids."""
    dataset = copy.deepcopy(original)
    dataset["id"] = f"{original['id'][:-4]}{n:04d}"
    dataset["name"] = f"{original['name'][:90]}-{n}"
    for resource in dataset["resources"]:
        resource["id"] = f"{resource['id'][:-4]}{n:04d}"
    return dataset


class CapturedCkan(JsonServer):
    def __init__(self, datasets: list[dict[str, Any]]) -> None:
        self.datasets = datasets
        #: Numbers (from 1) of package_search requests to answer with HTTP 500.
        self.failing: set[int] = set()
        self.searches = 0
        super().__init__()

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == API + "package_search":
            self.searches += 1
            if self.searches in self.failing:
                return 500, {"success": False, "error": {"message": "Internal server error"}}
            fq = str(body.get("fq", ""))
            wanted = re.findall(r'"([^"]+)"', fq.partition("id:(")[2])
            after = re.search(r"\+id:\{(\S+) TO \*\]", fq)
            found = sorted(
                (d for d in self.datasets if not wanted or d["id"] in wanted),
                key=lambda d: str(d["id"]),
            )
            if after:
                found = [d for d in found if d["id"] > after.group(1)]
            rows = int(body.get("rows") or len(found))
            results = [copy.deepcopy(d) for d in found[:rows]]
            return 200, {"success": True, "result": {"count": len(found), "results": results}}
        return 404, {"success": False, "error": {"message": f"No action at {path}"}}
