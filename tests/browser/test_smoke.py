"""End to end in a real browser: an admin adds a harvest source for the remote
CKAN and reharvests it; the served site's gather and fetch workers import the
datasets and finish the job."""

from __future__ import annotations

import json
import re
import time
import uuid

from playwright.sync_api import Locator, Page, expect

from tests.browser.site import Site
from tests.browser.ui import choose, wait_for_ckan_js
from tests.remote.ckan import RemoteCkan

#: Longest wait for the reharvested job to show Finished.
JOB_SECONDS = 60


def badge(page: Page, label: str) -> Locator:
    """A job's "<count> <label>" badge, e.g. "3 added"."""
    return page.locator(".badge").filter(has_text=re.compile(rf"^\s*\d+ {label}\s*$"))


def test_admin_adds_a_source_and_reharvests_it(
    logged_in_page: Page, site: Site, remote_ckan: RemoteCkan
) -> None:
    page = logged_in_page
    tag = uuid.uuid4().hex[:8]
    remote_org = remote_ckan.action("organization_create", name=f"smoke-{tag}")
    other_org = remote_ckan.action("organization_create", name=f"smoke-other-{tag}")
    for i, owner in enumerate([remote_org, remote_org, remote_org, other_org]):
        remote_ckan.action(
            "package_create",
            name=f"smoke-{i}-{tag}",
            title=f"Smoke dataset {i}",
            owner_org=owner["id"],
            resources=[{"url": f"http://example.org/{i}.csv", "format": "CSV"}],
        )
    # Harvested datasets need an owner organisation on the site; the form preselects the first.
    site.action("organization_create", name=f"a-decoy-{tag}")
    org = site.action("organization_create", name=f"harvested-{tag}", title=f"Harvested {tag}")

    page.goto("/harvest")
    expect(page.get_by_role("link", name="Harvest Sources").first).to_be_visible()
    page.get_by_role("link", name="Add Harvest Source").click()
    wait_for_ckan_js(page)  # the name is made from the title as it is typed

    page.locator("#field-url").fill(remote_ckan.url)
    page.get_by_label("Title").fill(f"Smoke source {tag}")
    source_type = page.get_by_label("CKAN (harvestplus)")
    expect(source_type).to_have_value("harvestplus_ckan")
    source_type.check()
    page.get_by_label("Configuration").fill(
        json.dumps({"organizations_include": [remote_org["name"]]})
    )
    choose(page, "field-organizations", org["name"])
    expect(page.locator("select#field-organizations")).to_have_value(org["id"])
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".module-content h1.heading")).to_have_text(f"Smoke source {tag}")
    source_name = page.url.rstrip("/").rsplit("/", 1)[-1]
    source = site.action("harvest_source_show", id=source_name)
    assert source["source_type"] == "harvestplus_ckan"
    assert source["owner_org"] == org["id"]

    page.locator(".content_action").get_by_role("link", name="Admin").click()
    wait_for_ckan_js(page)
    # Not "Reharvest (force)"; the name starts with the icon's glyph.
    page.get_by_role("link", name=re.compile(r"Reharvest$")).click()
    page.get_by_role("button", name="Confirm").click()  # CKAN's confirm-action modal
    expect(page.get_by_text("Harvest will start shortly")).to_be_visible()

    # The dashboard shows the last job; reload it until the workers have finished it.
    status = page.locator("tr").filter(has=page.locator("th", has_text=re.compile("^Status$")))
    deadline = time.monotonic() + JOB_SECONDS
    while (shown := status.locator("td").inner_text().strip()) != "Finished":
        site.check_alive()
        assert time.monotonic() < deadline, f"job still {shown!r} after {JOB_SECONDS} s"
        time.sleep(2)
        page.reload()

    # "0 errors" also proves the fetch worker ignores the copy of an in-flight object
    # that the scheduler's tick (ckan harvester run) may re-send.
    expect(badge(page, "added")).to_have_text(re.compile(r"^\s*3 added\s*$"))
    expect(badge(page, "errors")).to_have_text(re.compile(r"^\s*0 errors\s*$"))
    page.get_by_role("link", name="Jobs").click()
    expect(page.locator(".dataset-list .dataset-item")).to_have_count(1)
    expect(badge(page, "added")).to_have_text(re.compile(r"^\s*3 added\s*$"))

    found = site.action(
        "package_search",
        fq=f'extras_harvestplus_source_id:"{source["id"]}"',
        include_private=True,
        rows=10,
    )
    assert sorted(d["name"] for d in found["results"]) == [f"smoke-{i}-{tag}" for i in range(3)]
    assert {d["owner_org"] for d in found["results"]} == {org["id"]}
