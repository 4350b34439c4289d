"""The ``harvestplus_pgsearch`` plugin: CKAN's search index in PostgreSQL."""

from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import seam


@tk.blanket.config_declarations
class PgSearchPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)

    # IConfigurer
    def update_config(self, config: Any) -> None:
        # Runs before CKAN checks the search backend at start-up.
        seam.install()
