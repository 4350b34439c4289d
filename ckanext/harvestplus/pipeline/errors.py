"""How the pipeline tells about failures."""

from __future__ import annotations

import json

import ckan.plugins.toolkit as tk
import sqlalchemy as sa


class JobStopped(Exception):  # noqa: N818 (a state, like StopIteration)
    """An admin stopped the job while it was being gathered."""


def describe(error: Exception) -> str:
    """An error as the job report and the log show it. A database error is its
    first line only: SQLAlchemy's text adds the statement and its parameters,
    which hold a dataset's content (and may hold what the remote kept private)."""
    if isinstance(error, tk.ValidationError):
        return f"validation error: {json.dumps(error.error_dict, default=str)}"
    if isinstance(error, sa.exc.StatementError):
        cause = error.orig if error.orig is not None else error
        lines = str(cause).strip().splitlines() if isinstance(cause, Exception) else []
        return f"database error: {lines[0] if lines else type(cause).__name__}"
    return str(error) or type(error).__name__
