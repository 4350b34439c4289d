"""Actions of the ``harvestplus`` plugin."""

from __future__ import annotations

from typing import Any


def get_actions() -> dict[str, Any]:
    return {}
