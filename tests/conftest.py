import pytest
from ckan import plugins


@pytest.fixture
def clean_db(reset_db, migrate_db_for, reset_index):
    """CKAN's clean_db, plus the tables of ckanext-harvest and harvestplus (and of
    the activity plugin when loaded), and an empty search index (the PostgreSQL
    index lives in a schema reset_db keeps)."""
    reset_db()
    reset_index()
    migrate_db_for("harvest")
    migrate_db_for("harvestplus")
    if plugins.plugin_loaded("harvestplus_pgsearch"):
        migrate_db_for("harvestplus_pgsearch")
    if plugins.plugin_loaded("activity"):  # a test module that turns it on
        migrate_db_for("activity")


@pytest.fixture(scope="session")
def remote_ckan(tmp_path_factory):
    """A second, real CKAN on a loopback port, started once per test session."""
    from tests.remote import ckan as remote

    server = remote.start(tmp_path_factory.mktemp("remote"))
    yield server
    server.stop()
