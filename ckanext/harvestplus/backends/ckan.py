"""Harvest another CKAN site through its action API (source type ``harvestplus_ckan``).

Listing is two passes over ``package_search`` with key paging on ``id asc``:
every run lists all identities with their ``metadata_modified`` (1000 per
request, so deletions are always seen), and reads the full dataset only for
records that are new or whose modified date differs from the one recorded at
their last import. A ``force`` run reads everything.

Source config keys of this backend (besides the pipeline's own, see
:mod:`ckanext.harvestplus.pipeline.sourceconfig`)::

    organizations_include / organizations_exclude   remote organisation names
    groups_include / groups_exclude                 remote group names
    fq                                              a Solr filter query
    page_size                                       datasets per full read (100)
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from ckanext.harvestplus.pipeline import http
from ckanext.harvestplus.pipeline.backend import (
    Backend,
    Context,
    ListingIncomplete,
    Provenance,
    Record,
    RecordError,
)
from ckanext.harvestplus.pipeline.harvester import PipelineHarvester

LIST_KEYS = ("organizations_include", "organizations_exclude", "groups_include", "groups_exclude")
ID_ROWS = 1000
TEXT_FIELDS = (
    "title",
    "notes",
    "url",
    "version",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
)
#: Dataset fields every CKAN has, whether or not its schema lets users set them.
CORE_FIELDS = frozenset(
    {"id", "name", "type", "state", "owner_org", "private", "metadata_created", "metadata_modified"}
    | set(TEXT_FIELDS)
)
RESOURCE_FIELDS = ("name", "description", "format", "mimetype", "hash", "resource_type")
#: Extras this site writes itself; a remote's copy of them is dropped.
RESERVED_EXTRAS = re.compile(r"^(harvest_|harvestplus_)")
TAG = re.compile(r"[^\w\-. ]+", re.UNICODE)
RESOURCE_NAMESPACE = uuid.UUID("6f1c2a52-8d7e-4a3c-9b59-0e8a3c1f7d21")


def parse_time(value: Any) -> dt.datetime | None:
    """A CKAN timestamp (ISO 8601, UTC when it has no offset) or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _quote(values: list[str]) -> str:
    return " OR ".join('"{}"'.format(v.replace("\\", "\\\\").replace('"', '\\"')) for v in values)


