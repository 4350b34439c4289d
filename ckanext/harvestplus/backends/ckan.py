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
    remote_orgs                                     "only_local" or "create"
    remote_groups                                   "only_local" (default) or "create"
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from ckanext.harvestplus.backends import paging
from ckanext.harvestplus.backends.base import (
    Backend,
    ListingIncomplete,
    Provenance,
    Record,
    RecordError,
    SourceContext,
)
from ckanext.harvestplus.backends.options import Group, Kind, Option
from ckanext.harvestplus.pipeline import http

LIST_KEYS = ("organizations_include", "organizations_exclude", "groups_include", "groups_exclude")
#: How remote organisations and groups become local ones (ckanext-harvest's option values).
MAPPING_CHOICES = ("only_local", "create")
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
#: Remote dataset keys the mapping handles itself, or that CKAN computes: never
#: copied as they are (the rest of the remote's top-level fields is).
HANDLED = CORE_FIELDS | {
    "capacity",
    "license_id",
    "license_title",
    "license_url",
    "isopen",
    "tags",
    "groups",
    "resources",
    "extras",
    "organization",
    "creator_user_id",
    "num_resources",
    "num_tags",
    "relationships_as_subject",
    "relationships_as_object",
    "tracking_summary",
    "revision_id",
    "plugin_data",
    "tag_string",
    "log_message",
}
#: Remote resource keys that describe the remote's copy only, or that CKAN sets.
RESOURCE_HANDLED = frozenset(
    {
        "id",
        "package_id",
        "position",
        "state",
        "revision_id",
        "tracking_summary",
        "cache_url",
        "cache_last_updated",
        "url_type",  # "upload" would make the remote's file look like one of this site's
        "datastore_active",
        "datastore_contains_all_records_of_source_file",
        "metadata_modified",
        "size",
        "url",
        "created",
        "last_modified",
    }
)
#: Extras this site writes itself; a remote's copy of them is dropped.
RESERVED_EXTRAS = re.compile(r"^(harvest_|harvestplus_)")
TAG = re.compile(r"[^\w\-. ]+", re.UNICODE)
RESOURCE_NAMESPACE = uuid.UUID("6f1c2a52-8d7e-4a3c-9b59-0e8a3c1f7d21")


def empty(value: Any) -> bool:
    """None, blank text, an empty list or object, or the text "null" (what CKAN's
    upload form leaves in unset resource fields)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip() or value.strip() == "null"
    return isinstance(value, (list, dict)) and not value


def text(value: Any) -> str:
    """A remote value as text: objects and lists as JSON, never Python's printed form."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, bool)) or value is None:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def parse_time(value: Any) -> dt.datetime | None:
    """A CKAN timestamp (ISO 8601, UTC when it has no offset) or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _capacity(listed: Mapping[str, Any]) -> bool | None:
    """The remote's privacy as its search index lists it (None: not listed)."""
    capacity = listed.get("capacity")
    return None if capacity not in ("public", "private") else capacity == "private"


def private_flag(remote: Mapping[str, Any]) -> bool:
    """Whether a remote dataset is private; any sign of it counts (fails closed)."""
    value = remote.get("private")
    if isinstance(value, str):
        value = value.strip().lower() in ("true", "1", "yes")
    return bool(value) or remote.get("capacity") == "private"


def list_of(remote: Mapping[str, Any], key: str, ctx: SourceContext) -> list[Any]:
    """A list the remote should send (tags, groups, resources); anything else is noted."""
    value = remote.get(key)
    if isinstance(value, list):
        return value
    if not empty(value):
        ctx.notes.append(f"{key} dropped: the remote sent {type(value).__name__}, not a list")
    return []


def _quote(values: list[str]) -> str:
    return " OR ".join('"{}"'.format(v.replace("\\", "\\\\").replace('"', '\\"')) for v in values)


#: Where a remote's organisations and groups go here (the CKAN and DKAN backends).
MAPPING_OPTIONS = (
    Option(
        "remote_orgs",
        "Remote organisations",
        'Where a dataset goes: "only_local", the local organisation named like its '
        'remote one when there is one (else the source\'s); "create", that '
        "organisation, created when missing. Unset: the source's organisation. "
        "Sysadmins only.",
        Kind.CHOICE,
        choices=MAPPING_CHOICES,
    ),
    Option(
        "remote_groups",
        "Remote groups",
        '"only_local": a dataset joins the local groups named like its remote ones, '
        'the others are dropped and noted; "create": missing groups are created '
        "(sysadmins only).",
        Kind.CHOICE,
        default="only_local",
        choices=MAPPING_CHOICES,
    ),
)


