"""A harvestplus source's URL is checked when it is saved, with a message that says
what is wrong; an admin may save anyway while the remote is down, never a URL
that is not http(s) or that harvesters may not reach."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ckan.tests import factories
from ckan.tests.helpers import call_action

from tests.harvest.conftest import HARVEST, create_source
from tests.remote.ckan import free_port

pytestmark = HARVEST


@pytest.fixture
def web_page():
    """A web server on loopback that serves an HTML page at every address (not a catalogue)."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>A town's web site</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def refused(url: str, source_type: str, owner_org: str, **extra) -> str:
    with pytest.raises(Exception) as raised:
        create_source(url, source_type, owner_org, **extra)
    errors = getattr(raised.value, "error_dict", None)
    assert errors, raised.value
    return " ".join(errors["url"])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://catalogue.example.org/", "starting with http:// or https://"),
        ("not a url", "starting with http:// or https://"),
        ("http://", "starting with http:// or https://"),
    ],
)
def test_a_url_that_is_not_a_web_address_is_refused_even_with_skip(local_org, url, message):
    assert message in refused(url, "harvestplus_ckan", local_org["id"])
    assert message in refused(url, "harvestplus_ckan", local_org["id"], skip_url_check=True)


def test_a_name_that_does_not_resolve_is_refused(local_org):
    message = refused("http://no-such-host.invalid/", "harvestplus_ckan", local_org["id"])
    assert "The host name no-such-host.invalid does not resolve" in message
    assert "Save even if the remote does not answer" in message


def test_a_closed_port_is_refused_and_can_be_saved_anyway(local_org):
    url = f"http://127.0.0.1:{free_port()}"
    message = refused(url, "harvestplus_ckan", local_org["id"])
    assert f"Nothing answers at {url}" in message and "Connection refused" in message
    saved = create_source(url, "harvestplus_ckan", local_org["id"], skip_url_check=True)
    assert saved["url"] == url


def test_an_address_harvesters_may_not_reach_is_refused_even_with_skip(
    local_org, ckan_config, monkeypatch
):
    monkeypatch.setitem(ckan_config, "ckanext.harvestplus.http.allowed_private", "")
    for extra in ({}, {"skip_url_check": True}):
        message = refused("http://127.0.0.1:9/", "harvestplus_ckan", local_org["id"], **extra)
        assert "127.0.0.1, which is not a public address" in message
        assert "ckanext.harvestplus.http.allowed_private" in message


def test_a_site_that_is_not_a_catalogue_of_that_kind_is_refused(local_org, web_page):
    message = refused(web_page, "harvestplus_ckan", local_org["id"])
    assert f"{web_page} does not answer like a CKAN (harvestplus) site" in message


def test_a_ckan_site_is_not_a_dkan_site_when_it_answers_404(local_org, remote_ckan):
    # DKAN's package_list answers on a CKAN site too: that one is accepted.
    saved = create_source(remote_ckan.url, "harvestplus_dkan", local_org["id"])
    assert saved["source_type"] == "harvestplus_dkan"
    message = refused(f"{remote_ckan.url}/no/api/here", "harvestplus_dkan", local_org["id"])
    assert "answered HTTP 404" in message


def test_a_bad_config_is_reported_together_with_a_bad_url(local_org):
    with pytest.raises(Exception) as raised:
        create_source("http://127.0.0.1:9/", "harvestplus_ckan", local_org["id"], page_size=0)
    errors = raised.value.error_dict
    assert "Nothing answers" in errors["url"][0]
    assert "page_size must be a whole number" in errors["config"][0]


def test_editing_other_fields_does_not_probe_a_remote_that_is_down(local_org):
    source = create_source(
        "http://127.0.0.1:9/", "harvestplus_ckan", local_org["id"], skip_url_check=True
    )
    sysadmin = factories.Sysadmin()
    call_action(
        "harvest_source_patch",
        context={"user": sysadmin["name"]},
        id=source["id"],
        notes="Edited while the remote is down",
    )
    with pytest.raises(Exception, match="Nothing answers"):
        call_action(
            "harvest_source_patch",
            context={"user": sysadmin["name"]},
            id=source["id"],
            url="http://127.0.0.1:10/",
        )


def test_the_form_shows_the_message_and_the_save_anyway_box(app, local_org):
    sysadmin = factories.SysadminWithToken()
    url = f"http://127.0.0.1:{free_port()}"
    form = {
        "url": url,
        "title": "Down for now",
        "name": "down-for-now",
        "source_type": "harvestplus_ckan",
        "frequency": "MANUAL",
        "config": json.dumps({"deletion_policy": "keep"}),
        "owner_org": local_org["id"],
        "save": "Save",
    }
    headers = {"Authorization": sysadmin["token"]}
    page = app.post("/harvest/new", data=form, headers=headers)
    assert f"Nothing answers at {url}" in page.body
    assert 'name="skip_url_check"' in page.body
    saved = app.post("/harvest/new", data=dict(form, skip_url_check="true"), headers=headers)
    assert saved.status_code == 200, saved.body
    shown = call_action("harvest_source_show", id="down-for-now")
    assert shown["url"] == url and "skip_url_check" not in json.dumps(shown)
