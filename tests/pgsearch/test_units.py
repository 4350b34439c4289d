"""Pure pieces of the index: Solr's mm rule, date math, schema, documents."""

from __future__ import annotations

import datetime as dt

import pytest
from ckan.lib.search.common import SearchQueryError

from ckanext.harvestplus.pgsearch.clauses import Conj, Mod, Occur, normalise_operators, occurs
from ckanext.harvestplus.pgsearch.datemath import parse_date
from ckanext.harvestplus.pgsearch.dismax import min_should_match
from ckanext.harvestplus.pgsearch.documents import DocumentError, solr_date, to_row
from ckanext.harvestplus.pgsearch.schema import Kind, ckan_schema

CKAN_MM = "2<-1 5<80%"


@pytest.mark.parametrize(
    ("optional", "wanted"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 4), (6, 4), (10, 8)]
)
def test_ckan_default_mm(optional, wanted):
    assert min_should_match(CKAN_MM, optional) == wanted


@pytest.mark.parametrize(
    ("spec", "optional", "wanted"),
    [("3", 5, 3), ("-1", 5, 4), ("75%", 4, 3), ("-25%", 4, 3), ("100%", 3, 3), ("9", 3, 3)],
)
def test_mm_forms(spec, optional, wanted):
    assert min_should_match(spec, optional) == wanted


def test_bad_mm_is_a_query_error():
    with pytest.raises(SearchQueryError, match="mm"):
        min_should_match("lots", 3)


NOW = dt.datetime(2026, 11, 22, 15, 30, 45, 123456, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NOW", NOW),
        ("NOW-1DAY", NOW - dt.timedelta(days=1)),
        ("NOW/DAY", dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)),
        ("NOW/DAY+1DAY", dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)),
        ("NOW-2MONTHS/MONTH", dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)),
        ("2020-02-29T10:00:00Z", dt.datetime(2020, 2, 29, 10, tzinfo=dt.timezone.utc)),
        ("2020-02-29T10:00:00Z+1YEAR", dt.datetime(2021, 2, 28, 10, tzinfo=dt.timezone.utc)),
    ],
)
def test_date_math(text, expected):
    assert parse_date(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["NOW-1FORTNIGHT", "yesterday", "NOW+", "2020", "2020-01-01"])
def test_bad_date_math_is_a_query_error(text):
    with pytest.raises(SearchQueryError):
        parse_date(text, now=NOW)


def test_solr_date_format():
    assert solr_date("2024-01-02T03:04:05.678901") == "2024-01-02T03:04:05.678Z"
    assert solr_date("2024-01-02T03:04:05+02:00") == "2024-01-02T01:04:05Z"
    with pytest.raises(DocumentError, match="Invalid Date String"):
        solr_date("someday")


def test_field_kinds_come_from_ckans_schema():
    schema = ckan_schema()
    assert schema.field("name").kind is Kind.STRING
    assert schema.field("notes").kind is Kind.TEXT
    assert schema.field("author").kind is Kind.TEXT_GENERAL
    assert schema.field("harvest_date").kind is Kind.DATE
    assert schema.field("extras_theme").kind is Kind.TEXT
    assert schema.field("vocab_themes").multi
    assert schema.field("data_dict").kind is Kind.UNINDEXED
    assert not schema.field("harvest_source_id").stored  # "*" is indexed, not stored
    assert schema.copies_into_text("res_description")
    # Solr does not chain copy fields: res_url reaches "urls" but not "text".
    assert not schema.copies_into_text("res_url")
    assert "urls" in schema.copy_targets("res_url")
    assert not schema.copies_into_text("state")


def test_document_row_weights_and_stored_fields():
    row = to_row(
        {
            "index_id": "abc",
            "site_id": "site",
            "name": "river-data",
            "title": "River data",
            "tags": ["water", ""],
            "notes": "Flow rates",
            "state": "active",
            "views_total": "12",
            "permission_labels": ["public"],
            "organization": None,
            "metadata_modified": "2024-01-02T03:04:05.678901Z",
        },
        ckan_schema(),
    )
    assert row.text_a == "river-data River data"
    assert row.text_b == "water"
    assert "Flow rates" in row.text_d
    assert row.terms["tags"] == ["water"]  # empty values dropped, as pysolr does
    assert "organization" not in row.terms
    assert "permission_labels" not in row.stored  # stored="false"
    assert row.terms["views_total"] == ["12"]
    assert row.stored["metadata_modified"] == "2024-01-02T03:04:05.678Z"


def test_document_without_unique_key_is_refused():
    with pytest.raises(DocumentError, match="index_id"):
        to_row({"name": "x"}, ckan_schema())


MUST, SHOULD, NOT_ = Occur.MUST, Occur.SHOULD, Occur.MUST_NOT
N, AND, OR = Conj.NONE, Conj.AND, Conj.OR


@pytest.mark.parametrize(
    ("items", "default_and", "expected"),
    [
        # q.op=AND, as CKAN sends it
        ([(N, Mod.NONE), (N, Mod.NONE), (OR, Mod.NONE)], True, [MUST, SHOULD, SHOULD]),
        ([(N, Mod.NONE), (AND, Mod.NONE), (OR, Mod.NONE)], True, [MUST, SHOULD, SHOULD]),
        ([(N, Mod.REQ), (OR, Mod.NONE)], True, [SHOULD, SHOULD]),
        ([(N, Mod.NONE), (N, Mod.NOT), (OR, Mod.NONE)], True, [MUST, NOT_, SHOULD]),
        # default operator OR
        ([(N, Mod.NONE), (N, Mod.NONE)], False, [SHOULD, SHOULD]),
        ([(N, Mod.NONE), (AND, Mod.NONE), (N, Mod.NONE)], False, [MUST, MUST, SHOULD]),
        ([(N, Mod.REQ), (N, Mod.NOT), (N, Mod.NONE)], False, [MUST, NOT_, SHOULD]),
    ],
)
def test_lucene_clause_occurs(items, default_and, expected):
    assert occurs([(c, m, True) for c, m in items], default_and) == expected


def test_a_clause_analysed_to_nothing_is_left_out_but_still_binds_its_neighbour():
    items = [(N, Mod.NONE, True), (AND, Mod.NONE, False)]
    assert occurs(items, False) == [MUST, None]


def test_operator_spellings():
    assert normalise_operators("a && b || !c") == "a  AND  b  OR  NOT c"
    assert normalise_operators('title:"a && b" !x') == 'title:"a && b" NOT x'
    assert normalise_operators("wow!") == "wow!"


def test_long_exact_values_become_a_digest():
    from ckanext.harvestplus.pgsearch.model import key

    short, long = key("spatial", "x" * 10), key("spatial", "x" * 5000)
    assert short == "spatial\x1fxxxxxxxxxx"
    assert long.startswith("spatial\x1fsha256:") and len(long) < 100
