"""CKAN's dataset search index kept in PostgreSQL (plugin ``harvestplus_pgsearch``)."""
