from setuptools import find_namespace_packages, setup

setup(
    name="ckanext-harvestplus",
    version="0.1.0",
    description="Harvest external open data catalogues into CKAN, "
    "with transactional deletes and change detection",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="AGPL-3.0-or-later",
    python_requires=">=3.10",
    packages=find_namespace_packages(include=["ckanext.*"]),
    include_package_data=True,
    package_data={
        "ckanext.harvestplus": [
            "config_declaration.yaml",
            "templates/**/*",
            "migration/harvestplus/*.ini",
            "migration/harvestplus/*.mako",
            "migration/harvestplus/versions/*.py",
        ],
    },
    zip_safe=False,
    install_requires=[
        # CKAN itself is installed from requirements.txt, pinned per supported
        # release (see the Makefile's CKAN_VERSION).
        "ckanext-harvest==1.6.3",
        "ckanext-dcat==2.4.4",
        "luqum==1.0.0",
    ],
    entry_points={
        "ckan.plugins": [
            "harvestplus = ckanext.harvestplus.plugin:HarvestPlusPlugin",
            "harvestplus_pgsearch = ckanext.harvestplus.pgsearch.plugin:PgSearchPlugin",
            "harvestplus_ckan = ckanext.harvestplus.harvesters:CkanHarvester",
            "harvestplus_dkan = ckanext.harvestplus.harvesters:DkanHarvester",
        ],
        # Loaded only by tests: the example of README's "Writing a backend".
        "ckan.test_plugins": [
            "harvestplus_example = tests.backends.example:JsonListHarvester",
        ],
    },
)
