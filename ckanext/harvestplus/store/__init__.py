"""Every SQL statement on ckanext-harvest's and harvestplus's tables.

:mod:`.objects`
    what a source holds (its current harvest objects) and the objects of a
    run, written in bulk;
:mod:`.runs`
    harvest jobs: their options and plan (``harvestplus_job``), status and
    outcome.
"""
