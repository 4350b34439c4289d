"""Pages of the Harvest Sources UI that harvestplus adds or replaces.

Thin front ends over the actions: *Delete source* / *Delete and clear source*
(ckanext-harvest's form posts to CKAN's own dataset delete view, which ignores
``clear``), *Reharvest (force)*, *Confirm and run* on a held job, and
*Adopt* for datasets detached from an earlier source of the same address.
"""

from __future__ import annotations

import os
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.lib import helpers as h
from flask import Blueprint

harvestplus = Blueprint("harvestplus", __name__, url_prefix="/harvestplus/source")


def _context() -> dict[str, Any]:
    return {"user": tk.current_user.name if tk.current_user else ""}


def _flag(name: str) -> bool:
    return tk.asbool(tk.request.form.get(name) or tk.request.args.get(name) or False)


def _errors(e: tk.ValidationError) -> str:
    return "; ".join(
        " ".join(map(str, v)) if isinstance(v, list) else str(v) for v in e.error_dict.values()
    )


@harvestplus.route("/<id>/delete", methods=["POST"])
def delete(id: str) -> Any:  # noqa: A002 (CKAN's name for it)
    """Delete a source, keeping its datasets as ordinary datasets or (``clear``) purging them."""
    clear = _flag("clear")
    try:
        source = tk.get_action("harvest_source_show")(_context(), {"id": id})
        kept = 0 if clear else tk.h.package_count_for_source(source["id"])
        tk.get_action("harvest_source_delete")(_context(), {"id": source["id"], "clear": clear})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Harvest source not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Not authorized to delete this harvest source"))
    if clear:
        h.flash_success(
            tk._(
                "Harvest source {title} deleted; its datasets, jobs and reports were removed."
            ).format(title=source["title"])
        )
    else:
        h.flash_success(
            tk._(
                "Harvest source {title} deleted; its {n} datasets stay as ordinary datasets."
            ).format(title=source["title"], n=kept)
        )
    return h.redirect_to("harvest.search")


@harvestplus.route("/<id>/run", methods=["POST"])
def run(id: str) -> Any:  # noqa: A002
    """Queue a run now, optionally forced (re-import everything) or confirming
    the removals the mass-deletion guard held back in the latest job."""
    force = _flag("force")
    confirm_job = tk.request.form.get("confirm_job") or None
    try:
        tk.get_action("harvestplus_source_run")(
            _context(), {"id": id, "force": force, "confirm_job": confirm_job}
        )
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Harvest source not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Not authorized to run this harvest source"))
    except tk.ValidationError as e:
        h.flash_error(_errors(e))
    else:
        what = "confirmed run" if confirm_job else "forced reharvest" if force else "harvest"
        h.flash_success(tk._("The {what} will start shortly.").format(what=what))
    return h.redirect_to("harvester.admin", id=id)


@harvestplus.route("/<id>/adopt", methods=["POST"])
def adopt(id: str) -> Any:  # noqa: A002
    """Attach the datasets detached from an earlier source of this address."""
    try:
        done = tk.get_action("harvestplus_source_adopt")(_context(), {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Harvest source not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Not authorized to update this harvest source"))
    h.flash_success(
        tk._(
            "{n} datasets adopted: the next harvest updates them instead of creating new ones."
        ).format(n=len(done["adopted"]))
    )
    return h.redirect_to("harvester.admin", id=id)


def get_blueprints() -> list[Blueprint]:
    return [harvestplus]


def put_templates_first(config: Any) -> None:
    """Make this extension's templates override ckanext-harvest's.

    CKAN gives the templates of plugins listed first precedence, and sites
    list ``harvest`` before ``harvestplus``. ckanext-harvest adds its template
    directory only when it is not there yet, so adding it here first, and
    then ours in front of it, keeps that order whatever the plugin list says.
    """
    import ckanext.harvest.plugin

    harvest = os.path.join(os.path.dirname(ckanext.harvest.plugin.__file__), "templates")
    paths = config.get("plugin_template_paths", [])
    if harvest not in paths:
        config["plugin_template_paths"] = [harvest, *paths]
    tk.add_template_directory(config, "templates")
