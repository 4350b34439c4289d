"""Actions answered as their docstrings say."""

from __future__ import annotations

from ckan.tests.helpers import call_action

from ckanext.harvestplus.backends.options import COMMON
from tests.harvest.json_list import EXAMPLE

pytestmark = EXAMPLE


def test_backends_list_their_options_with_the_pipelines_own_first():
    found = {b["name"]: b for b in call_action("harvestplus_backends")}
    ckan = found["harvestplus_ckan"]
    keys = [o["key"] for o in ckan["options"]]
    assert keys[: len(COMMON)] == [o.key for o in COMMON]
    assert {"organizations_include", "fq", "page_size", "remote_orgs"} <= set(keys)
    page_size = next(o for o in ckan["options"] if o["key"] == "page_size")
    assert (page_size["kind"], page_size["default"], page_size["maximum"]) == ("integer", 100, 1000)
    assert next(o for o in ckan["options"] if o["key"] == "api_key")["secret"] is True
    # README's example backend declares none of its own.
    assert [o["key"] for o in found["example_jsonlist"]["options"]] == [o.key for o in COMMON]
    assert found["example_jsonlist"]["harvestplus"] is True
