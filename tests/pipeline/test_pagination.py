"""Paging strategies walk a listing to its end and never loop."""

from __future__ import annotations

import pytest

from ckanext.harvestplus.backends.paging import (
    NextLink,
    Offset,
    Page,
    PageNumber,
    RepeatedPageError,
    Single,
)

RECORDS = [f"r{i}" for i in range(7)]


def walk(strategy, fetch, url="http://remote.test/api"):
    request = strategy.first(url)
    seen = []
    for _ in range(50):  # bounded: a broken strategy fails instead of hanging
        page = fetch(request)
        seen.extend(page.identities)
        request = strategy.advance(request, page)
        if request is None:
            return seen
    raise AssertionError("listing did not end")


def offset_remote(request):
    start, rows = request.params["start"], request.params["rows"]
    return Page(tuple(RECORDS[start : start + rows]), total=len(RECORDS))


def test_offset_reads_every_record_once():
    assert walk(Offset(page_size=3), offset_remote) == RECORDS


def test_offset_stops_on_a_short_page_without_a_total():
    def remote(request):
        start, rows = request.params["start"], request.params["rows"]
        return Page(tuple(RECORDS[start : start + rows]))

    assert walk(Offset(page_size=3), remote) == RECORDS
    assert walk(Offset(page_size=7), remote) == RECORDS


def test_offset_with_custom_parameter_names_and_base():
    strategy = Offset(page_size=2, start="startPosition", rows="maxRecords", base=1)
    assert strategy.first("http://csw.test").params == {"startPosition": 1, "maxRecords": 2}


def test_page_numbers():
    def remote(request):
        n = request.params["page"]
        return Page(tuple(RECORDS[(n - 1) * 3 : n * 3]))

    assert walk(PageNumber(page_size=3), remote) == RECORDS


def test_next_links_until_the_last_page():
    pages = {
        "http://remote.test/api": Page(("a", "b"), next_url="http://remote.test/api?page=2"),
        "http://remote.test/api?page=2": Page(("c",), next_url=None),
    }
    assert walk(NextLink(), lambda r: pages[r.url]) == ["a", "b", "c"]


def test_single_document():
    assert walk(Single(), lambda r: Page(("a", "b"))) == ["a", "b"]


def test_a_remote_ignoring_paging_parameters_is_caught():
    with pytest.raises(RepeatedPageError, match="page 2 again"):
        walk(Offset(page_size=3), lambda r: Page(tuple(RECORDS[:3])))


def test_a_next_link_pointing_back_is_caught():
    pages = {
        "http://remote.test/api": Page(("a",), next_url="http://remote.test/api?p=2"),
        "http://remote.test/api?p=2": Page(("a",), next_url="http://remote.test/api"),
    }
    with pytest.raises(RepeatedPageError):
        walk(NextLink(), lambda r: pages[r.url])
