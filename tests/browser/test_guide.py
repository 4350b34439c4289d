"""CKAN's "Manage harvest sources" guide, acted out in the browser by an admin.

One source goes through its whole life on the served site, with the real
gather and fetch workers: added through the form, reharvested, edited (the
form shows the saved settings after a job), a manual edit of a harvested
dataset meeting the next harvests, a run held by the mass-deletion guard and
confirmed, deleted (its datasets stay, unlinked), re-added and adopting its
datasets, then deleted and cleared. Each step is named in the failure message.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, expect

from tests.browser.site import Site
from tests.browser.ui import choose, wait_for_ckan_js
from tests.remote.ckan import RemoteCkan, free_port

JOB_SECONDS = 60


@contextmanager
def step(name: str) -> Iterator[None]:
    try:
        yield
    except Exception as e:
        raise AssertionError(f"guide step {name!r} failed: {e}") from e


def count(page: Page, label: str) -> str:
    """The text of a job's "<n> <label>" count on the page, e.g. "3 added"."""
    badge = page.locator(".badge").filter(has_text=re.compile(rf"^\s*\d+ {label}\s*$")).first
    return " ".join(badge.inner_text().split())


def fill_source_form(page: Page, url: str, title: str, config: dict, org_name: str) -> None:
    page.locator("#field-url").fill(url)
    page.get_by_label("Title").fill(title)
    page.get_by_label("CKAN (harvestplus)").check()
    page.get_by_label("Configuration").fill(json.dumps(config))
    choose(page, "field-organizations", org_name)


def add_source(page: Page, url: str, title: str, config: dict, org_name: str) -> str:
    """Add a source through the form; returns its name."""
    page.goto("/harvest")
    page.get_by_role("link", name="Add Harvest Source").click()
    wait_for_ckan_js(page)
    fill_source_form(page, url, title, config, org_name)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".module-content h1.heading")).to_have_text(title)
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def last_job_id(page: Page) -> str:
    rows = page.locator("tr").filter(has=page.locator("th", has_text=re.compile("^Id$")))
    return rows.locator("td").inner_text().strip() if rows.count() else ""


def wait_for_new_job(page: Page, site: Site, source: str, previous: str) -> str:
    """Reload the source's dashboard until a job newer than ``previous`` is Finished."""
    page.goto(f"/harvest/admin/{source}")
    status = page.locator("tr").filter(has=page.locator("th", has_text=re.compile("^Status$")))
    deadline = time.monotonic() + JOB_SECONDS
    while True:
        job = last_job_id(page)
        shown = status.locator("td").inner_text().strip() if status.count() else "none"
        if job and job != previous and shown == "Finished":
            return job
        site.check_alive()
        assert time.monotonic() < deadline, f"no new finished job after {JOB_SECONDS} s ({shown})"
        time.sleep(1)
        page.reload()


def reharvest(page: Page, site: Site, source: str) -> str:
    """Admin > Reharvest, confirmed; waits for the job to finish and returns its id."""
    page.goto(f"/harvest/admin/{source}")
    wait_for_ckan_js(page)
    previous = last_job_id(page)
    page.get_by_role("link", name=re.compile(r"Reharvest$")).click()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Harvest will start shortly")).to_be_visible()
    return wait_for_new_job(page, site, source, previous)


def delete_source(page: Page, source: str, choice: str) -> None:
    """Admin > Edit > Delete > ``choice``, confirmed."""
    page.goto(f"/harvest/edit/{source}")
    wait_for_ckan_js(page)
    page.locator("a.dropdown-toggle", has_text="Delete").click()
    page.get_by_role("link", name=choice, exact=True).click()
    page.get_by_role("button", name="Confirm").click()


def held_by(site: Site, source_id: str) -> dict[str, dict]:
    """The source's datasets, by name, as the API shows them."""
    found = site.action(
        "package_search",
        fq=f'harvest_source_id:"{source_id}"',
        include_private=True,
        rows=100,
    )
    return {d["name"]: d for d in found["results"]}


@pytest.fixture
def remote(remote_ckan: RemoteCkan) -> dict:
    """Two remote organisations: four datasets in the first, two in the second."""
    tag = uuid.uuid4().hex[:8]
    orgs = [remote_ckan.action("organization_create", name=f"guide-{n}-{tag}") for n in "ab"]
    datasets = [
        remote_ckan.action(
            "package_create",
            name=f"guide-{i}-{tag}",
            title=f"Guide dataset {i}",
            owner_org=orgs[0 if i < 4 else 1]["id"],
            resources=[{"url": f"http://example.org/{i}.csv", "format": "CSV"}],
        )
        for i in range(6)
    ]
    return {"tag": tag, "orgs": orgs, "datasets": datasets}


