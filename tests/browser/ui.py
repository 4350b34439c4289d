"""Helpers for driving the site's pages."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.site import Site


def wait_for_ckan_js(page: Page) -> None:
    """Wait until CKAN's JavaScript modules are set up; they start after an i18n request."""
    page.wait_for_function("() => Object.keys(window.ckan?.module?.instances ?? {}).length > 0")


def login(page: Page, site: Site) -> None:
    """Log in as the site's sysadmin through the real login form."""
    page.goto("/user/login")
    page.get_by_label("Username or Email").fill(site.admin)
    page.get_by_label("Password").fill(site.password)
    page.get_by_role("button", name="Login").click()
    expect(page.locator(".account.authed .username")).to_have_text(site.admin)


def choose(page: Page, select_id: str, text: str) -> None:
    """Pick an option of a <select> that CKAN's autocomplete module turned into a select2
    box (select2 3 on CKAN 2.11, select2 4 on CKAN 2.12)."""
    page.locator(f"#s2id_{select_id}, #{select_id} + .select2-container").click()
    options = ".select2-drop-active .select2-result-label, .select2-container--open [role=option]"
    page.locator(options, has_text=text).first.click()
