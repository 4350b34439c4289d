"""A harvest source's configuration (the JSON in its ``config`` field).

Keys every harvestplus source understands (declared in
:data:`~ckanext.harvestplus.backends.options.COMMON`)::

    deletion_policy      "archive" (default), "keep" or "delete"
    grace_days           days a vanished dataset waits before it is archived (7)
    max_vanished_share   largest share of the source's datasets that may vanish
                         in one run before the guard holds removals back (0.1)
    organization         local organisation (name or id) that owns harvested
                         datasets; the source's own organisation by default
    private              harvested datasets are private (false)
    api_key              sent to the remote as the Authorization header;
                         shown only to sysadmins and the source's org admins

Backends declare their own (:attr:`Backend.options`). Unknown keys are
refused so that a typo does not silently change nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ckanext.harvestplus.backends import options
from ckanext.harvestplus.pipeline.plan import Policy, Settings

COMMON_KEYS = frozenset(o.key for o in options.COMMON)
#: Keys whose values are credentials: never shown to users who may not edit the source.
SECRET_KEYS = frozenset(o.key for o in options.COMMON if o.secret)
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


def parse(text: str | None, backend: Iterable[options.Option] = ()) -> SourceConfig:
    """Read and check a config against the common options and a backend's
    (``backend``); :class:`ConfigError` lists every problem found."""
    raw = loads(text)
    problems = options.validate((*options.COMMON, *backend), raw)
    if problems:
        raise ConfigError(problems)
    declared = {o.key: o.default for o in options.COMMON}
    settings = Settings(
        policy=Policy(raw.get("deletion_policy", declared["deletion_policy"])),
        grace=dt.timedelta(days=float(raw.get("grace_days", declared["grace_days"]))),
        max_vanished_share=float(raw.get("max_vanished_share", declared["max_vanished_share"])),
    )
    return SourceConfig(
        raw=raw,
        settings=settings,
        organization=raw.get("organization"),
        private=bool(raw.get("private", declared["private"])),
    )


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
