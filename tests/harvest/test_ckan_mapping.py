"""How the CKAN backend maps a remote dataset onto this site's default CKAN schema.

Two remotes: the real remote CKAN of the tests, which runs ckanext-scheming
with spatial, temporal, DOI, language and funding fields
(tests/remote/scheming_dataset.yaml), and a capture of EnviDat (a scheming
portal) served from loopback with its own JSON (captured_ckan.py).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from bs4 import BeautifulSoup
from ckan import model
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ckanext.harvestplus.jobs import run_sync
from tests.harvest.captured_ckan import CapturedCkan, copy_of, envidat
from tests.harvest.conftest import HARVEST, create_source, harvested, update_config

pytestmark = HARVEST

SPATIAL = '{"type": "Point", "coordinates": [8.54, 47.37]}'
FUNDING = [{"institution": "SNSF", "grant_number": "200021"}, {"institution": "WSL"}]


def extras_of(dataset: dict[str, Any]) -> dict[str, str]:
    return {e["key"]: e["value"] for e in dataset.get("extras", [])}


def only(source_id: str) -> dict[str, Any]:
    (package,) = harvested(source_id).values()
    return dict(call_action("package_show", id=package.id))


def scheming_dataset(remote_ckan, remote_org, **fields: Any) -> dict[str, Any]:
    return remote_ckan.action(
        "package_create",
        name=f"research-{uuid.uuid4().hex[:8]}",
        title="Snow depth measurements",
        owner_org=remote_org["id"],
        spatial=SPATIAL,
        temporal_start="2020-01-01",
        temporal_end="2020-12-31",
        doi="10.16904/envidat.1",
        language="en",
        funding=FUNDING,
        extras=[{"key": "theme", "value": "snow"}],
        resources=[
            {
                "url": "http://example.org/snow.csv",
                "name": "snow.csv",
                "format": "CSV",
                "restricted": '{"level": "public"}',
                "doi": "10.16904/envidat.1.r1",
                "mimetype_inner": "text/csv",
            }
        ],
        **fields,
    )


def test_schema_fields_of_a_scheming_remote_are_kept_as_extras_here(
    remote_ckan, remote_org, make_source
):
    remote = scheming_dataset(remote_ckan, remote_org)
    source = make_source()

    summary = run_sync(source["id"])

    assert (summary.created, summary.errored) == (1, 0), summary
    local = only(source["id"])
    extras = extras_of(local)
    assert extras["spatial"] == SPATIAL
    assert (extras["temporal_start"], extras["temporal_end"]) == ("2020-01-01", "2020-12-31")
    assert (extras["doi"], extras["language"], extras["theme"]) == (
        "10.16904/envidat.1",
        "en",
        "snow",
    )
    # An object is stored as JSON, never as Python's printed form.
    assert json.loads(extras["funding"]) == FUNDING
    resource = local["resources"][0]
    assert resource["restricted"] == '{"level": "public"}'
    assert resource["doi"] == "10.16904/envidat.1.r1"
    assert resource["mimetype_inner"] == "text/csv"
    assert resource["harvestplus_remote_id"] == remote["resources"][0]["id"]
    assert resource["harvestplus_remote_modified"] == remote["resources"][0]["metadata_modified"]
    assert extras["harvestplus_remote_organization"] == remote_org["name"]


def test_a_real_scheming_portal_record_keeps_what_it_says(local_org):
    """EnviDat's own answer: JSON in text fields, "null" in unset resource fields,
    resource extras, a licence this site does not know."""
    with CapturedCkan([envidat()]) as portal:
        source = create_source(portal.url, "harvestplus_ckan", local_org["id"])
        summary = run_sync(source["id"])

    assert (summary.created, summary.errored, summary.errors) == (1, 0, []), summary
    local = only(source["id"])
    remote = envidat()
    extras = extras_of(local)
    assert local["name"] == remote["name"]
    assert local["author"] == remote["author"]  # JSON text on the remote stays that text
    assert extras["doi"] == "10.16904/envidat.412"
    assert json.loads(extras["spatial"])["type"] == "Polygon"
    assert extras["publication"] == remote["publication"]
    assert extras["deprecatedResources"] == remote["extras"][0]["value"]
    assert extras["harvestplus_remote_organization"] == "slf-snow-avalanches-and-prevention"
    # The licence keeps the remote's title, in the API and on the dataset page.
    assert local["license_id"] == "other-undefined"
    assert local["license_title"] == "Other (Specified in the description)"
    first, remote_first = local["resources"][0], remote["resources"][0]
    assert "resource_type" not in first or first["resource_type"] in (None, "")
    assert "mimetype_inner" not in first or first["mimetype_inner"] in (None, "")
    assert first["restricted"] == remote_first["restricted"]
    assert first["resource_size"] == remote_first["resource_size"]
    assert first["size"] == remote_first["size"]
    assert first["harvestplus_remote_id"] == remote_first["id"]
    assert first["harvestplus_remote_modified"] == remote_first["metadata_modified"]
    assert first.get("url_type") in (None, "")  # the remote's upload is a link here
    assert first["url"] == remote_first["url"]


def test_the_dataset_page_shows_the_remote_licence_title(local_org, app):
    with CapturedCkan([envidat()]) as portal:
        source = create_source(portal.url, "harvestplus_ckan", local_org["id"])
        run_sync(source["id"])
    page = app.get(f"/dataset/{envidat()['name']}")
    assert page.status_code == 200
    assert "Other (Specified in the description)" in page.get_data(as_text=True)


def test_what_fits_nowhere_is_listed_in_the_job_report(local_org, app):
    record = envidat()
    record["extras"].append({"key": "title", "value": "An extra named like a field"})
    record["tags"].append({"name": "snow", "vocabulary_id": "a-remote-vocabulary"})
    record["groups"] = [{"name": "no-such-group-here", "title": "Elsewhere"}]
    record["resources"][1]["size"] = "42 octets"
    with CapturedCkan([record]) as portal:
        source = create_source(portal.url, "harvestplus_ckan", local_org["id"])
        summary = run_sync(source["id"])

    assert (summary.created, summary.errored) == (1, 0), summary
    (item,) = summary.notes
    assert (item["guid"], item["title"]) == (record["id"], record["title"])
    notes = "\n".join(item["notes"])
    assert "extra 'title' dropped" in notes
    assert "tag 'snow' dropped: it belongs to a remote vocabulary" in notes
    assert "group 'no-such-group-here' dropped" in notes
    assert "resource size '42 octets' dropped" in notes
    local = only(source["id"])
    assert local["title"] == record["title"]
    sysadmin = factories.SysadminWithToken()
    page = app.get(
        f"/harvest/{source['name']}/job/{summary.job_id}",
        headers={"Authorization": sysadmin["token"]},
    )
    report = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    shown = report.select_one(".harvestplus-notes")
    assert shown is not None
    assert "group 'no-such-group-here' dropped" in shown.get_text(" ")


def test_names_keep_up_to_ckans_limit_of_100_characters(remote_ckan, remote_org, make_source):
    long_name = ("a-long-name-" * 10)[:100]
    remote_ckan.action("package_create", name=long_name, owner_org=remote_org["id"])
    source = make_source()

    run_sync(source["id"])

    assert only(source["id"])["name"] == long_name


def test_a_taken_long_name_gets_a_suffix_within_the_limit(remote_ckan, remote_org, make_source):
    long_name = ("b-long-name-" * 10)[:100]
    factories.Dataset(name=long_name)  # a local dataset of this site has it
    remote_ckan.action("package_create", name=long_name, owner_org=remote_org["id"])
    source = make_source()

    run_sync(source["id"])

    name = only(source["id"])["name"]
    assert len(name) <= 100 and name.endswith("-2") and name[:90] == long_name[:90]


def test_remote_orgs_only_local_maps_by_name_and_falls_back_to_the_sources(
    remote_ckan, remote_org, make_source, local_org
):
    other = remote_ckan.action("organization_create", name=f"other-{uuid.uuid4().hex[:8]}")
    mapped = remote_ckan.action(
        "package_create", name=f"m-{remote_org['name']}", owner_org=remote_org["id"]
    )
    unmapped = remote_ckan.action(
        "package_create", name=f"u-{other['name']}", owner_org=other["id"]
    )
    here = factories.Organization(name=remote_org["name"])
    source = make_source(
        organizations_include=[remote_org["name"], other["name"]], remote_orgs="only_local"
    )

    summary = run_sync(source["id"])

    assert (summary.created, summary.errored) == (2, 0), summary
    local = harvested(source["id"])
    assert local[mapped["id"]].owner_org == here["id"]
    assert local[unmapped["id"]].owner_org == local_org["id"]
    (item,) = summary.notes
    assert item["guid"] == unmapped["id"]
    assert f"organisation {other['name']!r} does not exist on this site" in item["notes"][0]


def test_remote_orgs_and_groups_create_what_this_site_lacks(remote_ckan, remote_org, make_source):
    group = remote_ckan.action(
        "group_create",
        name=f"g-{uuid.uuid4().hex[:8]}",
        title="Climate",
        description="About climate",
    )
    remote = remote_ckan.action(
        "package_create",
        name=f"c-{remote_org['name']}",
        owner_org=remote_org["id"],
        groups=[{"name": group["name"]}],
    )
    source = make_source(remote_orgs="create", remote_groups="create")

    summary = run_sync(source["id"])

    assert (summary.created, summary.errored) == (1, 0), summary
    local = call_action("package_show", id=harvested(source["id"])[remote["id"]].id)
    org = call_action("organization_show", id=remote_org["name"])
    assert local["owner_org"] == org["id"]
    assert [g["name"] for g in local["groups"]] == [group["name"]]
    created_group = call_action("group_show", id=group["name"])
    assert (created_group["title"], created_group["description"]) == ("Climate", "About climate")
    # Nothing changed remotely: the next run writes nothing.
    assert run_sync(source["id"]).unchanged == 1


def test_remote_groups_only_local_is_the_default_and_notes_the_rest(
    remote_ckan, remote_org, make_source
):
    kept = remote_ckan.action("group_create", name=f"k-{uuid.uuid4().hex[:8]}")
    dropped = remote_ckan.action("group_create", name=f"d-{uuid.uuid4().hex[:8]}")
    factories.Group(name=kept["name"])
    remote = remote_ckan.action(
        "package_create",
        name=f"g-{remote_org['name']}",
        owner_org=remote_org["id"],
        groups=[{"name": kept["name"]}, {"name": dropped["name"]}],
    )
    source = make_source()

    summary = run_sync(source["id"])

    local = call_action("package_show", id=harvested(source["id"])[remote["id"]].id)
    assert [g["name"] for g in local["groups"]] == [kept["name"]]
    (item,) = summary.notes
    assert item["notes"] == [
        f"group {dropped['name']!r} dropped: there is no such group on this site"
    ]


def test_remote_orgs_and_groups_are_validated_on_save(remote_ckan, local_org):
    import pytest
    from ckan.plugins import toolkit as tk

    with pytest.raises(tk.ValidationError) as caught:
        create_source(remote_ckan.url, "harvestplus_ckan", local_org["id"], remote_orgs="yes")
    assert 'remote_orgs must be "only_local" or "create"' in str(caught.value.error_dict)


def test_only_sysadmins_set_remote_orgs_and_remote_groups_create(remote_ckan, local_org):
    """They put datasets in other organisations, or create groups on the site."""
    import pytest
    from ckan.plugins import toolkit as tk

    editor = factories.User()
    org = factories.Organization(users=[{"name": editor["name"], "capacity": "admin"}])
    for config in ({"remote_orgs": "only_local"}, {"remote_groups": "create"}):
        with pytest.raises(tk.ValidationError) as caught:
            call_action(
                "harvest_source_create",
                context={"user": editor["name"], "ignore_auth": False},
                name=f"source-{uuid.uuid4().hex[:8]}",
                title="Not allowed",
                url=remote_ckan.url,
                source_type="harvestplus_ckan",
                owner_org=org["id"],
                config=json.dumps(config),
            )
        assert "Only sysadmins may set" in str(caught.value.error_dict["config"])


def test_records_not_read_after_a_settings_change_are_read_in_a_later_run(local_org, monkeypatch):
    """A run under new settings that fails part way leaves the records it did not
    read to the next run, which reads them whatever their modified date."""
    from ckanext.harvestplus.backends import ckan as backend

    monkeypatch.setattr(backend, "ID_ROWS", 1)  # a listing page per record
    records = [copy_of(envidat(), n) for n in range(3)]
    with CapturedCkan(records) as portal:
        source = create_source(portal.url, "harvestplus_ckan", local_org["id"])
        assert run_sync(source["id"]).created == 3
        update_config(source, private=True)
        # The first listing page and its read answer; every later request fails
        # (retries included).
        portal.failing = set(range(portal.searches + 3, portal.searches + 50))
        summary = run_sync(source["id"])
        assert summary.updated == 1, summary
        assert "The remote listing failed after 1 records" in summary.errors[0]
        portal.failing = set()

        summary = run_sync(source["id"])

    assert (summary.updated, summary.unchanged) == (2, 1), summary
    model.Session.expire_all()
    assert {p.private for p in harvested(source["id"]).values()} == {True}


def test_a_record_turned_private_that_cannot_be_mapped_is_taken_down(local_org):
    record = envidat()
    with CapturedCkan([record]) as portal:
        source = create_source(portal.url, "harvestplus_ckan", local_org["id"])
        assert run_sync(source["id"]).created == 1
        local_id = harvested(source["id"])[record["id"]].id
        record.update(private=True, name="", metadata_modified="2026-11-30T10:00:00")

        summary = run_sync(source["id"])

    assert summary.deleted == 1, summary
    model.Session.expire_all()
    assert model.Package.get(local_id).state == "deleted"
    (item,) = summary.notes
    assert "private on the remote and could not be mapped" in item["notes"][0]


def test_a_change_of_remote_organisation_alone_is_written(remote_ckan, remote_org, make_source):
    other = remote_ckan.action("organization_create", name=f"moved-{uuid.uuid4().hex[:8]}")
    remote = remote_ckan.action(
        "package_create", name=f"o-{remote_org['name']}", owner_org=remote_org["id"]
    )
    source = make_source(organizations_include=[remote_org["name"], other["name"]])
    run_sync(source["id"])
    remote_ckan.action("package_patch", id=remote["id"], owner_org=other["id"])

    summary = run_sync(source["id"])

    assert summary.updated == 1, summary
    assert extras_of(only(source["id"]))["harvestplus_remote_organization"] == other["name"]
