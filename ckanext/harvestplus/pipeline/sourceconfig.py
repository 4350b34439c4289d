"""A harvest source's configuration (the JSON in its ``config`` field).

Keys every harvestplus source understands::

    deletion_policy      "archive" (default), "keep" or "delete"
    grace_days           days a vanished dataset waits before it is archived (7)
    max_vanished_share   largest share of the source's datasets that may vanish
                         in one run before the guard holds removals back (0.1)
    organization         local organisation (name or id) that owns harvested
                         datasets; the source's own organisation by default
    private              harvested datasets are private (false)
    api_key              sent to the remote as the Authorization header;
                         shown only to sysadmins and the source's org admins

Backends add their own keys (:attr:`Backend.config_keys`). Unknown keys are
refused so that a typo does not silently change nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ckanext.harvestplus.pipeline.plan import Policy, Settings

COMMON_KEYS = frozenset(
    {"deletion_policy", "grace_days", "max_vanished_share", "organization", "private", "api_key"}
)
#: Keys whose values are credentials: never shown to users who may not edit the source.
SECRET_KEYS = frozenset({"api_key"})
MASK = "********"


class ConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class SourceConfig:
    raw: Mapping[str, Any]
    settings: Settings
    organization: str | None
    private: bool


def loads(text: str | None) -> dict[str, Any]:
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError([f"The configuration is not valid JSON: {e}"]) from e
    if not isinstance(value, dict):
        raise ConfigError(["The configuration must be a JSON object, e.g. {}"])
    return value


def parse(text: str | None, backend_keys: frozenset[str] = frozenset()) -> SourceConfig:
    """Read and check a config; :class:`ConfigError` lists every problem found."""
    raw = loads(text)
    problems: list[str] = []
    unknown = sorted(set(raw) - COMMON_KEYS - backend_keys)
    if unknown:
        allowed = ", ".join(sorted(COMMON_KEYS | backend_keys))
        problems.append(f"Unknown option(s) {', '.join(unknown)}; known options: {allowed}")

    policy = Policy.ARCHIVE
    name = raw.get("deletion_policy", "archive")
    try:
        policy = Policy(name)
    except ValueError:
        problems.append(f'deletion_policy must be "keep", "archive" or "delete", not {name!r}')

    grace = _number(raw, "grace_days", 7, problems, minimum=0)
    share = _number(raw, "max_vanished_share", 0.1, problems, minimum=0, maximum=1)

    organization = raw.get("organization")
    if organization is not None and (not isinstance(organization, str) or not organization):
        problems.append("organization must be the name or id of a local organisation")
    private = raw.get("private", False)
    if not isinstance(private, bool):
        problems.append("private must be true or false")
    key = raw.get("api_key")
    if key is not None and (not isinstance(key, str) or not key.strip()):
        problems.append("api_key must be a non-empty string")
    if problems:
        raise ConfigError(problems)
    settings = Settings(policy=policy, grace=dt.timedelta(days=grace), max_vanished_share=share)
    return SourceConfig(raw=raw, settings=settings, organization=organization, private=private)


def _number(
    raw: Mapping[str, Any],
    key: str,
    default: float,
    problems: list[str],
    minimum: float,
    maximum: float | None = None,
) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f"{key} must be a number, not {value!r}")
        return default
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum:g} and {maximum:g}" if maximum is not None else f">= {minimum:g}"
        problems.append(f"{key} must be {bound}, not {value!r}")
        return default
    return float(value)


def redact(text: str | None) -> str | None:
    """The config with its credentials masked (for users who may not see them)."""
    try:
        raw = loads(text)
    except ConfigError:
        return text
    if not any(k in raw for k in SECRET_KEYS):
        return text
    return json.dumps({k: (MASK if k in SECRET_KEYS else v) for k, v in raw.items()})


def unmask(new_text: str | None, stored_text: str | None) -> str | None:
    """Keep the stored credential where an edit sends back the mask."""
    try:
        new, stored = loads(new_text), loads(stored_text)
    except ConfigError:
        return new_text
    masked = [k for k in SECRET_KEYS if new.get(k) == MASK]
    if not masked:
        return new_text
    for k in masked:
        if k in stored:
            new[k] = stored[k]
        else:
            del new[k]
    return json.dumps(new)
