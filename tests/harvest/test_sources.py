"""Source configuration, ownership of remote records, and credentials."""

from __future__ import annotations

import json
import uuid

import pytest
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ckanext.harvestplus.jobs import run_sync
from tests.harvest.conftest import HARVEST, harvested

pytestmark = HARVEST


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"deletion_policy": "purge"}, 'deletion_policy must be "keep", "archive" or "delete"'),
        ({"grace_days": -1}, "grace_days must be >= 0"),
        ({"max_vanished_share": 2}, "max_vanished_share must be between 0 and 1"),
        ({"page_size": 5000}, "page_size must be a whole number from 1 to 1000"),
        ({"organizations_include": "health"}, "organizations_include must be a list of names"),
        ({"delete_policy": "keep"}, "Unknown option(s) delete_policy"),
        ({"organization": "no-such-org"}, "organization 'no-such-org' does not exist"),
    ],
)
def test_bad_config_is_refused_on_save_with_a_clear_message(make_source, config, message):
    with pytest.raises(Exception) as raised:
        make_source(**config)
    assert message in str(getattr(raised.value, "error_dict", raised.value)), raised.value


def test_invalid_json_is_refused(make_source, local_org, remote_ckan):
    sysadmin = factories.Sysadmin()
    with pytest.raises(Exception, match="not valid JSON"):
        call_action(
            "harvest_source_create",
            context={"user": sysadmin["name"]},
            name="bad-json",
            url=remote_ckan.url,
            source_type="harvestplus_ckan",
            owner_org=local_org["id"],
            config="{policy: keep",
        )


def test_two_sources_never_overwrite_each_other(seed, make_source):
    remote = seed(3)
    first, second = make_source(), make_source(deletion_policy="keep")
    assert run_sync(first["id"]).created == 3
    assert run_sync(second["id"]).created == 3
    mine, theirs = harvested(first["id"]), harvested(second["id"])
    assert set(mine) == set(theirs) == {d["id"] for d in remote}
    assert not {p.id for p in mine.values()} & {p.id for p in theirs.values()}
    # The second source's datasets got names of their own.
    assert {p.name for p in theirs.values()} == {f"{d['name']}-2" for d in remote}
    assert run_sync(first["id"]).unchanged == 3
    assert run_sync(second["id"]).unchanged == 3


def test_harvested_dataset_never_takes_over_a_local_dataset(seed, make_source, local_org):
    remote = seed(1)
    local = factories.Dataset(name=remote[0]["name"], title="Mine, not harvested")
    source = make_source()
    assert run_sync(source["id"]).created == 1
    harvested_one = harvested(source["id"])[remote[0]["id"]]
    assert harvested_one.id != local["id"]
    assert harvested_one.name == f"{remote[0]['name']}-2"
    assert call_action("package_show", id=local["id"])["title"] == "Mine, not harvested"


def test_local_organisation_can_be_chosen(seed, make_source):
    seed(2)
    other = factories.Organization()
    source = make_source(organization=other["name"])
    run_sync(source["id"])
    assert {p.owner_org for p in harvested(source["id"]).values()} == {other["id"]}


def test_filters_include_and_exclude(remote_ckan, seed, make_source, remote_org):
    remote = seed(4)
    group = remote_ckan.action("group_create", name=f"g-{uuid.uuid4().hex[:8]}")
    remote_ckan.action(
        "member_create",
        id=group["id"],
        object=remote[0]["id"],
        object_type="package",
        capacity="public",
    )
    only_group = make_source(groups_include=[group["name"]])
    assert set(harvested_after(only_group)) == {remote[0]["id"]}
    without_group = make_source(groups_exclude=[group["name"]])
    assert set(harvested_after(without_group)) == {d["id"] for d in remote[1:]}
    by_fq = make_source(fq=f'name:"{remote[2]["name"]}"')
    assert set(harvested_after(by_fq)) == {remote[2]["id"]}


def config_of(dataset):
    """A source's config as package_show gives it (a field, or the extra that stores it)."""
    extras = {e["key"]: e["value"] for e in dataset.get("extras") or []}
    return json.loads(dataset.get("config") or extras["config"])


def as_user(user):
    """A context for ``user`` with auth checked (call_action ignores auth by default)."""
    return {"user": user["name"], "ignore_auth": False}


def harvested_after(source):
    summary = run_sync(source["id"])
    assert summary.errored == 0 and not summary.errors, summary
    return harvested(source["id"])


def test_api_key_reads_private_remote_datasets_and_stays_hidden(
    remote_ckan, seed, make_source, remote_org, local_org
):
    remote = seed(2)
    remote_ckan.action("package_patch", id=remote[1]["id"], private=True)
    public_only = make_source()
    assert set(harvested_after(public_only)) == {remote[0]["id"]}

    with_key = make_source(api_key=remote_ckan.token)
    assert set(harvested_after(with_key)) == {d["id"] for d in remote}

    editor, admin = factories.User(), factories.User()
    call_action(
        "organization_member_create", id=local_org["id"], username=editor["name"], role="editor"
    )
    call_action(
        "organization_member_create", id=local_org["id"], username=admin["name"], role="admin"
    )
    shown_to_editor = call_action("package_show", context=as_user(editor), id=with_key["id"])
    assert remote_ckan.token not in json.dumps(shown_to_editor)
    assert config_of(shown_to_editor)["api_key"] == "********"
    listed = call_action("harvest_source_list", context=as_user(editor))
    assert remote_ckan.token not in json.dumps(listed)
    # Nothing in the search index can give it back, whatever fields are asked for.
    searched = call_action(
        "package_search",
        context={"user": "", "ignore_auth": False},
        fq=f'dataset_type:harvest +id:("{public_only["id"]}" OR "{with_key["id"]}")',
        fl="id,config,api_key,extras_config,data_dict,validated_data_dict",
        include_private=True,
    )
    assert {public_only["id"], with_key["id"]} <= {d["id"] for d in searched["results"]}
    assert remote_ckan.token not in json.dumps(searched)
    shown_to_admin = call_action("package_show", context=as_user(admin), id=with_key["id"])
    assert config_of(shown_to_admin)["api_key"] == remote_ckan.token

    # An editor saving the form sends the mask back: the stored key is kept.
    form = {k: with_key[k] for k in ("id", "name", "url", "source_type", "owner_org")}
    form.update(title="Renamed by an editor", config=json.dumps(config_of(shown_to_editor)))
    call_action("harvest_source_update", context=as_user(editor), **form)
    shown = call_action("package_show", context=as_user(admin), id=with_key["id"])
    assert config_of(shown)["api_key"] == remote_ckan.token
    # An editor may not send the stored key to another address.
    form.update(url="http://127.0.0.1:9/collects-keys")
    with pytest.raises(Exception, match="may change the URL of a source that has an API key"):
        call_action("harvest_source_update", context=as_user(editor), **form)
    assert run_sync(with_key["id"]).unchanged == 2
