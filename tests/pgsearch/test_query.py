"""package_search answered by the PostgreSQL index, through CKAN's own action."""

from __future__ import annotations

import pytest
from ckan.lib.search.common import SearchQueryError
from ckan.tests import factories
from ckan.tests.helpers import call_action


def search(**params):
    return call_action("package_search", **params)


def titles(result):
    return [d["title"] for d in result["results"]]


@pytest.fixture
def catalogue(clean_db, clean_index):
    org_a = factories.Organization(name="env-agency")
    org_b = factories.Organization(name="stats-office")
    group = factories.Group(name="climate")
    make = factories.Dataset
    make(
        name="river-water-quality",
        title="River water quality",
        notes="Nitrate and phosphate samples from rivers.",
        owner_org=org_a["id"],
        tags=[{"name": "water"}, {"name": "rivers"}],
        resources=[{"url": "http://x.test/a.csv", "format": "CSV"}],
        groups=[{"name": group["name"]}],
        extras=[{"key": "theme_code", "value": "ENV-01"}],
    )
    make(
        name="lake-temperatures",
        title="Lake temperatures",
        notes="Surface water temperatures of lakes, measured daily.",
        owner_org=org_a["id"],
        tags=[{"name": "water"}, {"name": "temperature"}],
        resources=[{"url": "http://x.test/b.json", "format": "JSON"}],
        groups=[{"name": group["name"]}],
    )
    make(
        name="population-census",
        title="Population census",
        notes="Residents counted by district.",
        owner_org=org_b["id"],
        tags=[{"name": "people"}],
        resources=[
            {"url": "http://x.test/c.csv", "format": "CSV"},
            {"url": "http://x.test/c.xlsx", "format": "XLSX"},
        ],
        license_id="cc-by",
    )
    make(
        name="air-quality-stations",
        title="Air quality stations",
        notes="Measuring stations for air pollutants.",
        owner_org=org_b["id"],
        tags=[{"name": "air"}],
    )


@pytest.mark.usefixtures("with_plugins", "catalogue")
class TestFreeText:
    def test_title_words_rank_above_notes_words(self):
        result = search(q="water")
        assert result["count"] == 2
        # "water" is in the title of one and only in the notes of the other.
        assert titles(result) == ["River water quality", "Lake temperatures"]

    def test_stemming_matches_other_word_forms(self):
        # "measured" and "measuring" both stem to "measur".
        assert set(titles(search(q="measure"))) == {"Air quality stations", "Lake temperatures"}

    def test_minimum_should_match_of_three_words_is_two(self):
        # CKAN's mm "2<-1 5<80%": of three optional words two must match.
        assert set(titles(search(q="quality river banana"))) == {"River water quality"}
        assert search(q="banana mango river")["count"] == 0

    def test_required_and_prohibited_words_and_phrases(self):
        assert titles(search(q="quality -air")) == ["River water quality"]
        assert titles(search(q='"water quality"')) == ["River water quality"]
        assert search(q='"quality water"')["count"] == 0

    def test_boolean_words_are_operators_in_free_text(self):
        # Lake temperatures has "water" in its notes.
        assert titles(search(q="water NOT lake")) == ["River water quality"]
        assert titles(search(q="water AND rivers")) == ["River water quality"]

    def test_words_that_analyse_to_nothing_are_dropped(self):
        assert search(q="_ rivers")["count"] == 1
        assert search(q="!!! rivers")["count"] == 1

    def test_fielded_query_in_q(self):
        assert titles(search(q="tags:temperature")) == ["Lake temperatures"]
        assert search(q="name:river-water-quality OR name:population-census")["count"] == 2

    def test_extras_are_searchable(self):
        assert titles(search(q="theme_code:ENV-01")) == ["River water quality"]
        assert titles(search(fq='extras_theme_code:"ENV-01"')) == ["River water quality"]


