"""Paging strategies walk a listing to its end and never loop."""

from __future__ import annotations

import pytest

from ckanext.harvestplus.backends.paging import (
    KeySet,
    NextLink,
    Offset,
    Page,
    PageNumber,
    RepeatedPageError,
    Single,
)
from ckanext.harvestplus.backends.paging import walk as paging_walk

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


def keyset_remote(request, rows=3):
    """Records after the key given, in key order, with how many are left."""
    after = request.params["after"]
    left = [r for r in RECORDS if r > after]
    return Page(tuple(left[:rows]), total=len(left))


def test_key_set_reads_every_record_once():
    assert walk(KeySet(), keyset_remote) == RECORDS
    assert walk(KeySet(), lambda r: keyset_remote(r, rows=100)) == RECORDS


def test_key_set_is_not_shifted_by_a_record_deleted_while_listing():
    records = list(RECORDS)

    def remote(request):
        page = Page(tuple(r for r in records if r > request.params["after"])[:3])
        if request.params["after"] == "":
            records.remove("r1")  # deleted remotely after the first page was read
        return Page(page.identities, total=len([r for r in records if r > request.params["after"]]))

    # Offset paging would skip r3 here; key paging reads every record still there.
    assert walk(KeySet(), remote) == ["r0", "r1", "r2", "r3", "r4", "r5", "r6"]


def test_walk_yields_what_each_page_read_and_stops_a_repeated_page():
    def read(request):
        page = keyset_remote(request)
        return [f"record {i}" for i in page.identities], page

    strategy = KeySet()
    pages = list(paging_walk(strategy, strategy.first("http://remote.test/api"), read))
    assert [len(p) for p in pages] == [3, 3, 1] and pages[0][0] == "record r0"

    stuck = KeySet()
    repeated = paging_walk(stuck, stuck.first("http://x.test"), lambda r: (["a"], Page(("a",))))
    assert next(repeated) == ["a"]
    with pytest.raises(RepeatedPageError):
        next(repeated)
