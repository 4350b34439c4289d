import pytest
from ckan import plugins


@pytest.fixture
def clean_db(reset_db, migrate_db_for, reset_index):
    """CKAN's clean_db, plus the tables of the loaded plugins among
    ckanext-harvest, harvestplus, its search index and activity, and an empty
    search index (the PostgreSQL index lives in a schema reset_db keeps)."""
    reset_db()
    reset_index()
    # CKAN runs a plugin's migrations only while the plugin is loaded.
    for plugin in ("harvest", "harvestplus", "harvestplus_pgsearch", "activity"):
        if plugins.plugin_loaded(plugin):
            migrate_db_for(plugin)


@pytest.fixture(scope="session")
def remote_ckan(tmp_path_factory):
    """A second, real CKAN on a loopback port, started once per test session."""
    from tests.remote import ckan as remote

    server = remote.start(tmp_path_factory.mktemp("remote"))
    yield server
    server.stop()