@pytest.mark.usefixtures("with_plugins", "catalogue")
class TestFilters:
    def test_plus_minus_and_fields(self):
        result = search(fq="+organization:env-agency -tags:temperature")
        assert titles(result) == ["River water quality"]

    def test_boolean_operators_and_parentheses(self):
        fq = "(tags:people OR tags:air) AND NOT organization:env-agency"
        assert sorted(titles(search(fq=fq))) == ["Air quality stations", "Population census"]
        assert search(fq="tags:people AND tags:air")["count"] == 0

    def test_mixed_operators_read_left_to_right_like_lucene(self):
        # q.op=AND: "a b OR c" is "+a b c", so every dataset tagged water matches.
        result = search(fq="tags:water tags:people OR tags:air")
        assert sorted(titles(result)) == ["Lake temperatures", "River water quality"]
        # CKAN adds required filters around the user's fq, so an unbracketed OR
        # leaves its clauses optional and everything matches, as it does in Solr.
        assert search(fq="+tags:rivers OR tags:air")["count"] == 4
        assert sorted(titles(search(fq="(+tags:rivers OR tags:air)"))) == [
            "Air quality stations",
            "River water quality",
        ]

    def test_c_style_operators(self):
        assert titles(search(fq="tags:water && tags:rivers")) == ["River water quality"]
        assert sorted(titles(search(fq="(tags:people || tags:air)"))) == [
            "Air quality stations",
            "Population census",
        ]
        assert titles(search(fq="tags:water && !tags:rivers")) == ["Lake temperatures"]

    def test_urls_are_searchable_in_their_own_field_not_in_free_text(self):
        # CKAN's schema copies resource URLs into "urls" but (copy fields do
        # not chain) not into the catch-all "text".
        assert search(fq="urls:x.test")["count"] == 3
        assert search(q="x.test")["count"] == 0

    def test_list_of_filters_all_apply(self):
        result = search(fq_list=["organization:stats-office", "res_format:CSV"])
        assert titles(result) == ["Population census"]

    def test_quoted_phrase_on_string_field_is_exact(self):
        assert search(fq='name:"lake-temperatures"')["count"] == 1
        assert search(fq='name:"lake"')["count"] == 0

    def test_prefix_wildcard_on_string_field(self):
        assert sorted(titles(search(fq="(name:lake* OR name:air*)"))) == [
            "Air quality stations",
            "Lake temperatures",
        ]
        assert search(fq="res_format:*")["count"] == 3
        assert titles(search(fq="-res_format:*")) == ["Air quality stations"]

    def test_date_ranges(self):
        assert search(fq="metadata_modified:[NOW-1DAY TO *]")["count"] == 4
        assert search(fq="metadata_modified:[* TO NOW-1DAY]")["count"] == 0
        assert search(fq="metadata_created:[2000-01-01T00:00:00Z TO NOW/DAY+1DAY]")["count"] == 4
        assert search(fq="metadata_created:{NOW TO *]")["count"] == 0

    def test_string_ranges(self):
        assert sorted(titles(search(fq="name:[l TO q]"))) == [
            "Lake temperatures",
            "Population census",
        ]

    def test_private_datasets_follow_permission_labels(self):
        org = factories.Organization()
        factories.Dataset(owner_org=org["id"], private=True, title="Secret")
        anonymous = call_action(
            "package_search", context={"user": "", "ignore_auth": False}, q="secret"
        )
        assert anonymous["count"] == 0
        sysadmin = factories.Sysadmin()
        result = call_action(
            "package_search",
            context={"user": sysadmin["name"], "ignore_auth": False},
            q="secret",
            include_private=True,
        )
        assert titles(result) == ["Secret"]


