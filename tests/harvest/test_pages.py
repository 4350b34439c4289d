"""The Harvest Sources pages harvestplus changes, rendered by the real CKAN app.

(The browser tests in tests/browser act the same steps out in Chromium, on a
served site with real workers; these are the quick checks of each page.)
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from ckan import model
from ckan.tests import factories
from ckan.tests.helpers import call_action
from ckanext.harvest.model import HarvestJob

from ckanext.harvestplus.jobs import run_sync
from tests.harvest.conftest import HARVEST, harvested

pytestmark = HARVEST


def text(html: str, selector: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    return " ".join(e.get_text(" ", strip=True) for e in soup.select(selector))


@pytest.fixture
def sysadmin():
    return factories.SysadminWithToken()


def get(app, url: str, user: dict, **kwargs):
    return app.get(url, headers={"Authorization": user["token"]}, **kwargs)


def post(app, url: str, user: dict, **kwargs):
    return app.post(url, headers={"Authorization": user["token"]}, **kwargs)


def latest_job(source_id: str) -> tuple[str, bool, str | None]:
    """The source's newest job: its id, whether it was forced, the job it confirms."""
    job = (
        model.Session.query(HarvestJob)
        .filter_by(source_id=source_id)
        .order_by(HarvestJob.created.desc())
        .first()
    )
    force, confirm_job = model.Session.execute(
        sa.text("SELECT force, confirm_job FROM harvestplus_job WHERE job_id = :id"),
        {"id": job.id},
    ).one()
    return job.id, force, confirm_job


def test_edit_form_shows_the_saved_settings_after_a_job(app, seed, make_source, sysadmin):
    seed(1)
    source = make_source(deletion_policy="keep", grace_days=3)
    call_action("harvest_source_patch", id=source["id"], frequency="WEEKLY")
    run_sync(source["id"])  # ends with ckanext-harvest's reindex of the source
    soup = BeautifulSoup(get(app, f"/harvest/edit/{source['name']}", sysadmin).body, "html.parser")
    assert '"deletion_policy": "keep"' in soup.select_one("#field-config").get_text()
    assert soup.select_one("input[name=source_type][value=harvestplus_ckan]").has_attr("checked")
    assert soup.select_one("#field-frequency option[selected]")["value"] == "WEEKLY"


def test_sidebar_counts_private_datasets_for_those_who_may_see_them(
    app, seed, make_source, sysadmin
):
    seed(2)
    source = make_source(private=True)
    assert run_sync(source["id"]).created == 2
    page = get(app, f"/harvest/{source['name']}", sysadmin).body
    assert text(page, ".nums dd") == "2"
    assert len(BeautifulSoup(page, "html.parser").select(".dataset-item")) == 2  # the list too
    anonymous = app.get(f"/harvest/{source['name']}").body
    assert text(anonymous, ".nums dd") == "0"
    assert "There are no datasets associated" in anonymous


def test_jobs_tab_counts_kept_records_apart(app, seed, make_source, remote_ckan, sysadmin):
    remote = seed(10)
    source = make_source(deletion_policy="keep")
    run_sync(source["id"])
    remote_ckan.action("package_delete", id=remote[0]["id"])
    second = run_sync(source["id"])
    assert second.kept == 1
    page = get(app, f"/harvest/{source['name']}/job", sysadmin).body
    counts = text(page, ".harvestplus-count")
    assert "1 kept" in counts and "9 not modified" in counts and "10 added" in counts
    report = get(app, f"/harvest/{source['name']}/job/{second.job_id}", sysadmin).body
    assert "1 kept" in text(report, ".harvestplus-counts")


@pytest.fixture
def held(seed, make_source, remote_ckan, local_org):
    """A source whose last run was held by the mass-deletion guard."""
    remote = seed(4)
    source = make_source(deletion_policy="delete")
    run_sync(source["id"])
    for dataset in remote[:2]:
        remote_ckan.action("package_delete", id=dataset["id"])
    summary = run_sync(source["id"])
    assert summary.guard and summary.deleted == 0
    return source, summary


