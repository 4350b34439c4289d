"""The CKAN backend maps onto this site's ckanext-scheming schema, read at run time.

This site runs ckanext-scheming with the schema the remote CKAN of the tests
uses (tests/remote/scheming_dataset.yaml): spatial and temporal coverage, a
DOI, a language, funding as repeating subfields, resource access levels.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ckan import model
from ckan.tests.helpers import call_action

from ckanext.harvestplus.jobs import run_sync
from tests.harvest.captured_ckan import CapturedCkan, envidat
from tests.harvest.conftest import HARVEST, PLUGINS, create_source, harvested
from tests.harvest.test_ckan_mapping import FUNDING, SPATIAL, extras_of, only, scheming_dataset

SCHEMA = Path(__file__).parents[1] / "remote" / "scheming_dataset.yaml"

pytestmark = [
    *HARVEST,
    pytest.mark.ckan_config("ckan.plugins", f"{PLUGINS} scheming_datasets"),
    pytest.mark.ckan_config("scheming.dataset_schemas", SCHEMA.as_uri()),
]


def test_the_schema_fields_of_the_remote_fill_the_same_fields_here(
    remote_ckan, remote_org, make_source
):
    remote = scheming_dataset(remote_ckan, remote_org)
    source = make_source()

    summary = run_sync(source["id"])

    assert (summary.created, summary.errored, summary.notes) == (1, 0, []), summary
    local = only(source["id"])
    assert local["spatial"] == SPATIAL
    assert (local["temporal_start"], local["temporal_end"]) == ("2020-01-01", "2020-12-31")
    assert (local["doi"], local["language"]) == ("10.16904/envidat.1", "en")
    # Repeating subfields arrive as the list of objects the schema takes.
    assert [f.get("institution") for f in local["funding"]] == [f["institution"] for f in FUNDING]
    assert local["funding"][0]["grant_number"] == "200021"
    extras = extras_of(local)
    assert extras["theme"] == "snow"
    assert not {"spatial", "doi", "funding", "temporal_start"} & extras.keys()
    resource = local["resources"][0]
    assert (resource["restricted"], resource["doi"]) == (
        '{"level": "public"}',
        "10.16904/envidat.1.r1",
    )
    assert resource["harvestplus_remote_id"] == remote["resources"][0]["id"]
    # What was written is what the next run maps: nothing to update.
    assert run_sync(source["id"]).unchanged == 1


def test_an_extra_named_like_a_schema_field_fills_that_field(local_org):
    record = envidat()
    doi = record.pop("doi")
    record["extras"] += [
        {"key": "doi", "value": doi},
        {"key": "language", "value": "de"},  # the remote's field "language" wins
    ]
    with CapturedCkan([record]) as portal:
        source = create_source(portal.url, "harvestplus_ckan", local_org["id"])
        summary = run_sync(source["id"])

    assert (summary.created, summary.errored) == (1, 0), summary
    local = call_action("package_show", id=only(source["id"])["id"])
    assert local["doi"] == doi
    assert local["language"] == "en"
    assert local["spatial"] == record["spatial"]
    extras = extras_of(local)
    assert not {"doi", "language", "spatial"} & extras.keys()
    # Fields this schema lacks stay extras.
    assert extras["publication"] == record["publication"]


def test_a_record_turned_private_that_the_schema_refuses_is_made_private(local_org):
    """The update fails (the schema refuses its new value); the public copy
    does not stay public meanwhile."""
    record = envidat()
    with CapturedCkan([record]) as portal:
        source = create_source(portal.url, "harvestplus_ckan", local_org["id"])
        assert run_sync(source["id"]).created == 1
        record.update(
            private=True, temporal_start="not a date", metadata_modified="2026-11-30T10:00:00"
        )

        summary = run_sync(source["id"])

    assert summary.errored == 1, summary
    model.Session.expire_all()
    (package,) = harvested(source["id"]).values()
    assert (package.state, package.private) == ("active", True)
