"""The ``harvestplus`` plugin: wiring only. Features live in their modules."""

from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.harvestplus import cli
from ckanext.harvestplus.logic import action, auth


@tk.blanket.config_declarations
class HarvestPlusPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.IActions)
    p.implements(p.IAuthFunctions)
    p.implements(p.IClick)

    # IConfigurer
    def update_config(self, config: Any) -> None:
        tk.add_template_directory(config, "templates")

    # IActions
    def get_actions(self) -> dict[str, Any]:
        return action.get_actions()

    # IAuthFunctions
    def get_auth_functions(self) -> dict[str, Any]:
        return auth.get_auth_functions()

    # IClick
    def get_commands(self) -> list[Any]:
        return [cli.harvestplus]
