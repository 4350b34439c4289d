import pytest


@pytest.fixture
def clean_db(reset_db, migrate_db_for):
    """CKAN's clean_db, plus the tables of ckanext-harvest and harvestplus."""
    reset_db()
    migrate_db_for("harvest")
    migrate_db_for("harvestplus")
