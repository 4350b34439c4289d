"""Writing to the PostgreSQL index: CKAN's writes, rebuilds and failures."""

from __future__ import annotations

import ckan.lib.search as search
import ckan.model as model
import pytest
import sqlalchemy as sa
from ckan.exceptions import CkanConfigurationException
from ckan.lib.search.common import SearchIndexError, make_connection
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ckanext.harvestplus.pgsearch import seam
from ckanext.harvestplus.pgsearch.model import document


def json_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def indexed_names() -> set[str]:
    with model.ensure_engine().connect() as conn:
        rows = conn.execute(sa.select(document.c.stored["name"].astext)).scalars()
        return set(rows)


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestWrites:
    def test_create_update_delete_follow_the_dataset(self):
        dataset = factories.Dataset(name="first-name")
        assert indexed_names() == {"first-name"}
        call_action("package_patch", id=dataset["id"], name="second-name")
        assert indexed_names() == {"second-name"}
        call_action("package_delete", id=dataset["id"])
        assert indexed_names() == set()
        assert call_action("package_search", q="*:*")["count"] == 0

    def test_delete_by_query_and_by_id(self):
        a = factories.Dataset(tags=[{"name": "keep"}])
        factories.Dataset(tags=[{"name": "drop"}])
        factories.Dataset(tags=[{"name": "drop"}])
        conn = make_connection()
        conn.delete(q="+tags:drop")
        assert indexed_names() == {a["name"]}
        index_id = call_action("package_search", fl="index_id")["results"][0]["index_id"]
        conn.delete(id=index_id)
        assert indexed_names() == set()

    def test_package_show_reads_the_cached_dataset_back(self):
        dataset = factories.Dataset(notes="From the index")
        shown = call_action("package_show", id=dataset["name"])
        assert shown["notes"] == "From the index"
        assert search.show(dataset["name"])["metadata_modified"].endswith("Z")

    def test_rebuild_fills_an_empty_index(self, cli):
        from ckan.cli.cli import ckan as ckan_command

        names = {factories.Dataset()["name"] for _ in range(3)}
        search.clear_all()
        assert indexed_names() == set()
        result = cli.invoke(ckan_command, ["search-index", "rebuild"])
        assert result.exit_code == 0, result.output
        assert indexed_names() == names

    def test_long_values_index_and_match_exactly(self):
        polygon = '{"type": "Polygon", "coordinates": [' + ",".join(["[1.5, 2.5]"] * 400) + "]}"
        dataset = factories.Dataset(extras=[{"key": "spatial", "value": polygon}])
        found = call_action("package_search", fq=f"spatial:{json_quote(polygon)}")
        assert [d["id"] for d in found["results"]] == [dataset["id"]]

    def test_concurrent_writes_of_one_dataset_all_succeed(self):
        import threading

        dataset = factories.Dataset()
        # The stored fields are a valid document to write again.
        index_doc = search.show(dataset["id"])
        errors: list[Exception] = []

        def write() -> None:
            try:
                for _ in range(15):
                    make_connection().add([index_doc])
            except Exception as e:  # collected and asserted below
                errors.append(e)

        threads = [threading.Thread(target=write) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert indexed_names() == {dataset["name"]}

    def test_a_date_solr_would_refuse_fails_the_write(self):
        dataset = factories.Dataset()
        index = search.index_for(model.Package)
        pkg_dict = call_action("package_show", id=dataset["id"])
        pkg_dict["metadata_created"] = "not a date"
        with pytest.raises(SearchIndexError, match="Invalid Date String"):
            index.index_package({**pkg_dict, "with_custom_schema": pkg_dict})


@pytest.mark.ckan_config("ckan.plugins", "harvest")
@pytest.mark.usefixtures("with_plugins", "clean_index")
def test_index_stays_in_force_when_tests_replace_the_plugin_list(reset_db, migrate_db_for):
    # Only "harvest" is loaded: the index is chosen by solr_url, not the plugin
    # list, and CKAN's reset_db leaves it in place as it would leave Solr.
    reset_db()
    migrate_db_for("harvest")
    dataset = factories.Dataset(title="Still searchable")
    assert call_action("package_search", q="searchable")["results"][0]["id"] == dataset["id"]


@pytest.mark.usefixtures("with_plugins", "clean_db")
def test_missing_tables_give_an_actionable_error():
    with model.ensure_engine().begin() as conn:
        conn.execute(sa.text("ALTER SCHEMA harvestplus_pgsearch RENAME TO harvestplus_away"))
    try:
        with pytest.raises(SearchIndexError, match="ckan db upgrade -p harvestplus_pgsearch"):
            factories.Dataset()
        model.Session.rollback()
        search.clear_all()  # clearing an index that does not exist is a no-op
    finally:
        model.Session.rollback()
        with model.ensure_engine().begin() as conn:
            conn.execute(sa.text("ALTER SCHEMA harvestplus_away RENAME TO harvestplus_pgsearch"))


@pytest.mark.parametrize(
    ("chain", "latest"),
    [("harvestplus", "0004_in_process_runs"), ("harvestplus_pgsearch", "0001_search_index")],
)
@pytest.mark.usefixtures("with_plugins", "clean_db")
def test_migration_is_idempotent_after_ckan_drops_its_version_table(migrate_db_for, chain, latest):
    with model.ensure_engine().begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {chain}_alembic_version"))
    migrate_db_for(chain)
    migrate_db_for(chain)
    with model.ensure_engine().connect() as conn:
        version = conn.execute(sa.text(f"SELECT version_num FROM {chain}_alembic_version"))
        assert version.scalar() == latest  # the latest revision, once


@pytest.mark.usefixtures("with_plugins", "clean_db")
def test_an_index_made_before_the_plugin_had_its_own_migrations_is_kept(migrate_db_for):
    """Until 0.1.0 the index was migration 0001 of the harvestplus chain, in the
    schema harvestplus_search; `ckan db upgrade -p harvestplus_pgsearch` moves it,
    documents included, and the old option name keeps working."""
    kept = factories.Dataset(title="Indexed before the upgrade")
    with model.ensure_engine().begin() as conn:  # today's layout on an upgraded site
        conn.execute(sa.text("ALTER SCHEMA harvestplus_pgsearch RENAME TO harvestplus_search"))
        conn.execute(sa.text("DROP TABLE harvestplus_pgsearch_alembic_version"))
        before = conn.execute(sa.text("SELECT count(*) FROM harvestplus_search.document"))
        documents = before.scalar()
    migrate_db_for("harvestplus_pgsearch")
    with model.ensure_engine().connect() as conn:
        schemas = conn.execute(
            sa.text(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'harvestplus_%' "
                "ORDER BY nspname"
            )
        )
        assert [r[0] for r in schemas] == ["harvestplus_pgsearch"]
        after = conn.execute(sa.text("SELECT count(*) FROM harvestplus_pgsearch.document"))
        assert after.scalar() == documents >= 1
    found = call_action("package_search", q="upgrade")["results"]
    assert [d["id"] for d in found] == [kept["id"]]


@pytest.mark.ckan_config("ckanext.harvestplus.search.text_config", "harvestplus_search.english")
@pytest.mark.usefixtures("with_plugins", "clean_db")
def test_the_old_option_name_and_schema_are_still_read():
    from ckanext.harvestplus.pgsearch import config

    assert config.text_config() == "harvestplus_pgsearch.english"
    factories.Dataset(title="Rivers and lakes")
    assert call_action("package_search", q="river")["count"] == 1  # stemmed: English


@pytest.mark.parametrize("url", ["postgresql://db.example/ckan", "postgresql:///other"])
def test_solr_url_naming_another_database_is_refused(url, monkeypatch):
    monkeypatch.setitem(search.config, "solr_url", url)
    with pytest.raises(CkanConfigurationException, match="CKAN's own"):
        search.check_solr_schema_version()


def test_other_solr_urls_still_reach_solr():
    import ckan.lib.search.common as common

    assert isinstance(common.pysolr, seam._Pysolr)
    conn = common.pysolr.Solr("http://127.0.0.1:8983/solr/ckan")
    assert type(conn).__module__ == "pysolr"


@pytest.mark.ckan_config("ckan.plugins", "harvestplus_pgsearch")
@pytest.mark.usefixtures("with_plugins")
def test_the_index_needs_neither_harvestplus_nor_ckanext_harvest(reset_db, migrate_db_for):
    """Only the index's plugin, and only its migrations (the remote CKAN of the
    tests, tests/remote, runs this way on a database without harvest tables)."""
    reset_db()
    with model.ensure_engine().begin() as conn:
        conn.execute(sa.text("DROP SCHEMA harvestplus_pgsearch CASCADE"))
        conn.execute(sa.text("DROP TABLE IF EXISTS harvestplus_pgsearch_alembic_version"))
    migrate_db_for("harvestplus_pgsearch")
    dataset = factories.Dataset(title="Found without a harvester")
    found = call_action("package_search", q="harvester")["results"]
    assert [d["id"] for d in found] == [dataset["id"]]
