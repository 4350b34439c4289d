"""The remote CKAN fixture is a real, separate CKAN that paging can walk."""

from __future__ import annotations

import uuid

import pytest
import requests
from ckan.tests.helpers import call_action

from ckanext.harvestplus.backends.paging import Offset, Page


@pytest.fixture(scope="module")
def seeded(remote_ckan):
    org = remote_ckan.action("organization_create", name=f"org-{uuid.uuid4().hex[:8]}")
    ids = [
        remote_ckan.action(
            "package_create",
            name=f"remote-dataset-{n:02d}-{org['name']}",
            title=f"Remote dataset {n}",
            owner_org=org["id"],
        )["id"]
        for n in range(25)
    ]
    return org, sorted(ids)


def test_offset_paging_walks_the_remote_listing(remote_ckan, seeded):
    org, ids = seeded
    strategy = Offset(page_size=10)
    request = strategy.first(
        f"{remote_ckan.url}/api/3/action/package_search",
        {"fq": f"organization:{org['name']}", "sort": "id asc"},
    )
    listed: list[str] = []
    pages = 0
    while request is not None and pages < 10:
        result = requests.get(request.url, params=request.params, timeout=30).json()["result"]
        page = Page(tuple(d["id"] for d in result["results"]), total=result["count"])
        listed.extend(page.identities)
        request = strategy.advance(request, page)
        pages += 1
    assert listed == ids
    assert pages == 3


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
def test_remote_is_a_separate_site(remote_ckan, seeded):
    status = requests.get(f"{remote_ckan.url}/api/3/action/status_show", timeout=10).json()
    assert status["result"]["site_url"] == remote_ckan.url
    assert call_action("package_search", q="Remote dataset")["count"] == 0


def test_purging_a_dataset_works_on_a_site_without_ckanext_harvest(remote_ckan):
    """The remote runs harvestplus and its search index, without ckanext-harvest or
    its tables: ``dataset_purge`` must not reach for harvest_object."""
    org = remote_ckan.action("organization_create", name=f"org-{uuid.uuid4().hex[:8]}")
    dataset = remote_ckan.action(
        "package_create", name=f"purged-{org['name']}", title="To be purged", owner_org=org["id"]
    )
    remote_ckan.action("dataset_purge", id=dataset["id"])
    found = remote_ckan.action("package_search", fq=f'id:"{dataset["id"]}"', include_private=True)
    assert found["count"] == 0
    response = requests.post(
        f"{remote_ckan.url}/api/3/action/package_show",
        json={"id": dataset["id"]},
        headers={"Authorization": remote_ckan.token},
        timeout=30,
    )
    assert response.status_code == 404
