"""The example backend of README.rst's "Writing a backend", as a test plugin.

test_example.py checks that README.rst shows this code as it is, and runs the
pipeline's scenarios through it: a backend that needs no remote CKAN, so the
engine's tests are fast. It is registered under ``ckan.test_plugins`` in
setup.py (CKAN looks there for plugins only tests load).
"""

# --- README example ---
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from ckanext.harvestplus.backends.base import (
    Backend,
    ListingIncomplete,
    Record,
    RecordError,
    SourceContext,
)
from ckanext.harvestplus.harvesters import PipelineHarvester


class JsonListBackend(Backend):
    """A catalogue serving all its datasets as one JSON array at its URL:
    ``[{"id": "a1", "title": "...", "modified": "2026-01-31T12:00:00+00:00",
    "description": "...", "files": ["https://..."]}, ...]``."""

    name = "example_jsonlist"
    title = "JSON list"
    description = "A catalogue serving its datasets as one JSON array."

    def listing(self, ctx: SourceContext) -> Iterator[list[Record]]:
        items = ctx.fetch(ctx.url).json()
        if not isinstance(items, list):
            raise ListingIncomplete("the catalogue is not a JSON array")
        yield [
            Record(identity=str(item["id"]), payload=item, modified=modified(item))
            for item in items
            if isinstance(item, dict) and item.get("id")
        ]

    def map(self, record: Record, ctx: SourceContext) -> dict[str, Any]:
        item = record.payload
        if not item.get("title"):
            raise RecordError("the record has no title")
        return {
            "name": str(item["id"]).lower(),
            "title": item["title"],
            "notes": item.get("description", ""),
            "resources": [{"url": url} for url in item.get("files", [])],
        }


def modified(item: dict[str, Any]) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(item["modified"])
    except (KeyError, TypeError, ValueError):
        return None


class JsonListHarvester(PipelineHarvester):
    backend = JsonListBackend()


# --- end of README example ---
