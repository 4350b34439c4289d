"""A DKAN 7 catalogue on a loopback port, built from a real DKAN answer.

Serves the two actions of DKAN's CKAN-compatible API that the DKAN backend
uses, over real HTTP (:mod:`tests.harvest.loopback`):

``/api/3/action/package_list``
    the identities of the published datasets (ids, or names as some DKAN
    sites answer);
``/api/3/action/package_show?id=``
    ``result`` is a list of one dataset; an unknown id is a 404 with
    ``"success": false``.

Every dataset is a copy of the one in ``tests/data/dkan`` (a capture of
opendata.hautsdefrance.fr) with its own id, name, title, landing page and
resource ids; the rest keeps DKAN's quirks (French dates, licence URL in
``license_title``, ``"state": "Active"``, vocabulary tags, ``"42 octets"``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import uuid
from pathlib import Path
from typing import Any

from tests.harvest.loopback import JsonServer

SAMPLE = Path(__file__).parent.parent / "data" / "dkan" / "dkan_hautsdefrance_package_show.json"
NAMESPACE = uuid.UUID("0d7b8f5e-3c41-4b8e-9a57-2f6e1c9d4a10")
API = "/api/3/action/"


def sample() -> dict[str, Any]:
    """The captured dataset, as DKAN's package_show returned it."""
    return dict(json.loads(SAMPLE.read_text(encoding="utf-8"))["result"][0])


def copy_of(original: dict[str, Any], n: int) -> dict[str, Any]:
    """Copy ``n`` of the captured dataset: its own identity, the same shape and quirks."""
    dataset = copy.deepcopy(original)
    dataset["id"] = str(uuid.uuid5(NAMESPACE, f"dataset/{n}"))
    dataset["name"] = f"{original['name']}-{n:03d}"
    dataset["title"] = f"{original['title']} - {n}"
    dataset["url"] = original["url"].replace(original["name"], dataset["name"])
    for resource in dataset["resources"]:
        resource["id"] = str(uuid.uuid5(NAMESPACE, f"resource/{n}/{resource['id']}"))
    return dataset


class DkanServer(JsonServer):
    """``n`` datasets served like DKAN 7; tests change the catalogue in between runs."""

    def __init__(self, n: int, *, list_by: str = "id") -> None:
        original = sample()
        self.datasets: list[dict[str, Any]] = [copy_of(original, i) for i in range(n)]
        self.list_by = list_by
        self.hidden: set[str] = set()
        self.failing: dict[str, int] = {}
        #: ``(action, id)`` of every request answered, in order.
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        super().__init__()

    # --- changes to the catalogue ------------------------------------------
    def _find(self, id_or_name: str) -> dict[str, Any] | None:
        for dataset in self.datasets:
            if id_or_name in (dataset["id"], dataset["name"]):
                return dataset
        return None

    def set_title(self, dataset_id: str, title: str) -> None:
        """Edit a dataset as a DKAN editor would: new title, new modified date."""
        with self._lock:
            dataset = self._find(dataset_id)
            assert dataset is not None, dataset_id
            dataset["title"] = title
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            dataset["metadata_modified"] = stamp

    def delete(self, *dataset_ids: str) -> None:
        """Unpublish datasets: gone from package_list, 404 from package_show."""
        with self._lock:
            self.hidden.update(dataset_ids)

    def bring_back(self, *dataset_ids: str) -> None:
        with self._lock:
            self.hidden.difference_update(dataset_ids)

    def fail(self, dataset_id: str, status: int = 500) -> None:
        """Make package_show of one dataset answer ``status`` until :meth:`heal`."""
        with self._lock:
            self.failing[dataset_id] = status

    def heal(self, dataset_id: str) -> None:
        with self._lock:
            self.failing.pop(dataset_id, None)

    def shows(self) -> list[str]:
        """Ids or names asked of package_show so far."""
        return [i for action, i in self.requests if action == "package_show"]

    # --- HTTP --------------------------------------------------------------
    def answer(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            published = [d for d in self.datasets if d["id"] not in self.hidden]
            if path == API + "package_list":
                self.requests.append(("package_list", ""))
                return 200, {"success": True, "result": [d[self.list_by] for d in published]}
            if path == API + "package_show":
                wanted = (query.get("id") or [""])[0]
                self.requests.append(("package_show", wanted))
                dataset = self._find(wanted)
                if dataset is not None and dataset["id"] in self.failing:
                    return self.failing[dataset["id"]], {"success": False}
                if dataset is None or dataset["id"] in self.hidden:
                    error = {"message": "Not found", "__type": "Not Found Error"}
                    return 404, {"success": False, "error": error}
                return 200, {
                    "help": "Return the metadata of a dataset (package) and its resources.",
                    "success": True,
                    "result": [copy.deepcopy(dataset)],
                }
            return 404, {"success": False, "error": {"message": f"No action at {path}"}}
