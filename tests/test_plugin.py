"""The harvestplus plugins load and wire up cleanly."""

from __future__ import annotations

import ckan.plugins as p
import pytest
from ckan.cli.cli import ckan as ckan_command


@pytest.mark.usefixtures("with_plugins")
def test_plugins_are_loaded_from_the_test_configuration():
    assert p.plugin_loaded("harvestplus")
    assert p.plugin_loaded("harvestplus_pgsearch")


@pytest.mark.usefixtures("with_plugins")
def test_cli_group_is_registered(cli):
    result = cli.invoke(ckan_command, ["harvestplus", "--help"])
    assert result.exit_code == 0, result.output
    assert "ckanext-harvestplus" in result.output


@pytest.mark.usefixtures("with_plugins")
def test_config_declarations_are_registered(ckan_config):
    from ckan.common import config_declaration

    assert config_declaration.get("ckanext.harvestplus.search.text_config") is not None
