"""The harvester plugins: one ckanext-harvest IHarvester per backend.

Each is a :class:`PipelineHarvester` naming its backend; adding a kind of
remote is one backend module, one class here and one ``ckan.plugins`` entry
point in setup.py.
"""

from __future__ import annotations

import ckan.plugins as p
from ckan import model
from ckanext.harvest.interfaces import IHarvester
from ckanext.harvest.model import HarvestJob, HarvestObject

from ckanext.harvestplus.backends.base import Backend
from ckanext.harvestplus.backends.ckan import CkanBackend
from ckanext.harvestplus.backends.dkan import DkanBackend
from ckanext.harvestplus.pipeline import context, sourceconfig
from ckanext.harvestplus.pipeline.gather import gather_job
from ckanext.harvestplus.pipeline.importer import Import


class PipelineHarvester(p.SingletonPlugin):
    """IHarvester for one backend; subclasses set :attr:`backend`."""

    p.implements(IHarvester)

    backend: Backend

    # IHarvester
    def info(self) -> dict[str, str]:
        return {
            "name": self.backend.name,
            "title": self.backend.title,
            "description": self.backend.description,
            "form_config_interface": "Text",
        }

    def validate_config(self, config: str | None) -> str | None:
        """Check a source config on save; every problem is listed in the error."""
        try:
            parsed = sourceconfig.parse(config, self.backend.options)
            problems = self.backend.validate(parsed.raw)
        except sourceconfig.ConfigError as e:
            problems = e.problems
        else:
            org = parsed.organization
            if org and not context.organization_id(org):
                problems.append(f"organization {org!r} does not exist on this site")
        if problems:
            raise ValueError("; ".join(problems))
        return config

    def get_original_url(self, harvest_object_id: str) -> str | None:
        obj = HarvestObject.get(harvest_object_id)
        if obj is None or not obj.package_id:
            return None
        package = model.Package.get(obj.package_id)
        return (
            package.extras.get(context.PROVENANCE + "remote_url") if package is not None else None
        )

    def gather_stage(self, harvest_job: HarvestJob) -> list[str]:
        return gather_job(self.backend, harvest_job)

    def fetch_stage(self, harvest_object: HarvestObject) -> bool:
        return True

    def import_stage(self, harvest_object: HarvestObject) -> bool | str:
        return Import(self.backend, harvest_object).run()


class CkanHarvester(PipelineHarvester):
    backend = CkanBackend()


class DkanHarvester(PipelineHarvester):
    backend = DkanBackend()