def test_a_held_job_offers_confirm_and_run_to_admins_only(app, held, local_org, sysadmin):
    source, summary = held
    report = f"/harvest/{source['name']}/job/{summary.job_id}"
    page = get(app, report, sysadmin).body
    assert "Removals held back: 2 of 4 datasets (50%) vanished" in text(page, ".harvestplus-guard")
    assert "Confirm and run" in page
    assert "1 errors" in text(page, ".harvestplus-counts")  # the guard's job error counts
    dashboard = get(app, f"/harvest/admin/{source['name']}", sysadmin).body
    assert "Confirm and run" in text(dashboard, ".harvestplus-guard")

    editor = factories.UserWithToken()
    call_action(
        "organization_member_create",
        id=local_org["id"],
        username=editor["name"],
        role="editor",
    )
    page = get(app, report, editor).body
    assert "Confirm and run" not in page
    assert "A sysadmin or an admin of the source's organisation can confirm" in page
    confirm = {"confirm_job": summary.job_id}
    refused = post(app, f"/harvestplus/source/{source['id']}/run", editor, data=confirm)
    assert refused.status_code == 403

    post(app, f"/harvestplus/source/{source['id']}/run", sysadmin, data=confirm)
    job_id, _, confirm_job = latest_job(source["id"])
    assert job_id != summary.job_id and confirm_job == summary.job_id
    # The held report is no longer the latest: no button, and posting it is refused.
    page = get(app, report, sysadmin).body
    assert "Confirm and run" not in page and "A later run replaced this report" in page
    again = post(app, f"/harvestplus/source/{source['id']}/run", sysadmin, data=confirm)
    assert "A later run replaced this report" in again.body
    call_action("harvest_job_abort", id=job_id)


def test_reharvest_force_queues_a_forced_run(app, seed, make_source, sysadmin):
    seed(1)
    source = make_source()
    run_sync(source["id"])
    admin_page = get(app, f"/harvest/admin/{source['name']}", sysadmin).body
    assert "Reharvest (force)" in admin_page
    page = post(
        app,
        f"/harvestplus/source/{source['id']}/run",
        sysadmin,
        data={"force": "true"},
    )
    assert "The forced reharvest will start shortly." in page.body
    job_id, forced, _ = latest_job(source["id"])
    assert forced is True
    # While it waits, Reharvest is disabled and Stop is offered.
    admin_page = get(app, f"/harvest/admin/{source['name']}", sysadmin).body
    assert "Stop" in text(admin_page, ".content_action")
    call_action("harvest_job_abort", id=job_id)


def test_delete_buttons_post_to_harvestplus(app, seed, make_source, sysadmin):
    seed(1)
    source = make_source()
    form = get(app, f"/harvest/edit/{source['name']}", sysadmin).body
    links = {
        a.get_text(strip=True): a["href"]
        for a in BeautifulSoup(form, "html.parser").select(".dropdown-menu a")
    }
    assert links["Delete source"] == f"/harvestplus/source/{source['id']}/delete"
    assert links["Delete and clear source"] == (
        f"/harvestplus/source/{source['id']}/delete?clear=true"
    )


def test_delete_and_clear_through_the_page_removes_the_datasets(app, seed, make_source, sysadmin):
    seed(2)
    source = make_source()
    run_sync(source["id"])
    held = [p.id for p in harvested(source["id"]).values()]
    page = post(app, f"/harvestplus/source/{source['id']}/delete?clear=true", sysadmin)
    assert "its datasets, jobs and reports were removed" in page.body
    assert all(model.Package.get(i) is None for i in held)


def test_delete_through_the_page_keeps_the_datasets(app, seed, make_source, sysadmin):
    seed(2)
    source = make_source()
    run_sync(source["id"])
    held = [p.id for p in harvested(source["id"]).values()]
    page = post(app, f"/harvestplus/source/{source['id']}/delete", sysadmin)
    assert re.search(r"its 2 datasets stay as ordinary datasets", page.body)
    assert all(model.Package.get(i).state == "active" for i in held)


def test_a_re_added_source_offers_to_adopt(app, seed, make_source, sysadmin):
    seed(2)
    first = make_source(deletion_policy="keep")
    run_sync(first["id"])
    held = {p.id for p in harvested(first["id"]).values()}
    call_action("harvest_source_delete", id=first["id"])
    second = make_source(deletion_policy="archive")

    page = get(app, f"/harvest/{second['name']}", sysadmin).body
    assert "Adopt 2 datasets" in text(page, ".harvestplus-adopt")
    assert "Adopt" not in text(app.get(f"/harvest/{second['name']}").body, ".harvestplus-adopt")
    page = post(app, f"/harvestplus/source/{second['id']}/adopt", sysadmin)
    assert "2 datasets adopted" in page.body
    assert {p.id for p in harvested(second["id"]).values()} == held