@pytest.mark.usefixtures("with_plugins", "catalogue")
class TestFacetsSortPaging:
    def test_facets_count_values_of_the_matching_datasets(self):
        result = search(q="quality", **{"facet.field": '["organization", "res_format", "tags"]'})
        facets = result["facets"]
        assert facets["organization"] == {"env-agency": 1, "stats-office": 1}
        assert facets["res_format"] == {"CSV": 1}
        assert facets["tags"] == {"water": 1, "rivers": 1, "air": 1}

    def test_facets_count_datasets_not_values(self):
        factories.Dataset(
            resources=[
                {"url": "http://x.test/1.csv", "format": "CSV"},
                {"url": "http://x.test/2.csv", "format": "CSV"},
            ]
        )
        result = search(fq="res_format:CSV", **{"facet.field": '["res_format"]'})
        assert result["count"] == 3
        assert result["facets"]["res_format"]["CSV"] == 3

    def test_unlimited_facets_are_sorted_by_value(self):
        result = call_action("package_search", **{"facet.field": '["tags"]', "facet.limit": -1})
        assert list(result["facets"]["tags"]) == sorted(result["facets"]["tags"])

    def test_facet_limit_keeps_the_most_frequent(self):
        result = search(**{"facet.field": '["tags"]', "facet.limit": 1})
        assert result["facets"]["tags"] == {"water": 2}

    def test_facet_mincount(self):
        result = search(**{"facet.field": '["res_format"]', "facet.mincount": 2})
        assert result["facets"]["res_format"] == {"CSV": 2}

    def test_multi_field_sort(self):
        result = search(sort="organization desc, title_string asc")
        assert titles(result) == [
            "Air quality stations",
            "Population census",
            "Lake temperatures",
            "River water quality",
        ]

    def test_rows_and_start_page_through_a_stable_order(self):
        pages = [titles(search(sort="name asc", rows=2, start=s)) for s in (0, 2, 4)]
        assert pages == [
            ["Air quality stations", "Lake temperatures"],
            ["Population census", "River water quality"],
            [],
        ]
        assert search(rows=2)["count"] == 4

    def test_fl_returns_chosen_fields(self):
        result = search(fl="name,organization", sort="name asc", rows=1)
        assert result["results"] == [
            {"name": "air-quality-stations", "organization": "stats-office"}
        ]

    def test_bad_sort_is_rejected(self):
        with pytest.raises(SearchQueryError, match="sort"):
            search(sort="title_string sideways")
        with pytest.raises(SearchQueryError, match="multivalued"):
            search(sort="tags asc")


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestUnsupported:
    @pytest.mark.parametrize(
        ("query", "named"),
        [
            ("notes:water~2", "Fuzzy"),
            ('notes:"water lake"~3', "Proximity"),
            ("name:/riv.*/", "Regular expression"),
            ("notes:[a TO b]", "Range"),
        ],
    )
    def test_construct_without_sql_equivalent_raises_naming_it(self, query, named):
        with pytest.raises(SearchQueryError, match=named):
            search(fq=query)

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"fq": "metadata_modified:[2020 TO *]"}, "Invalid date"),
            ({"q": "water\x00"}, "NUL"),
            ({"fq": "(" * 1000 + "tags:a" + ")" * 1000}, ""),
            ({"fq": "views_total:abc"}, "Invalid number"),
        ],
    )
    def test_odd_input_is_a_query_error(self, params, message):
        with pytest.raises(SearchQueryError, match=message):
            search(**params)

    def test_syntax_error_is_a_query_error(self):
        with pytest.raises(SearchQueryError, match="Invalid search query"):
            search(q="name:(unbalanced")

    def test_api_answers_bad_queries_with_400(self, app):
        response = app.get(
            "/api/3/action/package_search", query_string={"fq": "notes:a~2"}, status=400
        )
        assert "Fuzzy" in response.json["error"]["message"]


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
def test_organization_pages_count_datasets_through_the_index():
    org = factories.Organization()
    factories.Dataset(owner_org=org["id"])
    factories.Dataset(owner_org=org["id"])
    listed = call_action("organization_list", all_fields=True)
    assert [o["package_count"] for o in listed] == [2]


def test_dataset_autocomplete_matches_parts_of_names_and_titles(catalogue):
    """``package_autocomplete`` (the dataset form's and the API's) queries Solr's
    n-gram fields: any 2 to 10 characters of a name or title match."""

    def completed(q):
        return [d["name"] for d in call_action("package_autocomplete", q=q)]

    assert completed("popul") == ["population-census"]
    assert completed("ensu") == ["population-census"]  # inside a word
    assert sorted(completed("quality")) == ["air-quality-stations", "river-water-quality"]
    assert completed("Temper") == ["lake-temperatures"]  # any case
    assert completed("zz") == []
    found = call_action("package_autocomplete", q="lake")
    assert found == [
        {
            "name": "lake-temperatures",
            "title": "Lake temperatures",
            "match_field": "name",
            "match_displayed": "lake-temperatures",
        }
    ]


def test_ngram_fields_answer_like_solr():
    from ckanext.harvestplus.pgsearch.schema import Kind, ckan_schema

    schema = ckan_schema()
    assert schema.field("name_ngram").kind is Kind.NGRAM
    assert schema.ngram == (2, 10)
    with pytest.raises(SearchQueryError, match="n-gram"):
        search(q="name_ngram:popu*")
