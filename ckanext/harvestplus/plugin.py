"""The ``harvestplus`` plugin: wiring only. Features live in their modules."""

from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.harvestplus import cli, helpers, views
from ckanext.harvestplus.logic import (
    action,
    auth,
    chained,
    licences,
    secrets,
    sources,
    validators,
)


@tk.blanket.config_declarations
class HarvestPlusPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.IConfigurable)
    p.implements(p.IActions)
    p.implements(p.IAuthFunctions)
    p.implements(p.IClick)
    p.implements(p.IBlueprint)
    p.implements(p.ITemplateHelpers)
    p.implements(p.IPackageController, inherit=True)

    # IConfigurer
    def update_config(self, config: Any) -> None:
        if p.plugin_loaded("harvest"):
            views.put_templates_first(config)
        else:
            tk.add_template_directory(config, "templates")

    # IConfigurable
    def configure(self, config: Any) -> None:
        if p.plugin_loaded("harvest"):
            validators.install()

    # IActions
    def get_actions(self) -> dict[str, Any]:
        actions = dict(action.get_actions())
        if p.plugin_loaded("harvest"):
            actions.update(chained.get_actions())
            actions["harvest_source_list"] = secrets.harvest_source_list
        return actions

    # IAuthFunctions
    def get_auth_functions(self) -> dict[str, Any]:
        return auth.get_auth_functions()

    # IClick
    def get_commands(self) -> list[Any]:
        return [cli.harvestplus]

    # IBlueprint
    def get_blueprint(self) -> list[Any]:
        return views.get_blueprints() if p.plugin_loaded("harvest") else []

    # ITemplateHelpers
    def get_helpers(self) -> dict[str, Any]:
        return helpers.get_helpers() if p.plugin_loaded("harvest") else {}

    # IPackageController: credentials in source configs only for those who manage
    # them; a remote licence's own title and URL
    def after_dataset_show(self, context: Any, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        return licences.from_remote(secrets.redact_dataset(context, pkg_dict))

    def before_dataset_index(self, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        return secrets.redact_index(sources.validated_copy(pkg_dict))

    def after_dataset_search(self, search_results: Any, search_params: Any) -> Any:
        context = {"user": secrets.current_user_name()}
        for dataset in search_results.get("results", []):
            licences.from_remote(secrets.redact_dataset(context, dataset))
        return search_results
