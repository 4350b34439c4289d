"""What a harvester for one kind of remote implements; the pipeline does the rest.

A backend lists the remote's records page by page and maps one record to a
CKAN dataset dict. It never touches the database: planning, change detection,
provenance, ownership, deletions and error capture are the pipeline's
(:mod:`ckanext.harvestplus.pipeline`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ckanext.harvestplus.backends.options import Option
from ckanext.harvestplus.pipeline import http


class RecordError(Exception):
    """One record cannot be mapped; the message is shown in the job report."""


class RecordWithheld(RecordError):  # noqa: N818 (a kind of RecordError)
    """A record this site must not publish as the source is set up (e.g. private on
    the remote while the source has no organisation to keep it private in). A
    local copy the source holds is deleted; otherwise the record is reported."""


@dataclass(frozen=True)
class Record:
    """One remote record as listed.

    ``payload`` is None when the backend knows the record has not changed since
    the last harvest (its modified date is the one recorded then) and did not
    read it again: the pipeline then keeps what the source holds.
    """

    identity: str
    payload: Any = None
    modified: dt.datetime | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a harvested dataset comes from, as the remote says it."""

    remote_url: str = ""
    uri: str = ""
    created: str = ""
    modified: str = ""
    #: The remote's organisation (name) of the record.
    organization: str = ""
    #: The remote's licence title and URL, kept when this site does not know the licence.
    license_title: str = ""
    license_url: str = ""


@dataclass(frozen=True)
class LocalSchema:
    """This site's dataset schema, read at run time: CKAN's default one, or the
    ckanext-scheming schema of the ``dataset`` type when that plugin is on."""

    #: Top-level dataset fields (CKAN's own and the schema's).
    dataset_fields: frozenset[str] = frozenset()
    #: Resource fields the schema names.
    resource_fields: frozenset[str] = frozenset()
    #: Fields that take a list or an object as it is (ckanext-scheming's repeating
    #: subfields and multiple choices); any other field takes text.
    structured: frozenset[str] = frozenset()
    #: Whether the schema is ckanext-scheming's.
    scheming: bool = False


@dataclass
class SourceContext:
    """What a backend may read while listing and mapping one source."""

    source_id: str
    url: str
    config: Mapping[str, Any]
    policy: http.HttpPolicy
    #: Remote identity -> remote modified date recorded at its last import.
    known: Mapping[str, dt.datetime | None] = field(default_factory=dict)
    force: bool = False
    #: Local owner organisation id for harvested datasets ("" for none).
    owner_org: str = ""
    #: Names of the groups that exist on this site.
    local_groups: frozenset[str] = frozenset()
    #: Licence ids this site knows, and licence URLs/titles to ids.
    licences: Mapping[str, str] = field(default_factory=dict)
    #: This site's dataset and resource schema (an extra may not be named like a
    #: dataset field).
    schema: LocalSchema = field(default_factory=LocalSchema)
    #: Names of the active organisations of this site.
    local_orgs: frozenset[str] = frozenset()
    #: What the mapping of the current record left out, for its lines in the job report.
    notes: list[str] = field(default_factory=list)
    #: Identities whose local dataset is private now.
    private_here: frozenset[str] = frozenset()

    def headers(self) -> dict[str, str]:
        key = self.config.get("api_key")
        return {"Authorization": str(key)} if key else {}

    def fetch(self, url: str, **kwargs: Any) -> http.Response:
        """A request to the remote through the source's HTTP policy, with its API key."""
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return http.fetch(url, policy=self.policy, headers=headers, **kwargs)

    def needs_payload(
        self, identity: str, modified: dt.datetime | None, private: bool | None = None
    ) -> bool:
        """Whether a record must be read again to know whether it changed.

        ``private`` is the remote's privacy as listed (None: not listed). A
        remote may change it without a new modified date (CKAN's bulk "Make
        private" does), so a record private on the remote is always read again,
        and so is one public there that is private here (unless the source makes
        everything private).
        """
        if self.force or identity not in self.known or modified is None:
            return True
        if private is True:
            return True
        if private is False and identity in self.private_here and not self.config.get("private"):
            return True
        return self.known[identity] != modified


class ListingIncomplete(Exception):  # noqa: N818 (a state, not a failure of the caller)
    """A page of the remote listing failed; what was listed so far is kept."""


class Backend:
    """Base class of the backends. Subclasses set the names and two methods."""

    #: Source type name users pick (``info()['name']``).
    name = ""
    title = ""
    description = ""
    #: The options this backend understands beyond the pipeline's own
    #: (:data:`~.options.COMMON`); a source's config is checked against both.
    options: tuple[Option, ...] = ()

    @property
    def config_keys(self) -> frozenset[str]:
        return frozenset(o.key for o in self.options)

    def validate(self, config: Mapping[str, Any]) -> list[str]:
        """Problems of a source config beyond what each option declares, such as
        options that exclude each other (empty: valid)."""
        return []

    def listing(self, ctx: SourceContext) -> Iterator[list[Record]]:
        """Yield the remote's records page by page.

        Raise :class:`ListingIncomplete` (or let a fetch error escape) when a
        page cannot be read: records yielded before stay valid, but the run
        will not remove anything.
        """
        raise NotImplementedError

    def map(self, record: Record, ctx: SourceContext) -> dict[str, Any]:
        """The CKAN dataset dict for one record (raise :class:`RecordError`)."""
        raise NotImplementedError

    def provenance(self, record: Record, ctx: SourceContext) -> Provenance:
        return Provenance()

    def remote_private(self, payload: Any) -> bool:
        """Whether a record is private on the remote (its local copy must never be public)."""
        return False

    #: Bumped when the mapping changes what it writes, so that the next run reads
    #: every record again instead of skipping those the remote did not change.
    mapping_version = 1

    def probe(self, ctx: SourceContext) -> None:
        """One cheap request that answers as this kind of catalogue does, made
        when a source is saved; raises :class:`~.http.FetchError` or
        :class:`ListingIncomplete` when the remote does not answer like one."""
        ctx.fetch(ctx.url)

    def original_url(self, remote_url: str) -> str:
        return remote_url
