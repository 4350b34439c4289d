"""The ``harvestplus`` plugin: wiring only. Features live in their modules.

Everything about harvest sources needs ckanext-harvest and is imported only
when its ``harvest`` plugin is loaded: importing ``ckanext.harvest.model``
gives CKAN's Package a relation to ``harvest_object``, and on a site without
that table (one using only the search index, or licences) purging a dataset
would fail.
"""

from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.harvestplus import cli
from ckanext.harvestplus.logic import licences


def _harvest() -> bool:
    return p.plugin_loaded("harvest")


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
        if _harvest():
            from ckanext.harvestplus import views

            views.put_templates_first(config)
        else:
            tk.add_template_directory(config, "templates")

    # IConfigurable
    def configure(self, config: Any) -> None:
        if _harvest():
            from ckanext.harvestplus.logic import validators

            validators.install()

    # IActions
    def get_actions(self) -> dict[str, Any]:
        if not _harvest():
            return {}  # every action is about harvest sources
        from ckanext.harvestplus.logic import action, chained, secrets

        actions = dict(action.get_actions())
        actions.update(chained.get_actions())
        actions["harvest_source_list"] = secrets.harvest_source_list
        return actions

    # IAuthFunctions
    def get_auth_functions(self) -> dict[str, Any]:
        if not _harvest():
            return {}
        from ckanext.harvestplus.logic import auth

        return auth.get_auth_functions()

    # IClick
    def get_commands(self) -> list[Any]:
        return [cli.harvestplus]

    # IBlueprint
    def get_blueprint(self) -> list[Any]:
        if not _harvest():
            return []
        from ckanext.harvestplus import views

        return views.get_blueprints()

    # ITemplateHelpers
    def get_helpers(self) -> dict[str, Any]:
        if not _harvest():
            return {}
        from ckanext.harvestplus import helpers

        return helpers.get_helpers()

    # IPackageController: credentials in source configs only for those who manage
    # them; a remote licence's own title and URL
    def after_dataset_show(self, context: Any, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        if _harvest():
            from ckanext.harvestplus.logic import secrets

            pkg_dict = secrets.redact_dataset(context, pkg_dict)
        return licences.from_remote(pkg_dict)

    def before_dataset_index(self, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        if not _harvest():
            return pkg_dict
        from ckanext.harvestplus.logic import secrets, sources

        return secrets.redact_index(sources.validated_copy(pkg_dict))

    def after_dataset_search(self, search_results: Any, search_params: Any) -> Any:
        if not _harvest():
            for dataset in search_results.get("results", []):
                licences.from_remote(dataset)
            return search_results
        from ckanext.harvestplus.logic import secrets

        context = {"user": secrets.current_user_name()}
        for dataset in search_results.get("results", []):
            licences.from_remote(secrets.redact_dataset(context, dataset))
        return search_results
