"""The harvest tests' fixtures, for the tests of the actions and auth functions."""

from tests.harvest.conftest import catalogue, local_org, source  # noqa: F401
