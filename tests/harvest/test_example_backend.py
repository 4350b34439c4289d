"""README's example backend, on both run paths: the pipeline's scenarios without a
remote CKAN (a JSON array served from loopback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ckan import model
from ckan.tests.helpers import call_action

from ckanext.harvestplus.pipeline import orphans
from tests.harvest.conftest import harvested
from tests.harvest.json_list import EXAMPLE, item

pytestmark = EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "# --- README example ---\n", "# --- end of README example ---\n"


def test_the_readme_shows_the_example_as_it_is():
    code = (ROOT / "tests/backends/example.py").read_text()
    example = code[code.index(BEGIN) + len(BEGIN) : code.index(END)]
    readme = (ROOT / "README.rst").read_text()
    block = re.search(
        r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)",
        readme[readme.index("Writing a backend") :],
    )
    assert block, "README.rst has no code block under Writing a backend"
    shown = "\n".join(line[4:] for line in block.group(1).splitlines()).strip()
    assert shown == example.strip()


def test_first_harvest_no_change_and_exactly_the_changed_record(catalogue, source, harvest):
    src = source()
    first = harvest(src["id"])
    assert (first.created, first.errored, first.status) == (10, 0, "Finished"), first
    dataset = call_action("package_show", id="ex-003")
    assert (dataset["title"], dataset["notes"]) == ("Example 3", "About example 3.")
    assert [r["url"] for r in dataset["resources"]] == ["https://example.org/3.csv"]

    again = harvest(src["id"])
    assert (again.unchanged, again.updated, again.created) == (10, 0, 0), again

    catalogue.items[3] = item(3, title="Example three", modified="2026-02-01T00:00:00+00:00")
    changed = harvest(src["id"])
    assert (changed.updated, changed.unchanged) == (1, 9), changed
    assert call_action("package_show", id="ex-003")["title"] == "Example three"


@pytest.mark.parametrize(
    ("policy", "deleted", "archived", "kept"),
    [("delete", 1, 0, 0), ("archive", 0, 1, 0), ("keep", 0, 0, 1)],
)
def test_a_vanished_record_under_each_deletion_policy(
    catalogue, source, harvest, policy, deleted, archived, kept
):
    src = source(deletion_policy=policy, grace_days=0)
    harvest(src["id"])
    local_id = harvested(src["id"])["EX-000"].id
    del catalogue.items[0]

    summary = harvest(src["id"])
    assert (summary.deleted, summary.archived, summary.kept) == (deleted, archived, kept), summary
    package = model.Package.get(local_id)
    assert package.state == ("deleted" if policy == "delete" else "active")
    assert package.private is (policy == "archive")
    assert orphans.find(src["id"]) == []


def test_the_guard_holds_a_mass_removal_until_confirmed(catalogue, source, harvest):
    src = source(deletion_policy="delete")
    harvest(src["id"])
    del catalogue.items[:3]

    held = harvest(src["id"])
    assert (held.deleted, held.kept) == (0, 3) and "3 of 10" in held.guard, held
    confirmed = harvest(src["id"], confirmed=True)
    assert confirmed.deleted == 3, confirmed
    assert len(harvested(src["id"])) == 7


def test_a_record_that_cannot_be_mapped_is_reported_and_the_rest_harvested(
    catalogue, source, harvest
):
    catalogue.items[5] = item(5, title="")
    summary = harvest(source()["id"])
    assert (summary.created, summary.errored) == (9, 1), summary


def test_a_catalogue_that_is_not_a_list_removes_nothing(catalogue, source, harvest):
    src = source(deletion_policy="delete")
    harvest(src["id"])
    catalogue.body = {"error": "maintenance"}

    summary = harvest(src["id"])
    assert summary.deleted == 0 and "listing was incomplete" in summary.guard, summary
    assert any("not a JSON array" in e for e in summary.errors), summary.errors
    assert len(harvested(src["id"])) == 10
