"""Harvest a DKAN 7 site through its CKAN-compatible API (source type ``harvestplus_dkan``).

The CKAN harvester with only DKAN's quirks overridden:

- there is no usable ``package_search``: identities come from
  ``package_list`` and every record is read with ``package_show``, whose
  ``result`` is a list of one dataset;
- ``package_list`` gives no modified date, so every record is read on every
  run; change detection still spares the writes of unchanged records;
- dates may be localised (``mar, 10/12/2019 - 09:23``): they are kept only
  when they parse as ISO 8601;
- tags carry a Drupal vocabulary id and are all free tags;
- the licence often comes as a URL in ``license_title``;
- ``private`` is true on published datasets that the API serves to anyone,
  so it is ignored (the API lists published datasets only);
- resource sizes are text such as ``42 octets``;
- extras may repeat dataset fields (``metadata_modified``), which CKAN
  refuses as extras: those are left out and noted (by the CKAN backend's
  mapping, whose rules apply here too, ``remote_orgs`` and ``remote_groups``
  included);
- a ``package_show`` that fails for one record (an HTTP error, a non-JSON or
  unsuccessful answer) does not stop the others from being read; the listing
  is then reported incomplete, so nothing is removed in that run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ckanext.harvestplus.backends import paging
from ckanext.harvestplus.backends.base import ListingIncomplete, Record, SourceContext
from ckanext.harvestplus.backends.ckan import MAPPING_OPTIONS, CkanBackend, parse_time
from ckanext.harvestplus.pipeline import http

LIST_KEYS = ("organizations_include", "organizations_exclude")
#: Failures of one record's package_show; any other (the site is unreachable) ends the listing.
RECORD_FAILURES = (http.HttpStatusError, http.ResponseTooLarge, ListingIncomplete)


class DkanBackend(CkanBackend):
    name = "harvestplus_dkan"
    title = "DKAN (harvestplus)"
    description = "A DKAN 7 site, through its CKAN-compatible API, with change detection."
    options = MAPPING_OPTIONS

    def request(self, ctx: SourceContext, action: str, body: Mapping[str, Any]) -> http.Response:
        """DKAN answers GET requests with query parameters."""
        return ctx.fetch(self.api(ctx, action), params=dict(body))

    def probe(self, ctx: SourceContext) -> None:
        if not isinstance(self.call(ctx, "package_list", {}), list):
            raise ListingIncomplete("package_list did not answer a list")

    def listing(self, ctx: SourceContext) -> Iterator[list[Record]]:
        """``package_list`` gives every identity in one document
        (:class:`~.paging.Single`); each record is read with ``package_show``."""

        def read(request: paging.Request) -> tuple[list[str], paging.Page]:
            found = self.call(ctx, "package_list", {})
            if not isinstance(found, list):
                raise ListingIncomplete("package_list did not answer a list")
            listed = [str(i) for i in found]
            return listed, paging.Page(tuple(listed))

        strategy = paging.Single()
        first = strategy.first(self.api(ctx, "package_list"))
        identities = [i for listed in paging.walk(strategy, first, read) for i in listed]
        page: list[Record] = []
        failed: list[str] = []
        for identity in identities:
            try:
                result = self.call(ctx, "package_show", {"id": identity})
            except RECORD_FAILURES as e:
                failed.append(f"{identity}: {e}")
                continue
            dataset = result[0] if isinstance(result, list) and result else result
            if not isinstance(dataset, dict):
                # Listed but not shown (e.g. unpublished): not vanished, not readable.
                failed.append(f"{identity}: package_show gave no dataset")
                continue
            page.append(
                Record(
                    identity=str(dataset.get("id") or identity),
                    payload=dataset,
                    modified=parse_time(dataset.get("metadata_modified")),
                )
            )
            if len(page) == 100:
                yield page
                page = []
        if page:
            yield page
        if failed:
            shown = "; ".join(failed[:5]) + ("; ..." if len(failed) > 5 else "")
            raise ListingIncomplete(
                f"package_show failed for {len(failed)} of {len(identities)} records: {shown}"
            )

    def remote_private(self, payload: Any) -> bool:
        # DKAN 7 answers "private": true for published datasets its API serves to
        # anyone (opendata.hautsdefrance.fr does); only published ones are listed.
        return False

    def tags(self, remote: Mapping[str, Any], ctx: SourceContext) -> list[dict[str, str]]:
        plain = [
            {"name": t["name"]}
            for t in remote.get("tags") or []
            if isinstance(t, dict) and t.get("name")
        ]
        return super().tags({"tags": plain}, ctx)

    def resource(self, remote: Mapping[str, Any], ctx: SourceContext) -> dict[str, Any]:
        resource = super().resource(remote, ctx)
        if resource.get("format"):
            resource["format"] = resource["format"].upper()
        return resource
