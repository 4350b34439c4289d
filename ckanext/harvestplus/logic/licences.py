"""A harvested dataset's licence as the remote described it.

When a remote's licence is not in this site's licence register, the dataset
keeps the remote's licence id, and the harvest stores the remote's title and
URL as ``harvestplus_license_title`` / ``harvestplus_license_url``. CKAN
would show the bare id as the title; these are shown instead, on the dataset
page and in the API (``license_title``, ``license_url``).
"""

from __future__ import annotations

from typing import Any

from ckan import model

TITLE = "harvestplus_license_title"
URL = "harvestplus_license_url"


def from_remote(dataset: dict[str, Any]) -> dict[str, Any]:
    extras = {
        e.get("key"): e.get("value")
        for e in dataset.get("extras") or []
        if isinstance(e, dict) and e.get("key") in (TITLE, URL)
    }
    if not extras or dataset.get("license_id") in model.Package.get_license_register():
        return dataset
    if extras.get(TITLE):
        dataset["license_title"] = extras[TITLE]
    if extras.get(URL):
        dataset["license_url"] = extras[URL]
    return dataset
