"""In a real browser, on the worker path: a dataset private on the remote CKAN is
private on the site, and the job report lists what the mapping left out."""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import Browser, Page, expect

from tests.browser.site import Site
from tests.remote.ckan import RemoteCkan

JOB_SECONDS = 60


def finished_job(site: Site, source_id: str) -> dict:
    deadline = time.monotonic() + JOB_SECONDS
    while True:
        site.check_alive()
        last = site.action("harvest_source_show_status", id=source_id).get("last_job") or {}
        if last.get("status") == "Finished":
            return last
        assert time.monotonic() < deadline, f"job still {last.get('status')!r}"
        time.sleep(1)


def test_a_private_remote_dataset_stays_private_and_the_report_notes_drops(
    logged_in_page: Page, browser: Browser, site: Site, remote_ckan: RemoteCkan
) -> None:
    tag = uuid.uuid4().hex[:8]
    remote_org = remote_ckan.action("organization_create", name=f"privacy-{tag}")
    group = remote_ckan.action("group_create", name=f"remote-only-{tag}")
    secret = remote_ckan.action(
        "package_create",
        name=f"secret-{tag}",
        title=f"Secret salaries {tag}",
        owner_org=remote_org["id"],
        private=True,
    )
    public = remote_ckan.action(
        "package_create",
        name=f"open-{tag}",
        title=f"Open budget {tag}",
        owner_org=remote_org["id"],
        groups=[{"name": group["name"]}],
    )
    org = site.action("organization_create", name=f"privacy-here-{tag}")
    source = site.action(
        "harvest_source_create",
        name=f"privacy-{tag}",
        title=f"Privacy {tag}",
        url=remote_ckan.url,
        source_type="harvestplus_ckan",
        owner_org=org["id"],
        config=(
            f'{{"organizations_include": ["{remote_org["name"]}"], '
            f'"api_key": "{remote_ckan.token}"}}'
        ),
    )
    site.action("harvestplus_source_run", id=source["id"])  # queued for the workers
    job = finished_job(site, source["id"])

    page = logged_in_page
    page.goto(f"/harvest/{source['name']}/job/{job['id']}")
    notes = page.locator(".harvestplus-notes")
    notes.locator("summary").click()
    expect(notes).to_contain_text(f"group '{group['name']}' dropped")
    # The admin sees the private dataset, marked private.
    page.goto(f"/dataset/{secret['name']}")
    expect(page.get_by_role("heading", name=secret["title"]).first).to_be_visible()
    expect(page.locator(".dataset-private", has_text="Private").first).to_be_visible()

    anonymous = browser.new_context(base_url=site.url).new_page()
    try:
        response = anonymous.goto(f"/dataset/{secret['name']}")
        assert response is not None and response.status == 404, response
        anonymous.goto(f"/dataset/?q={tag}")
        expect(anonymous.locator(".dataset-item")).to_have_count(1)
        expect(anonymous.locator(".dataset-item")).to_contain_text(public["title"])
    finally:
        anonymous.context.close()
