"""Input schemas of the ``harvestplus`` actions (CKAN's navl validators)."""

from __future__ import annotations

from typing import Any

from ckan.logic.schema import validator_args

Schema = dict[str, Any]


@validator_args
def source_run(
    not_empty: Any, unicode_safe: Any, ignore_missing: Any, boolean_validator: Any
) -> Schema:
    return {
        "id": [not_empty, unicode_safe],
        "force": [ignore_missing, boolean_validator],
        "confirm": [ignore_missing, boolean_validator],
        "confirm_job": [ignore_missing, unicode_safe],
        "sync": [ignore_missing, boolean_validator],
    }


@validator_args
def job(not_empty: Any, unicode_safe: Any) -> Schema:
    return {"id": [not_empty, unicode_safe]}


@validator_args
def source_scan(ignore_missing: Any, unicode_safe: Any, boolean_validator: Any) -> Schema:
    """``harvestplus_orphans`` and ``harvestplus_check``."""
    return {
        "source_id": [ignore_missing, unicode_safe],
        "repair": [ignore_missing, boolean_validator],
    }


@validator_args
def preview(
    ignore_missing: Any, unicode_safe: Any, int_validator: Any, is_positive_integer: Any
) -> Schema:
    return {
        "id": [ignore_missing, unicode_safe],
        "type": [ignore_missing, unicode_safe],
        "url": [ignore_missing, unicode_safe],
        "config": [ignore_missing, unicode_safe],
        "limit": [ignore_missing, int_validator, is_positive_integer],
    }


@validator_args
def source_adopt(
    not_empty: Any, unicode_safe: Any, ignore_missing: Any, boolean_validator: Any
) -> Schema:
    return {"id": [not_empty, unicode_safe], "dry_run": [ignore_missing, boolean_validator]}
