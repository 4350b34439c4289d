"""The ``harvestplus`` plugin's options, read through typed getters.

Each option and its default are written once, in config_declaration.yaml.
CKAN applies those defaults while the plugin is loaded; the getters fall back
on the same file when it is not (tests that replace ``ckan.plugins``, or code
running without CKAN), so no default is written a second time in code. This
module imports without CKAN.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

DECLARATION = Path(__file__).with_name("config_declaration.yaml")
HTTP = "ckanext.harvestplus.http."


@functools.lru_cache(maxsize=1)
def declared() -> dict[str, Any]:
    """Every declared option with its default."""
    data = yaml.safe_load(DECLARATION.read_text())
    return {
        option["key"]: option.get("default")
        for group in data["groups"]
        for option in group["options"]
    }


def option(key: str) -> Any:
    """An option's value: as configured, else its declared default."""
    if key not in declared():
        raise KeyError(f"{key} is not declared in {DECLARATION.name}")
    try:
        import ckan.plugins.toolkit as tk
    except ImportError:  # used without CKAN (the HTTP client's own tests)
        value = None
    else:
        value = tk.config.get(key)
    return declared()[key] if value is None or value == "" else value


def words(value: Any) -> tuple[str, ...]:
    """A list option, written as words or given as a list."""
    return tuple(value.split() if isinstance(value, str) else (str(v) for v in value or ()))


def http(read: Any = option) -> dict[str, Any]:
    """The HTTP client's options (``ckanext.harvestplus.http.*``), typed; ``read``
    gives each value (``declared().get`` for the defaults alone)."""
    return {
        "connect_timeout": float(read(HTTP + "connect_timeout")),
        "read_timeout": float(read(HTTP + "read_timeout")),
        "total_timeout": float(read(HTTP + "total_timeout")),
        "max_bytes": int(read(HTTP + "max_bytes")),
        "retries": int(read(HTTP + "retries")),
        "backoff": float(read(HTTP + "backoff")),
        "max_redirects": int(read(HTTP + "max_redirects")),
        "allowed_private": words(read(HTTP + "allowed_private")),
    }
