"""Checks made when a harvest source is saved, beyond ckanext-harvest's own.

The URL of a harvestplus source must be a web address that harvesters may
reach and that answers like the chosen kind of catalogue: one cheap request
through the backend (:meth:`Backend.probe`), with short timeouts. An admin may
save anyway when the remote is only down for now (``skip_url_check``), but
never a URL that is not http(s) or that points where harvesters may not go.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import ckan.plugins as p
from ckan import model
from ckan.lib.navl.dictization_functions import Invalid
from ckanext.harvest.interfaces import IHarvester
from ckanext.harvest.model import HarvestSource

from ckanext.harvestplus.backends.base import ListingIncomplete, SourceContext
from ckanext.harvestplus.harvesters import PipelineHarvester
from ckanext.harvestplus.pipeline import http, sourceconfig

SKIP_HINT = (
    " If the catalogue is only down or failing for now, tick “Save even if the remote "
    "does not answer” (skip_url_check) and save again."
)


@dataclass(frozen=True)
class UrlProblem:
    message: str
    #: Whether an admin may save anyway (the remote may be down for now).
    can_skip: bool


def pipeline_harvester(source_type: str | None) -> PipelineHarvester | None:
    for harvester in p.PluginImplementations(IHarvester):
        if isinstance(harvester, PipelineHarvester) and harvester.info()["name"] == source_type:
            return harvester
    return None


def probe_policy() -> http.HttpPolicy:
    """The site's HTTP policy with the patience of a form submission."""
    policy = http.HttpPolicy.from_config()
    return dataclasses.replace(
        policy,
        connect_timeout=min(policy.connect_timeout, 5.0),
        read_timeout=min(policy.read_timeout, 10.0),
        total_timeout=min(policy.total_timeout, 15.0),
        retries=0,
        max_bytes=min(policy.max_bytes, 10 * http.MIB),
    )


def url_problem(url: str, source_type: str | None, config: str | None) -> UrlProblem | None:
    """What is wrong with a source URL for a harvestplus source type (None: fine,
    or not a harvestplus source type)."""
    harvester = pipeline_harvester(source_type)
    if harvester is None:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        return UrlProblem(
            f"Enter the web address of the catalogue, starting with http:// or https:// "
            f"({url!r} is not one).",
            can_skip=False,
        )
    try:
        settings = sourceconfig.loads(config)
    except sourceconfig.ConfigError:
        settings = {}  # the config's own validator names the problem
    backend = harvester.backend
    ctx = SourceContext(source_id="", url=url, config=settings, policy=probe_policy())
    kind = backend.title
    try:
        backend.probe(ctx)
    except http.BlockedAddress as e:
        return UrlProblem(
            f"{host} resolves to {e.address}, which is not a public address: harvesters may "
            "not reach it unless a sysadmin lists it in ckanext.harvestplus.http.allowed_private.",
            can_skip=False,
        )
    except http.BadScheme as e:
        return UrlProblem(f"The remote redirected to a {e.scheme!r} address.", can_skip=False)
    except http.HttpStatusError as e:
        message = f"{url} answered HTTP {e.status} to a {kind} request: is it a {kind} site?"
        return UrlProblem(message + SKIP_HINT, can_skip=True)
    except http.DeadlineExceeded as e:
        message = f"{url} did not answer within {e.seconds:g} s."
        return UrlProblem(message + SKIP_HINT, can_skip=True)
    except http.FetchError as e:
        if e.reason.startswith("gaierror"):
            message = f"The host name {host} does not resolve: check the URL."
        elif "timed out" in e.reason.lower():
            message = f"{url} accepted the connection but did not answer in time."
        else:
            message = f"Nothing answers at {url} ({e.reason})."
        return UrlProblem(message + SKIP_HINT, can_skip=True)
    except (ListingIncomplete, ValueError) as e:
        message = f"{url} does not answer like a {kind} site: {e}"
        return UrlProblem(message + SKIP_HINT, can_skip=True)
    return None


def _normalize(url: str) -> str:
    from ckanext.harvest.logic.validators import _normalize_url

    return str(_normalize_url(url))


def harvest_source_url_validator(
    key: Any, data: dict[Any, Any], errors: dict[Any, Any], context: dict[str, Any]
) -> Any:
    """ckanext-harvest's check that no other source has this URL and config,
    except that deleted sources do not count: the CKAN guide lets an admin
    re-add a source after deleting it."""
    package = context.get("package")
    package_id = package.id if package else data.get(key[:-1] + ("id",))
    new_config = data.get(key[:-1] + ("config",))
    new_url = _normalize(data[key])
    query = (
        model.Session.query(model.Package.id, model.Package.url, HarvestSource.config)
        .outerjoin(HarvestSource, HarvestSource.id == model.Package.id)
        .filter(model.Package.type == "harvest", model.Package.state != "deleted")
    )
    if package_id:
        query = query.filter(model.Package.id != package_id)
    for _id, url, config in query:
        if _normalize(url or "") == new_url and config == new_config:
            raise Invalid(
                "There already is a Harvest Source for this URL (& config): "
                f"url={new_url} config={new_config}"
            )
    return data[key]


def install() -> None:
    """Put the URL validator above into ckanext-harvest's source schema (its schema
    functions read the validator from their module when they build the schema)."""
    from ckanext.harvest.logic import schema

    schema.harvest_source_url_validator = harvest_source_url_validator
