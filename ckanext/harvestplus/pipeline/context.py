"""What a run knows about this site and its source before it reads the remote.

:func:`context_for` builds the :class:`~ckanext.harvestplus.backends.base.SourceContext`
a backend lists and maps with: the source's settings, its owner organisation,
and this site's groups, organisations, licences and dataset schema, read at
run time. :func:`settle` gives a mapped dataset the owner and privacy it is
written with.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.lib.plugins import lookup_package_plugin
from ckan.logic.schema import default_resource_schema

from ckanext.harvestplus.backends.base import (
    Backend,
    LocalSchema,
    Provenance,
    RecordWithheld,
    SourceContext,
)
from ckanext.harvestplus.pipeline import http, sourceconfig
from ckanext.harvestplus.pipeline.hashing import written_hash
from ckanext.harvestplus.types import RunOptions

#: Prefix of the provenance extras on every harvested dataset (indexed as extras_*).
PROVENANCE = "harvestplus_"


WITHHELD = (
    "private (on the remote, or by the source's settings), and this source has no "
    "organisation to keep it private in: not published here"
)


def settle(dataset: dict[str, Any], ctx: SourceContext) -> dict[str, Any]:
    """The mapped dataset with its owner and privacy as they are written.

    The owner is the organisation the mapping chose (``remote_orgs``) or the
    source's. A dataset is private when the remote's is, or when the source
    says ``private``; CKAN keeps only an organisation's datasets private, so a
    record private on the remote with no organisation is withheld.
    """
    owner = str(dataset.get("owner_org") or ctx.owner_org or "")
    private = bool(dataset.get("private")) or bool(ctx.config.get("private", False))
    if private and not owner:
        raise RecordWithheld(WITHHELD)
    return {**dataset, "owner_org": owner, "private": private}


def digest(dataset: dict[str, Any], ctx: SourceContext, found: Provenance) -> str:
    return written_hash(settle(dataset, ctx), found)


def site_user() -> str:
    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return str(user["name"])


def site_context() -> dict[str, Any]:
    """An action context of the site user, for the writes a run makes."""
    return {"model": model, "session": model.Session, "user": site_user(), "ignore_auth": True}


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def naive(value: dt.datetime | None) -> dt.datetime | None:
    """UTC without tzinfo, as ckanext-harvest's timestamp columns hold it."""
    if value is None:
        return None
    if value.tzinfo:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def local_groups() -> frozenset[str]:
    rows = model.Session.query(model.Group.name).filter(
        model.Group.is_organization.is_(False), model.Group.state == "active"
    )
    return frozenset(r[0] for r in rows)


def local_orgs() -> frozenset[str]:
    rows = model.Session.query(model.Group.name).filter(
        model.Group.is_organization.is_(True), model.Group.state == "active"
    )
    return frozenset(r[0] for r in rows)


def _multiple(field: dict[str, Any]) -> bool:
    """Whether a ckanext-scheming field takes a list or an object as it is."""
    words = f"{field.get('preset', '')} {field.get('validators', '')}"
    return bool(field.get("repeating_subfields")) or "multiple" in words


def local_schema() -> LocalSchema:
    """This site's schema of the ``dataset`` type: ckanext-scheming's when that
    plugin is on, else CKAN's default one."""
    try:
        show = tk.get_action("scheming_dataset_schema_show")
    except KeyError:
        show = None
    if show is not None:
        try:
            schema = show({"ignore_auth": True}, {"type": "dataset"})
        except tk.ObjectNotFound:
            schema = None
        if schema:
            fields = [f for f in schema.get("dataset_fields", []) if f.get("field_name")]
            resource = [f for f in schema.get("resource_fields", []) if f.get("field_name")]
            return LocalSchema(
                dataset_fields=frozenset(f["field_name"] for f in fields) | dataset_fields(),
                resource_fields=frozenset(f["field_name"] for f in resource),
                structured=frozenset(f["field_name"] for f in fields + resource if _multiple(f)),
                scheming=True,
            )
    return LocalSchema(
        dataset_fields=dataset_fields(), resource_fields=frozenset(default_resource_schema())
    )


def dataset_fields() -> frozenset[str]:
    """Field names of this site's dataset schema (create and update)."""
    plugin = lookup_package_plugin()
    return frozenset({*plugin.create_package_schema(), *plugin.update_package_schema()})


def licences() -> dict[str, str]:
    """Licence id, URL and title (lower case) -> local licence id."""
    result: dict[str, str] = {}
    for licence in model.Package.get_license_register().values():
        for key in (licence.id, licence.url, licence.title):
            if key:
                result[str(key).strip().lower()] = licence.id
    return result


def organization_id(name_or_id: str) -> str | None:
    group = model.Group.get(name_or_id)
    if group is None or not group.is_organization or group.state != "active":
        return None
    return str(group.id)


def context_for(backend: Backend, source: Any, options: RunOptions) -> SourceContext:
    """A backend context for one source; raises ConfigError for a bad config."""
    cfg = sourceconfig.parse(source.config, backend.options)
    problems = backend.validate(cfg.raw)
    # The source dataset's organisation (ckanext-harvest leaves publisher_id empty).
    source_dataset = model.Package.get(source.id) if source.id else None
    owner = (source_dataset.owner_org if source_dataset else None) or source.publisher_id or ""
    if cfg.organization:
        owner = organization_id(cfg.organization) or ""
        if not owner:
            problems.append(f"organization {cfg.organization!r} does not exist on this site")
    if problems:
        raise sourceconfig.ConfigError(problems)
    return SourceContext(
        source_id=source.id,
        url=source.url.strip(),
        config=cfg.raw,
        policy=http.HttpPolicy.from_config(),
        force=options.force,
        owner_org=owner,
        local_groups=local_groups(),
        licences=licences(),
        schema=local_schema(),
        local_orgs=local_orgs(),
    )
