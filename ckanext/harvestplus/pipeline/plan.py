"""What a harvest run should do with each record: one pure function.

Compares the remote listing (identity and content hash of every record) with
what the source holds locally, and decides per identity: create, update,
leave unchanged, restore an archived dataset, start a vanished dataset's grace
period, archive it, delete it, or keep it. No I/O: the pipeline gathers the
inputs and carries the plan out.

The mass-deletion guard lives here too, because it is a decision about the
whole listing: when the listing is incomplete, empty, or would make more than
a set share of the source's datasets vanish at once, nothing is archived or
deleted (and no grace period starts) unless the run was confirmed.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from ckanext.harvestplus.types import Action


class Policy(enum.Enum):
    """What happens to datasets that vanished from the remote catalogue."""

    KEEP = "keep"
    ARCHIVE = "archive"
    DELETE = "delete"


#: Actions that take a dataset away from users; the guard can hold them back.
REMOVALS = frozenset({Action.ARCHIVE, Action.DELETE, Action.MARK_MISSING})


@dataclass(frozen=True)
class Local:
    """What the source holds for one remote identity."""

    content_hash: str
    archived: bool = False
    missing_since: dt.datetime | None = None
    #: False when the local dataset was deleted (by hand, or by a run cut short).
    active: bool = True


@dataclass(frozen=True)
class Settings:
    policy: Policy = Policy.ARCHIVE
    grace: dt.timedelta = dt.timedelta(days=7)
    #: Largest share of the source's active datasets that may vanish in one run.
    max_vanished_share: float = 0.10


@dataclass(frozen=True)
class Plan:
    actions: Mapping[str, Action]
    #: Why removals were held back, or None when they were not.
    guard: str | None = None
    counts: Mapping[Action, int] = field(default_factory=dict)
    #: Identities whose removal the guard held back (what an admin may confirm).
    held: frozenset[str] = frozenset()

    def ids(self, action: Action) -> list[str]:
        return sorted(i for i, a in self.actions.items() if a is action)


def decide(
    remote: Mapping[str, str],
    local: Mapping[str, Local],
    *,
    settings: Settings,
    now: dt.datetime,
    listing_complete: bool = True,
    force: bool = False,
    confirmed: bool = False,
    confirmed_ids: frozenset[str] = frozenset(),
) -> Plan:
    """Plan one run.

    :param remote: remote identity -> content hash of the mapped dataset, for
        every record the remote listed in this run.
    :param local: remote identity -> what this source holds for it.
    :param listing_complete: False when any page of the remote listing failed.
    :param force: re-import every listed record, changed or not.
    :param confirmed: an admin confirmed this run's removals (overrides the guard).
    :param confirmed_ids: identities whose removal an admin confirmed after an
        earlier run held them back: they go ahead, and the guard judges only
        the others, as if these had not vanished.
    """
    actions: dict[str, Action] = {}
    for identity, content_hash in remote.items():
        held = local.get(identity)
        if held is None:
            actions[identity] = Action.CREATE
        elif held.archived or not held.active:
            actions[identity] = Action.RESTORE
        elif force or held.content_hash != content_hash:
            actions[identity] = Action.UPDATE
        else:
            actions[identity] = Action.UNCHANGED

    vanished = [i for i in local if i not in remote]
    for identity in vanished:
        actions[identity] = _vanished(local[identity], settings, now)

    judged = [i for i in vanished if i not in confirmed_ids]
    guard = None if confirmed else _guard(remote, local, judged, settings, listing_complete)
    held_back: set[str] = set()
    if guard is not None:
        for identity in judged:
            if actions[identity] in REMOVALS:
                actions[identity] = Action.KEEP
                held_back.add(identity)
    counts: dict[Action, int] = {}
    for action in actions.values():
        counts[action] = counts.get(action, 0) + 1
    return Plan(actions=actions, guard=guard, counts=counts, held=frozenset(held_back))


def _vanished(held: Local, settings: Settings, now: dt.datetime) -> Action:
    if settings.policy is Policy.KEEP or held.archived:
        return Action.KEEP
    if not held.active:
        # Deleted here already (e.g. a run cut short after package_delete):
        # deleting again completes the removal, whatever the policy.
        return Action.DELETE
    if settings.policy is Policy.DELETE:
        return Action.DELETE
    if held.missing_since is None:
        return Action.ARCHIVE if settings.grace <= dt.timedelta(0) else Action.MARK_MISSING
    if now - held.missing_since >= settings.grace:
        return Action.ARCHIVE
    return Action.WAIT


def _guard(
    remote: Mapping[str, str],
    local: Mapping[str, Local],
    vanished: list[str],
    settings: Settings,
    listing_complete: bool,
) -> str | None:
    if settings.policy is Policy.KEEP:
        return None
    newly_gone = [i for i in vanished if not local[i].archived and local[i].active]
    if not newly_gone:
        return None
    if not listing_complete:
        return (
            f"The remote listing was incomplete, so {len(newly_gone)} dataset(s) missing "
            "from it were neither archived nor deleted."
        )
    if not remote:
        return (
            f"The remote listed no records at all; the {len(newly_gone)} dataset(s) of this "
            "source were neither archived nor deleted. Confirm the run if the catalogue "
            "really is empty."
        )
    active = sum(1 for held in local.values() if not held.archived and held.active)
    share = len(newly_gone) / active if active else 0.0
    if share > settings.max_vanished_share:
        return (
            f"{len(newly_gone)} of {active} datasets ({share:.0%}) vanished from the remote "
            f"at once, more than the {settings.max_vanished_share:.0%} allowed; nothing was "
            "archived or deleted. Confirm the run if this is expected."
        )
    return None
