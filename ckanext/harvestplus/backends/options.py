"""The options a source's configuration may set, declared once and checked by one
validator.

Every backend declares its own options (:attr:`Backend.options`), and the
pipeline declares the options every harvestplus source understands
(:data:`COMMON`). Each says its key, label, description, type, default,
whether it is a secret, and its group, as udata's ``/harvest/backends/``
groups them: ``config`` (extra configuration), ``feature`` (a switch) and
``filter`` (what the remote's listing is narrowed to). :func:`validate`
checks a configuration against the declaration and names every bad key.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


class Kind(enum.StrEnum):
    TEXT = "text"
    NAMES = "names"  # a list of names
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    CHOICE = "choice"


class Group(enum.StrEnum):
    CONFIG = "config"
    FEATURE = "feature"
    FILTER = "filter"


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    description: str
    kind: Kind
    group: Group = Group.CONFIG
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: A credential: masked for those who may not manage the source.
    secret: bool = False
    #: What a valid text value is, for the message of an invalid one.
    expected: str = "a non-empty string"
    #: Whether an empty text is a valid value.
    empty: bool = False

    def problems(self, value: Any) -> list[str]:
        """What is wrong with a value of this option (empty: nothing)."""
        key = self.key
        if self.kind is Kind.CHOICE:
            if value not in self.choices:
                named = [f'"{c}"' for c in self.choices]
                listed = ", ".join(named[:-1]) + f" or {named[-1]}" if len(named) > 1 else named[0]
                return [f"{key} must be {listed}, not {value!r}"]
        elif self.kind is Kind.BOOLEAN:
            if not isinstance(value, bool):
                return [f"{key} must be true or false"]
        elif self.kind is Kind.NAMES:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                return [f'{key} must be a list of names, e.g. ["health"]']
        elif self.kind is Kind.INTEGER:
            whole = isinstance(value, int) and not isinstance(value, bool)
            if not whole or not self._within(value):
                return [f"{key} must be a whole number {self._bounds('from')}"]
        elif self.kind is Kind.NUMBER:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return [f"{key} must be a number, not {value!r}"]
            if not self._within(value):
                return [f"{key} must be {self._bounds('between')}, not {value!r}"]
        elif not isinstance(value, str) or not (value.strip() or self.empty):
            return [f"{key} must be {self.expected}"]
        return []

    def _within(self, value: float) -> bool:
        low, high = self.minimum, self.maximum
        return (low is None or value >= low) and (high is None or value <= high)

    def _bounds(self, style: str) -> str:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            joined = "to" if style == "from" else "and"
            return f"{style} {low:g} {joined} {high:g}"
        return f">= {low:g}" if low is not None else f"<= {high:g}"

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def validate(declared: Iterable[Option], raw: Mapping[str, Any]) -> list[str]:
    """Every problem of a configuration against the options declared for it."""
    options = {o.key: o for o in declared}
    problems = []
    unknown = sorted(set(raw) - set(options))
    if unknown:
        allowed = ", ".join(sorted(options))
        problems.append(f"Unknown option(s) {', '.join(unknown)}; known options: {allowed}")
    for key, option in options.items():
        if key in raw:
            problems += option.problems(raw[key])
    return problems


#: The options of every harvestplus source, whatever its backend.
COMMON: tuple[Option, ...] = (
    Option(
        "deletion_policy",
        "Deletion policy",
        "What becomes of a dataset whose record the remote no longer lists: "
        "keep it, archive it after the grace period, or delete it.",
        Kind.CHOICE,
        default="archive",
        choices=("keep", "archive", "delete"),
    ),
    Option(
        "grace_days",
        "Grace days",
        "Days a vanished record waits before its dataset is archived.",
        Kind.NUMBER,
        default=7,
        minimum=0,
    ),
    Option(
        "max_vanished_share",
        "Largest share that may vanish",
        "When more of the source's datasets than this share (0 to 1) vanish in one "
        "run, nothing is removed until an admin confirms (the mass-deletion guard).",
        Kind.NUMBER,
        default=0.1,
        minimum=0,
        maximum=1,
    ),
    Option(
        "organization",
        "Organisation",
        "The local organisation (name or id) that owns harvested datasets; the "
        "source's own organisation by default.",
        Kind.TEXT,
        expected="the name or id of a local organisation",
    ),
    Option(
        "private",
        "Private",
        "Harvested datasets are private (needs an organisation).",
        Kind.BOOLEAN,
        group=Group.FEATURE,
        default=False,
    ),
    Option(
        "api_key",
        "API key",
        "Sent to the remote as the Authorization header; shown only to sysadmins "
        "and admins of the source's organisation.",
        Kind.TEXT,
        secret=True,
    ),
)