class CkanBackend(Backend):
    name = "harvestplus_ckan"
    title = "CKAN (harvestplus)"
    description = (
        "Another CKAN site, through its action API: incremental, with change detection "
        "and safe deletions."
    )
    options = (
        *(
            Option(
                key,
                key.replace("_", " ").capitalize(),
                f"Only datasets {'in' if key.endswith('include') else 'not in'} these remote "
                f"{key.split('_')[0]} (names).",
                Kind.NAMES,
                group=Group.FILTER,
                default=[],
            )
            for key in LIST_KEYS
        ),
        Option(
            "fq",
            "Filter query",
            "A Solr filter query the remote's package_search applies, e.g. res_format:CSV.",
            Kind.TEXT,
            group=Group.FILTER,
            default="",
            expected="a string (a Solr filter query)",
            empty=True,
        ),
        Option(
            "page_size",
            "Page size",
            "Full records read per request.",
            Kind.INTEGER,
            default=100,
            minimum=1,
            maximum=1000,
        ),
        *MAPPING_OPTIONS,
    )

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
    def probe(self, ctx: SourceContext) -> None:
        found = self.call(
            ctx, "package_search", {"q": "*:*", "fq": self.filter_query(ctx.config), "rows": 0}
        )
        if not isinstance(found, dict) or "count" not in found:
            raise ListingIncomplete("package_search did not answer a dataset count")

    def api(self, ctx: SourceContext, action: str) -> str:
        return f"{ctx.url.rstrip('/')}/api/3/action/{action}"

    def request(self, ctx: SourceContext, action: str, body: Mapping[str, Any]) -> http.Response:
        """One action API request (CKAN: a JSON POST)."""
        return ctx.fetch(
            self.api(ctx, action),
            method="POST",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )

    def call(self, ctx: SourceContext, action: str, body: Mapping[str, Any]) -> Any:
        response = self.request(ctx, action, body)
        try:
            answer = response.json()
        except ValueError as e:
            raise ListingIncomplete(f"{action} did not answer JSON: {e}") from e
        if not isinstance(answer, dict) or not answer.get("success"):
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise ListingIncomplete(f"{action} failed on the remote: {error}")
        return answer["result"]

    def listing(self, ctx: SourceContext) -> Iterator[list[Record]]:
        """Key paging over ``id asc`` (:class:`~.paging.KeySet`): each page asks
        for the ids after the last one seen, so a record created or deleted
        remotely during the listing cannot shift the pages and hide another
        one, and a remote that caps ``rows`` below 1000 is still read to the
        end (the listing ends when a page's count says nothing is left after
        it). Full records are read only for the identities that need them."""
        fq = self.filter_query(ctx.config)
        size = int(ctx.config.get("page_size", 100))

        def read(request: paging.Request) -> tuple[list[Record], paging.Page]:
            last = request.params["after"]
            body = {
                "q": "*:*",
                "fq": fq + (f" +id:{{{last} TO *]" if last else ""),
                "sort": "id asc",
                "fl": "id,metadata_modified,capacity",
                "include_private": True,
                "rows": ID_ROWS,
                "start": 0,
            }
            result = self.call(ctx, "package_search", body)
            listed = [
                (r["id"], parse_time(r.get("metadata_modified")), _capacity(r))
                for r in result["results"]
            ]
            wanted = [
                i for i, modified, private in listed if ctx.needs_payload(i, modified, private)
            ]
            full: dict[str, Any] = {}
            for start in range(0, len(wanted), size):
                full.update(self._read(ctx, wanted[start : start + size]))
            records = [
                Record(identity=i, payload=full.get(i), modified=modified)
                for i, modified, _ in listed
            ]
            page = paging.Page(tuple(i for i, _, _ in listed), total=int(result.get("count", 0)))
            return records, page

        strategy = paging.KeySet()
        yield from paging.walk(strategy, strategy.first(self.api(ctx, "package_search")), read)

    def _read(self, ctx: SourceContext, ids: list[str]) -> dict[str, Any]:
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
    def map(self, record: Record, ctx: SourceContext) -> dict[str, Any]:
        """The local dataset for one remote dataset; the rules are in README.rst
        ("How a remote CKAN dataset is mapped"). What is left out is noted in
        ``ctx.notes`` for the record's lines in the job report."""
        remote = record.payload
        if not isinstance(remote, dict) or not remote.get("name"):
            raise RecordError("the remote dataset has no name")
        dataset: dict[str, Any] = {"name": str(remote["name"])}
        for key in TEXT_FIELDS:
            if not empty(remote.get(key)):
                dataset[key] = text(remote[key])
        dataset.setdefault("title", dataset["name"])
        licence = self.licence(remote, ctx)
        if licence:
            dataset["license_id"] = licence
        dataset["tags"] = self.tags(remote, ctx)
        dataset["groups"] = self.groups(remote, ctx)
        dataset["resources"] = [
            self.resource(r, ctx) for r in list_of(remote, "resources", ctx) if isinstance(r, dict)
        ]
        extras = self.remote_extras(remote, ctx)
        dataset.update(self.schema_fields(remote, extras, ctx))
        dataset["extras"] = self.extras(remote, extras, ctx)
        owner = self.owner(remote, ctx)
        if owner:
            dataset["owner_org"] = owner
        if self.remote_private(remote):
            dataset["private"] = True
        return dataset

    def remote_private(self, payload: Any) -> bool:
        return isinstance(payload, dict) and private_flag(payload)

    def licence(self, remote: Mapping[str, Any], ctx: SourceContext) -> str | None:
        for key in ("license_id", "license_url", "license_title"):
            value = remote.get(key)
            if isinstance(value, str) and value.strip().lower() in ctx.licences:
                return ctx.licences[value.strip().lower()]
        value = remote.get("license_id")
        return text(value) if not empty(value) else None

    def tags(self, remote: Mapping[str, Any], ctx: SourceContext) -> list[dict[str, str]]:
        names = set()
        for tag in list_of(remote, "tags", ctx):
            name = tag.get("name") if isinstance(tag, dict) else tag
            if not isinstance(name, str):
                continue
            if isinstance(tag, dict) and tag.get("vocabulary_id"):
                ctx.notes.append(f"tag {name!r} dropped: it belongs to a remote vocabulary")
                continue
            clean = " ".join(TAG.sub(" ", name).split())[:100]
            if len(clean) >= 2:
                names.add(clean)
            else:
                ctx.notes.append(f"tag {name!r} dropped: not a valid CKAN tag")
        return [{"name": n} for n in sorted(names)]

    def groups(self, remote: Mapping[str, Any], ctx: SourceContext) -> list[dict[str, str]]:
        """Remote groups by name: those this site has (``remote_groups``
        ``only_local``, the default), or all of them (``create``: the import
        creates the missing ones)."""
        create = ctx.config.get("remote_groups") == "create"
        result = []
        for group in list_of(remote, "groups", ctx):
            name = group.get("name") if isinstance(group, dict) else None
            if not isinstance(name, str) or not name:
                continue
            if name in ctx.local_groups or create:
                result.append({"name": name})
            else:
                ctx.notes.append(f"group {name!r} dropped: there is no such group on this site")
        return result

    def owner(self, remote: Mapping[str, Any], ctx: SourceContext) -> str | None:
        """The local organisation (name) ``remote_orgs`` picks, or None for the source's."""
        mode = ctx.config.get("remote_orgs")
        name = self.remote_organization(remote)
        if not mode or not name:
            return None
        if mode == "create" or name in ctx.local_orgs:
            return name
        ctx.notes.append(
            f"organisation {name!r} does not exist on this site: the dataset goes to the "
            "source's organisation"
        )
        return None

    @staticmethod
    def remote_organization(remote: Mapping[str, Any]) -> str:
        org = remote.get("organization")
        name = org.get("name") if isinstance(org, dict) else None
        return str(name) if name else ""

    def remote_extras(self, remote: Mapping[str, Any], ctx: SourceContext) -> dict[str, Any]:
        """The remote's extras by key, without this site's own."""
        result: dict[str, Any] = {}
        extras = remote.get("extras")
        if isinstance(extras, dict):  # the action API's older shape: {key: value}
            extras = [{"key": k, "value": v} for k, v in extras.items()]
        for extra in extras if isinstance(extras, list) else []:
            if not isinstance(extra, dict) or not extra.get("key"):
                continue
            key = str(extra["key"])
            if RESERVED_EXTRAS.match(key):
                continue
            result[key] = extra.get("value")
        return result

    def value_for(self, name: str, value: Any, ctx: SourceContext) -> Any:
        """A value for a local schema field: as it is for a structured field, else text."""
        if name in ctx.schema.structured:
            if isinstance(value, str) and value.startswith(("[", "{")):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            if isinstance(value, (list, dict)):
                return value
        return text(value)

    def schema_fields(
        self, remote: Mapping[str, Any], extras: dict[str, Any], ctx: SourceContext
    ) -> dict[str, Any]:
        """Fields of this site's schema beyond CKAN's core ones, from the remote's
        field of the same name or else its extra of that name (which is then used up)."""
        result = {}
        for name in sorted(ctx.schema.dataset_fields - HANDLED):
            if name.startswith("__"):
                continue
            value = remote.get(name)
            if empty(value):
                value = extras.pop(name, None)
            else:
                extras.pop(name, None)  # the field wins over an extra of its name
            if not empty(value):
                result[name] = self.value_for(name, value, ctx)
        return result

    def extras(
        self, remote: Mapping[str, Any], extras: dict[str, Any], ctx: SourceContext
    ) -> list[dict[str, str]]:
        """Everything else the remote said, as extras: its remaining extras, then
        its top-level fields this site's schema does not have (an extra wins over a
        field of the same name). An extra named like a dataset field of this site is
        dropped (CKAN refuses it) and noted."""
        fields = CORE_FIELDS | ctx.schema.dataset_fields
        result: dict[str, str] = {}
        for key, value in extras.items():
            if key in fields:
                if not empty(value):
                    ctx.notes.append(f"extra {key!r} dropped: {key} is a dataset field here")
                continue
            if not empty(value):
                result[key] = text(value)
        for key, value in remote.items():
            if key in HANDLED or key in fields or key in result or empty(value):
                continue
            if not RESERVED_EXTRAS.match(key):
                result[key] = text(value)
        return [{"key": k, "value": v} for k, v in sorted(result.items())]

    def resource(self, remote: Mapping[str, Any], ctx: SourceContext) -> dict[str, Any]:
        """A remote resource: its URL, the fields this site has, and every other key
        as a resource extra (objects as JSON text); the remote's id and modified
        date are kept as ``harvestplus_remote_id`` and ``harvestplus_remote_modified``."""
        resource: dict[str, Any] = {"url": text(remote.get("url") or "")}
        if remote.get("id"):
            # Stable across runs, distinct per source: updates keep resource ids.
            resource["id"] = str(uuid.uuid5(RESOURCE_NAMESPACE, f"{ctx.source_id}/{remote['id']}"))
            resource["harvestplus_remote_id"] = str(remote["id"])
        if not empty(remote.get("metadata_modified")):
            resource["harvestplus_remote_modified"] = text(remote["metadata_modified"])
        size = remote.get("size")
        if isinstance(size, int) and not isinstance(size, bool):
            resource["size"] = size
        elif isinstance(size, str) and size.strip().isdigit():
            resource["size"] = int(size)
        elif not empty(size):
            ctx.notes.append(f"resource size {size!r} dropped: not a number of bytes")
        for key in ("created", "last_modified"):
            if parse_time(remote.get(key)):
                resource[key] = str(remote[key])
        for key, value in remote.items():
            if key in RESOURCE_HANDLED or RESERVED_EXTRAS.match(key) or empty(value):
                continue
            resource[key] = self.value_for(key, value, ctx)
        return resource

    def provenance(self, record: Record, ctx: SourceContext) -> Provenance:
        remote = record.payload if isinstance(record.payload, dict) else {}
        extras = self.remote_extras(remote, ctx)
        uri = remote.get("uri") or extras.get("uri") or extras.get("dct:identifier") or ""
        licence = remote.get("license_id")
        unknown = (
            bool(licence)
            and self.licence(remote, ctx) == str(licence)
            and (str(licence).strip().lower() not in ctx.licences)
        )
        return Provenance(
            remote_url=f"{ctx.url.rstrip('/')}/dataset/{remote.get('name', record.identity)}",
            uri=text(uri),
            created=str(remote.get("metadata_created") or ""),
            modified=str(remote.get("metadata_modified") or ""),
            organization=self.remote_organization(remote),
            license_title=text(remote.get("license_title") or "") if unknown else "",
            license_url=text(remote.get("license_url") or "") if unknown else "",
        )
