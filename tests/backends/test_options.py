"""A source's options: declared once per backend and for the pipeline, checked by one
validator that names every bad key."""

from __future__ import annotations

import pytest

from ckanext.harvestplus.backends.ckan import CkanBackend
from ckanext.harvestplus.backends.dkan import DkanBackend
from ckanext.harvestplus.backends.options import COMMON, Group, Kind, validate
from ckanext.harvestplus.pipeline import sourceconfig


def test_every_bad_key_is_named_in_one_pass():
    declared = (*COMMON, *CkanBackend().options)
    problems = validate(
        declared,
        {
            "deletion_policy": "never",
            "grace_days": -1,
            "max_vanished_share": 2,
            "private": "yes",
            "api_key": " ",
            "organizations_include": "health",
            "fq": 3,
            "page_size": 0,
            "remote_orgs": "all",
            "colour": "blue",
        },
    )
    assert problems == [
        "Unknown option(s) colour; known options: " + ", ".join(sorted(o.key for o in declared)),
        'deletion_policy must be "keep", "archive" or "delete", not \'never\'',
        "grace_days must be >= 0, not -1",
        "max_vanished_share must be between 0 and 1, not 2",
        "private must be true or false",
        "api_key must be a non-empty string",
        'organizations_include must be a list of names, e.g. ["health"]',
        "fq must be a string (a Solr filter query)",
        "page_size must be a whole number from 1 to 1000",
        'remote_orgs must be "only_local" or "create", not \'all\'',
    ]
    assert validate(declared, {"fq": "", "page_size": 1000, "grace_days": 2.5}) == []


def test_the_parsed_config_takes_its_defaults_from_the_declaration():
    parsed = sourceconfig.parse("{}", CkanBackend().options)
    defaults = {o.key: o.default for o in COMMON}
    assert parsed.settings.policy.value == defaults["deletion_policy"] == "archive"
    assert parsed.settings.max_vanished_share == defaults["max_vanished_share"]
    assert parsed.settings.grace.days == defaults["grace_days"]
    with pytest.raises(sourceconfig.ConfigError) as bad:
        sourceconfig.parse('{"page_size": 5000}', DkanBackend().options)
    assert "page_size" in str(bad.value)  # not a DKAN option


def test_options_describe_themselves():
    for option in (*COMMON, *CkanBackend().options, *DkanBackend().options):
        assert option.label and option.description.endswith((".", ")")), option.key
        assert option.group in Group and option.kind in Kind
        if option.kind is Kind.CHOICE:
            assert option.choices and (option.default is None or option.default in option.choices)
    assert [o.key for o in COMMON if o.secret] == ["api_key"] == sorted(sourceconfig.SECRET_KEYS)
    filters = {o.key for o in CkanBackend().options if o.group is Group.FILTER}
    assert filters == {
        "organizations_include",
        "organizations_exclude",
        "groups_include",
        "groups_exclude",
        "fq",
    }
