"""The plugin's options: written once in config_declaration.yaml, read typed."""

from __future__ import annotations

import ckan.plugins.toolkit as tk

from ckanext.harvestplus import config
from ckanext.harvestplus.pipeline.http import HttpPolicy


def test_every_declared_http_option_has_a_getter_and_one_default():
    declared = {k for k in config.declared() if k.startswith(config.HTTP)}
    read = {config.HTTP + name for name in config.http(config.declared().get)}
    assert read == declared
    defaults = config.http(config.declared().get)
    policy = HttpPolicy()
    assert {name: getattr(policy, name) for name in defaults} == defaults


def test_a_configured_value_wins_over_the_declared_default(monkeypatch):
    monkeypatch.setitem(tk.config, "ckanext.harvestplus.http.read_timeout", "7.5")
    monkeypatch.setitem(tk.config, "ckanext.harvestplus.http.max_bytes", "")
    assert config.option("ckanext.harvestplus.http.read_timeout") == "7.5"
    assert config.http()["read_timeout"] == 7.5
    assert config.http()["max_bytes"] == 104857600  # unset: the declared default
