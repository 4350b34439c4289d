"""How a backend walks a remote listing page by page.

A strategy turns "this is the page I just read" into the next request, or
None when the listing is over: :class:`Offset` (``start``/``rows``),
:class:`PageNumber` (``page=1, 2, ...``), :class:`NextLink` (the remote links
the next page), :class:`KeySet` (the records after the last key read) and
:class:`Single` (one document). :func:`walk` drives any of them. All of them
refuse to loop: a remote that ignores the paging parameters and serves the
same page again raises :class:`RepeatedPageError` instead of being read
forever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

T = TypeVar("T")


class RepeatedPageError(Exception):
    """The remote served a page it had already served."""

    def __init__(self, url: str, page_number: int) -> None:
        super().__init__(f"{url} served page {page_number} again: the listing does not advance")
        self.url = url
        self.page_number = page_number


@dataclass(frozen=True)
class Request:
    url: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """What the strategies need to know about a page once it is read."""

    identities: tuple[str, ...]
    #: Link to the next page when the remote gives one (Hydra, "next" links).
    next_url: str | None = None
    #: Total number of records when the remote says it.
    total: int | None = None


class Pagination:
    """Base strategy: subclasses say where the next page is."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._count = 0
        self.records = 0

    def first(self, url: str, params: dict[str, Any] | None = None) -> Request:
        raise NotImplementedError

    def advance(self, current: Request, page: Page) -> Request | None:
        self._count += 1
        self.records += len(page.identities)
        if page.identities:
            fingerprint = hashlib.sha256("\n".join(page.identities).encode()).hexdigest()
            if fingerprint in self._seen:
                raise RepeatedPageError(current.url, self._count)
            self._seen.add(fingerprint)
        return self._next(current, page)

    def _next(self, current: Request, page: Page) -> Request | None:
        raise NotImplementedError

    def _done(self, page: Page, page_size: int | None) -> bool:
        if not page.identities:
            return True
        if page.total is not None and self.records >= page.total:
            return True
        return page_size is not None and len(page.identities) < page_size


class Offset(Pagination):
    """``start``/``rows`` style (CKAN's package_search, CSW's startPosition)."""

    def __init__(self, page_size: int, start: str = "start", rows: str = "rows", base: int = 0):
        super().__init__()
        self.page_size, self.start, self.rows, self.base = page_size, start, rows, base

    def first(self, url: str, params: dict[str, Any] | None = None) -> Request:
        return Request(url, {**(params or {}), self.start: self.base, self.rows: self.page_size})

    def _next(self, current: Request, page: Page) -> Request | None:
        if self._done(page, self.page_size):
            return None
        offset = current.params[self.start] + len(page.identities)
        return replace(current, params={**current.params, self.start: offset})


class PageNumber(Pagination):
    """``page=1, 2, ...`` style (udata, Opendatasoft offsets by page)."""

    def __init__(self, page_size: int | None, page: str = "page", first_page: int = 1):
        super().__init__()
        self.page_size, self.page, self.first_page = page_size, page, first_page

    def first(self, url: str, params: dict[str, Any] | None = None) -> Request:
        return Request(url, {**(params or {}), self.page: self.first_page})

    def _next(self, current: Request, page: Page) -> Request | None:
        if self._done(page, self.page_size):
            return None
        return replace(current, params={**current.params, self.page: current.params[self.page] + 1})


class NextLink(Pagination):
    """The remote links the next page (Hydra ``nextPage``, udata ``next_page``)."""

    def first(self, url: str, params: dict[str, Any] | None = None) -> Request:
        return Request(url, dict(params or {}))

    def _next(self, current: Request, page: Page) -> Request | None:
        if not page.next_url or page.next_url == current.url or self._done(page, None):
            return None
        # The link carries its own query string.
        return Request(page.next_url)


class Single(Pagination):
    """The whole listing in one document (data.json, a single RDF file)."""

    def first(self, url: str, params: dict[str, Any] | None = None) -> Request:
        return Request(url, dict(params or {}))

    def _next(self, current: Request, page: Page) -> Request | None:
        return None


class KeySet(Pagination):
    """The records after the last key read, in key order (CKAN's ``sort=id asc``
    with ``+id:{last TO *]``): records created or deleted remotely during the
    listing cannot shift the pages. The request's ``after`` parameter is the
    last key read ("" at first); ``total`` of a page is how many records were
    left from it on, so a page that holds them all is the last."""

    def __init__(self, after: str = "after") -> None:
        super().__init__()
        self.after = after

    def first(self, url: str, params: dict[str, Any] | None = None) -> Request:
        return Request(url, {**(params or {}), self.after: ""})

    def _next(self, current: Request, page: Page) -> Request | None:
        if not page.identities or (page.total is not None and len(page.identities) >= page.total):
            return None
        return replace(current, params={**current.params, self.after: page.identities[-1]})


def walk(
    strategy: Pagination, first: Request, read: Callable[[Request], tuple[T, Page]]
) -> Iterator[T]:
    """Read a listing to its end: ``read`` fetches one request's page and says
    what the strategy needs of it; what it read is yielded page by page. A page
    served twice raises :class:`RepeatedPageError` before it is yielded again."""
    request: Request | None = first
    while request is not None:
        found, page = read(request)
        following = strategy.advance(request, page)
        if page.identities:
            yield found
        request = following