class CkanBackend(Backend):
    name = "harvestplus_ckan"
    title = "CKAN (harvestplus)"
    description = (
        "Another CKAN site, through its action API: incremental, with change detection "
        "and safe deletions."
    )
    config_keys = frozenset({*LIST_KEYS, "fq", "page_size"})

    # --- configuration ---------------------------------------------------
    def validate(self, config: Mapping[str, Any]) -> list[str]:
        problems = []
        for key in LIST_KEYS:
            value = config.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append(f'{key} must be a list of names, e.g. ["health"]')
        fq = config.get("fq", "")
        if not isinstance(fq, str):
            problems.append("fq must be a string (a Solr filter query)")
        size = config.get("page_size", 100)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
            problems.append("page_size must be a whole number from 1 to 1000")
        return problems

    def filter_query(self, config: Mapping[str, Any]) -> str:
        parts = ["-dataset_type:harvest"]
        for key, field in (("organizations", "organization"), ("groups", "groups")):
            if config.get(f"{key}_include"):
                parts.append(f"+{field}:({_quote(config[f'{key}_include'])})")
            if config.get(f"{key}_exclude"):
                parts.append(f"-{field}:({_quote(config[f'{key}_exclude'])})")
        if config.get("fq"):
            parts.append(f"+({config['fq']})")
        return " ".join(parts)

    # --- listing ---------------------------------------------------------
    def probe(self, ctx: Context) -> None:
        found = self.call(
            ctx, "package_search", {"q": "*:*", "fq": self.filter_query(ctx.config), "rows": 0}
        )
        if not isinstance(found, dict) or "count" not in found:
            raise ListingIncomplete("package_search did not answer a dataset count")

    def api(self, ctx: Context, action: str) -> str:
        return f"{ctx.url.rstrip('/')}/api/3/action/{action}"

    def request(self, ctx: Context, action: str, body: Mapping[str, Any]) -> http.Response:
        """One action API request (CKAN: a JSON POST)."""
        return ctx.get(
            self.api(ctx, action),
            method="POST",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )

    def call(self, ctx: Context, action: str, body: Mapping[str, Any]) -> Any:
        response = self.request(ctx, action, body)
        try:
            answer = response.json()
        except ValueError as e:
            raise ListingIncomplete(f"{action} did not answer JSON: {e}") from e
        if not isinstance(answer, dict) or not answer.get("success"):
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise ListingIncomplete(f"{action} failed on the remote: {error}")
        return answer["result"]

    def listing(self, ctx: Context) -> Iterator[list[Record]]:
        """Key paging over ``id asc``: each page asks for the ids after the last
        one seen, so a record created or deleted remotely during the listing
        cannot shift the pages and hide another one, and a remote that caps
        ``rows`` below 1000 is still read to the end (the listing ends when a
        page's count says nothing is left after it)."""
        fq = self.filter_query(ctx.config)
        size = int(ctx.config.get("page_size", 100))
        last = ""
        seen: set[str] = set()
        while True:
            after = f" +id:{{{last} TO *]" if last else ""
            body = {
                "q": "*:*",
                "fq": fq + after,
                "sort": "id asc",
                "fl": "id,metadata_modified",
                "include_private": True,
                "rows": ID_ROWS,
                "start": 0,
            }
            result = self.call(ctx, "package_search", body)
            listed = [(r["id"], parse_time(r.get("metadata_modified"))) for r in result["results"]]
            listed = [(i, m) for i, m in listed if i not in seen]
            if not listed:
                break
            seen.update(i for i, _ in listed)
            wanted = [i for i, modified in listed if ctx.needs_payload(i, modified)]
            full: dict[str, Any] = {}
            for start in range(0, len(wanted), size):
                full.update(self._read(ctx, wanted[start : start + size]))
            yield [
                Record(identity=i, payload=full.get(i), modified=modified) for i, modified in listed
            ]
            last = listed[-1][0]
            remaining = int(result.get("count", 0)) - len(result["results"])
            if remaining <= 0:
                break

    def _read(self, ctx: Context, ids: list[str]) -> dict[str, Any]:
        """Full records for ``ids``; one the remote no longer has comes back
        without a payload and is treated as not read (left as it is)."""
        result = self.call(
            ctx,
            "package_search",
            {"q": "*:*", "fq": f"id:({_quote(ids)})", "rows": len(ids), "include_private": True},
        )
        if len(result["results"]) < len(ids) and int(result.get("count", 0)) > len(
            result["results"]
        ):
            raise ListingIncomplete(
                f"the remote returned {len(result['results'])} of {len(ids)} datasets asked "
                "for (is its ckan.search.rows_max lower than page_size?)"
            )
        return {d["id"]: d for d in result["results"]}

    # --- mapping ---------------------------------------------------------
    def map(self, record: Record, ctx: Context) -> dict[str, Any]:
        remote = record.payload
        if not isinstance(remote, dict) or not remote.get("name"):
            raise RecordError("the remote dataset has no name")
        dataset: dict[str, Any] = {"name": str(remote["name"])}
        for key in TEXT_FIELDS:
            if remote.get(key):
                dataset[key] = str(remote[key])
        dataset.setdefault("title", dataset["name"])
        licence = self.licence(remote, ctx)
        if licence:
            dataset["license_id"] = licence
        dataset["tags"] = self.tags(remote)
        dataset["groups"] = [
            {"name": g["name"]}
            for g in remote.get("groups") or []
            if isinstance(g, dict) and g.get("name") in ctx.local_groups
        ]
        dataset["resources"] = [
            self.resource(r, ctx) for r in remote.get("resources") or [] if isinstance(r, dict)
        ]
        dataset["extras"] = self.extras(remote, ctx)
        return dataset

    def licence(self, remote: Mapping[str, Any], ctx: Context) -> str | None:
        for key in ("license_id", "license_url", "license_title"):
            value = remote.get(key)
            if isinstance(value, str) and value.strip().lower() in ctx.licences:
                return ctx.licences[value.strip().lower()]
        value = remote.get("license_id")
        return str(value) if value else None

    def tags(self, remote: Mapping[str, Any]) -> list[dict[str, str]]:
        names = set()
        for tag in remote.get("tags") or []:
            name = tag.get("name") if isinstance(tag, dict) else tag
            if not isinstance(name, str) or (isinstance(tag, dict) and tag.get("vocabulary_id")):
                continue
            clean = " ".join(TAG.sub(" ", name).split())[:100]
            if len(clean) >= 2:
                names.add(clean)
        return [{"name": n} for n in sorted(names)]

    def resource(self, remote: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        resource: dict[str, Any] = {"url": str(remote.get("url") or "")}
        if remote.get("id"):
            # Stable across runs, distinct per source: updates keep resource ids.
            resource["id"] = str(uuid.uuid5(RESOURCE_NAMESPACE, f"{ctx.source_id}/{remote['id']}"))
        for key in RESOURCE_FIELDS:
            if remote.get(key):
                resource[key] = str(remote[key])
        size = remote.get("size")
        if isinstance(size, int) or (isinstance(size, str) and size.isdigit()):
            resource["size"] = int(size)
        for key in ("created", "last_modified"):
            if parse_time(remote.get(key)):
                resource[key] = str(remote[key])
        return resource

    def extras(self, remote: Mapping[str, Any], ctx: Context) -> list[dict[str, str]]:
        """Remote extras, except this site's own and those that repeat a dataset field
        (CKAN refuses an extra named like a schema field)."""
        fields = CORE_FIELDS | ctx.dataset_fields
        result = {}
        for extra in remote.get("extras") or []:
            if not isinstance(extra, dict) or not extra.get("key"):
                continue
            key = str(extra["key"])
            if RESERVED_EXTRAS.match(key) or key in fields:
                continue
            value = extra.get("value")
            result[key] = value if isinstance(value, str) else json.dumps(value)
        return [{"key": k, "value": v} for k, v in sorted(result.items())]

    def provenance(self, record: Record, ctx: Context) -> Provenance:
        remote = record.payload if isinstance(record.payload, dict) else {}
        extras = {
            e.get("key"): e.get("value") for e in remote.get("extras") or [] if isinstance(e, dict)
        }
        uri = remote.get("uri") or extras.get("uri") or extras.get("dct:identifier") or ""
        return Provenance(
            remote_url=f"{ctx.url.rstrip('/')}/dataset/{remote.get('name', record.identity)}",
            uri=str(uri),
            created=str(remote.get("metadata_created") or ""),
            modified=str(remote.get("metadata_modified") or ""),
        )


class CkanHarvester(PipelineHarvester):
    backend = CkanBackend()
