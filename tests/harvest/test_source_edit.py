"""A source's settings survive the reindex ckanext-harvest runs after every job.

ckanext-harvest's ``harvest_source_reindex`` indexes the source without its
show schema; ``package_show`` then served that copy from the search index,
with ``config: None``, source type and frequency defaults, and the Edit form
saved those back over the real settings.
"""

from __future__ import annotations

import json

from ckan.tests import factories
from ckan.tests.helpers import call_action

from tests.harvest.conftest import HARVEST, create_source

pytestmark = HARVEST


def test_show_after_reindex_keeps_type_config_and_frequency(organization):
    config = {"deletion_policy": "keep", "grace_days": 3}
    source = create_source(
        "http://127.0.0.1:9/", "harvestplus_dkan", organization["id"], skip_url_check=True, **config
    )
    sysadmin = factories.Sysadmin()
    call_action(
        "harvest_source_patch",
        context={"user": sysadmin["name"]},
        id=source["id"],
        frequency="WEEKLY",
    )
    call_action("harvest_source_reindex", id=source["id"])

    for action in ("harvest_source_show", "package_show"):
        shown = call_action(action, context={"user": sysadmin["name"]}, id=source["id"])
        assert json.loads(shown["config"]) == config, action
        assert shown["source_type"] == "harvestplus_dkan", action
        assert shown["frequency"] == "WEEKLY", action


def test_saving_the_form_values_after_reindex_changes_only_what_was_edited(organization):
    config = {"deletion_policy": "keep"}
    source = create_source(
        "http://127.0.0.1:9/", "harvestplus_dkan", organization["id"], skip_url_check=True, **config
    )
    sysadmin = factories.Sysadmin()
    call_action("harvest_source_reindex", id=source["id"])
    # What the Edit form shows is what it posts back.
    form = call_action("package_show", context={"user": sysadmin["name"]}, id=source["id"])
    call_action(
        "harvest_source_update",
        context={"user": sysadmin["name"]},
        **{k: form[k] for k in ("id", "name", "title", "url", "source_type")},
        frequency=form.get("frequency") or "MANUAL",
        config=form["config"],
        owner_org=form["owner_org"],
        notes="A new description",
    )
    shown = call_action("harvest_source_show", id=source["id"])
    assert (shown["source_type"], json.loads(shown["config"])) == ("harvestplus_dkan", config)
    assert shown["notes"] == "A new description"