def test_the_guide_from_adding_a_source_to_deleting_and_clearing_it(
    logged_in_page: Page, site: Site, remote_ckan: RemoteCkan, remote: dict
) -> None:
    page, tag = logged_in_page, remote["tag"]
    org_a, org_b = (o["name"] for o in remote["orgs"])
    local = site.action("organization_create", name=f"guide-local-{tag}")
    config = {"organizations_include": [org_a], "deletion_policy": "delete"}
    title = f"Guide source {tag}"

    with step("add a source through the form and reharvest it"):
        source = add_source(page, remote_ckan.url, title, config, local["name"])
        source_id = site.action("harvest_source_show", id=source)["id"]
        reharvest(page, site, source)
        assert count(page, "added") == "4 added"
        assert len(held_by(site, source_id)) == 4
        page.get_by_role("link", name="Jobs").click()
        expect(page.locator(".dataset-list .dataset-item")).to_have_count(1)

    with step("edit shows the saved settings after a job, and the change applies next run"):
        page.goto(f"/harvest/edit/{source}")
        expect(page.get_by_label("CKAN (harvestplus)")).to_be_checked()
        assert json.loads(page.get_by_label("Configuration").input_value()) == config
        config = dict(config, organizations_include=[org_a, org_b])
        page.get_by_label("Configuration").fill(json.dumps(config))
        page.get_by_label("Description").fill("Edited in the browser")
        page.get_by_role("button", name="Save").click()
        page.goto(f"/harvest/edit/{source}")
        assert json.loads(page.get_by_label("Configuration").input_value()) == config
        reharvest(page, site, source)
        assert (count(page, "added"), count(page, "not modified")) == ("2 added", "4 not modified")
        assert len(held_by(site, source_id)) == 6

    edited = remote["datasets"][0]["name"]
    with step("a manual edit survives a run where the remote did not change"):
        page.goto(f"/dataset/edit/{edited}")
        page.get_by_label("Title").fill("Edited by hand")
        page.get_by_role("button", name=re.compile("Update Dataset")).click()
        expect(page.locator("h1", has_text="Edited by hand").first).to_be_visible()
        reharvest(page, site, source)
        assert count(page, "not modified") == "6 not modified"
        assert site.action("package_show", id=edited)["title"] == "Edited by hand"

    with step("and is overwritten by the first run after the remote changes"):
        remote_ckan.action("package_patch", id=edited, title="Changed at the remote")
        reharvest(page, site, source)
        assert count(page, "updated") == "1 updated"
        assert site.action("package_show", id=edited)["title"] == "Changed at the remote"

    with step("a run the guard holds back is confirmed by the admin"):
        for dataset in remote["datasets"][3:]:
            remote_ckan.action("package_delete", id=dataset["id"])
        held_job = reharvest(page, site, source)
        guard = page.locator(".harvestplus-guard")
        expect(guard).to_contain_text("3 of 6 datasets (50%) vanished")
        assert count(page, "kept") == "3 kept" and len(held_by(site, source_id)) == 6
        guard.get_by_role("button", name="Confirm and run").click()
        expect(page.get_by_text("The confirmed run will start shortly.")).to_be_visible()
        wait_for_new_job(page, site, source, held_job)
        assert count(page, "deleted") == "3 deleted"
        assert len(held_by(site, source_id)) == 3

    kept = sorted(held_by(site, source_id))
    with step("delete source keeps its datasets as ordinary datasets"):
        delete_source(page, source, "Delete source")
        expect(page.get_by_text("its 3 datasets stay as ordinary datasets")).to_be_visible()
        for name in kept:
            dataset = site.action("package_show", id=name)
            extras = {e["key"]: e["value"] for e in dataset["extras"]}
            assert dataset["state"] == "active" and "harvest_source_id" not in extras
            assert extras["harvestplus_detached_from"] == remote_ckan.url
        assert held_by(site, source_id) == {}

    with step("the source is added again and adopts its datasets"):
        source = add_source(page, remote_ckan.url, f"{title} again", config, local["name"])
        source_id = site.action("harvest_source_show", id=source)["id"]
        notice = page.locator(".harvestplus-adopt")
        expect(notice).to_contain_text("3 datasets were harvested from this address")
        notice.get_by_role("button", name="Adopt 3 datasets").click()
        expect(page.get_by_text("3 datasets adopted")).to_be_visible()
        reharvest(page, site, source)
        assert (count(page, "updated"), count(page, "added")) == ("3 updated", "0 added")
        assert sorted(held_by(site, source_id)) == kept  # the same datasets, no name-2

    with step("delete and clear source removes the datasets"):
        delete_source(page, source, "Delete and clear source")
        expect(page.get_by_text("its datasets, jobs and reports were removed")).to_be_visible()
        for name in kept:
            with pytest.raises(AssertionError, match="Not found"):
                site.action("package_show", id=name)
        assert site.action("package_show", id=source_id)["state"] == "deleted"


def test_the_form_names_a_bad_url_and_a_bad_config(
    logged_in_page: Page, site: Site, remote_ckan: RemoteCkan
) -> None:
    page, tag = logged_in_page, uuid.uuid4().hex[:8]
    local = site.action("organization_create", name=f"form-{tag}")
    page.goto("/harvest/new")
    wait_for_ckan_js(page)
    url_error = page.locator("#field-url").locator(
        "xpath=ancestor::div[contains(@class,'form-group')]"
    )

    fill_source_form(page, "ftp://catalogue.example.org/", f"Bad {tag}", {}, local["name"])
    page.get_by_role("button", name="Save").click()
    expect(url_error).to_contain_text("starting with http:// or https://")

    down = f"http://127.0.0.1:{free_port()}"
    fill_source_form(page, down, f"Down {tag}", {"deletion_policy": "sometimes"}, local["name"])
    page.get_by_role("button", name="Save").click()
    expect(url_error).to_contain_text(f"Nothing answers at {down}")
    expect(page.locator("#source-new")).to_contain_text('deletion_policy must be "keep", "archive"')

    page.get_by_label("Configuration").fill(json.dumps({"deletion_policy": "keep"}))
    page.get_by_label("Save even if the remote does not answer").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".module-content h1.heading")).to_have_text(f"Down {tag}")
    saved = site.action("harvest_source_show", id=page.url.rstrip("/").rsplit("/", 1)[-1])
    assert saved["url"] == down and json.loads(saved["config"]) == {"deletion_policy": "keep"}
