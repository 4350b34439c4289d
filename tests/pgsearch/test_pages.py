"""What users see through the index: CKAN pages, the harvest UI, DCAT feeds."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from ckan.tests import factories


@pytest.fixture
def datasets(clean_db, clean_index):
    # Fixed notes: the factory's random ones may say "trees" too.
    org = factories.Organization(name="parks-dept", title="Parks Department")
    factories.Dataset(
        title="Tree inventory",
        notes="Every street tree of the city.",
        owner_org=org["id"],
        tags=[{"name": "trees"}],
        resources=[{"url": "http://x.test/t.csv", "format": "CSV"}],
    )
    factories.Dataset(
        title="Playgrounds",
        notes="Where children play.",
        owner_org=org["id"],
        tags=[{"name": "parks"}],
        resources=[{"url": "http://x.test/p.geojson", "format": "GeoJSON"}],
    )
    factories.Dataset(title="Bus stops", notes="Where buses stop.", tags=[{"name": "transport"}])


def page_titles(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return [a.get_text(strip=True) for a in soup.select(".dataset-heading a")]


@pytest.mark.usefixtures("with_plugins", "datasets")
class TestDatasetPage:
    def test_lists_and_facets(self, app):
        html = app.get("/dataset/").body
        assert sorted(page_titles(html)) == ["Bus stops", "Playgrounds", "Tree inventory"]
        soup = BeautifulSoup(html, "html.parser")
        facet_text = " ".join(s.get_text(" ", strip=True) for s in soup.select(".nav-facet"))
        assert "Parks Department" in facet_text
        assert "GeoJSON" in facet_text

    def test_search_box_and_facet_filters(self, app):
        assert page_titles(app.get("/dataset/", query_string={"q": "trees"}).body) == [
            "Tree inventory"
        ]
        html = app.get(
            "/dataset/", query_string={"organization": "parks-dept", "res_format": "GeoJSON"}
        ).body
        assert page_titles(html) == ["Playgrounds"]

    def test_organization_page_lists_its_datasets(self, app):
        html = app.get("/organization/parks-dept").body
        assert sorted(page_titles(html)) == ["Playgrounds", "Tree inventory"]


@pytest.mark.ckan_config("ckan.plugins", "harvest ckan_harvester harvestplus harvestplus_pgsearch")
@pytest.mark.usefixtures("with_plugins", "datasets")
def test_harvest_sources_page_renders(app):
    sysadmin = factories.SysadminWithToken()
    from ckan.tests.helpers import call_action

    call_action(
        "harvest_source_create",
        context={"user": sysadmin["name"]},
        name="city-portal",
        title="City portal",
        url="http://127.0.0.1:9/",
        source_type="ckan",
    )
    html = app.get("/harvest/").body
    assert "City portal" in html


@pytest.mark.ckan_config("ckan.plugins", "dcat harvest harvestplus harvestplus_pgsearch")
@pytest.mark.usefixtures("with_plugins", "datasets")
def test_dcat_catalogue_pages_through_the_index(app):
    body = app.get("/catalog.ttl").body
    for title in ("Tree inventory", "Playgrounds", "Bus stops"):
        assert title in body
    future = app.get("/catalog.ttl", query_string={"modified_since": "2100-01-01"}).body
    assert "Tree inventory" not in future
