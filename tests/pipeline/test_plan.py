"""The plan: what one run does with each record, decided without I/O."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from ckanext.harvestplus.pipeline.plan import Action, Local, Policy, Settings, decide

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


def plan(remote, local, **kwargs):
    kwargs.setdefault("settings", Settings())
    return decide(remote, local, now=NOW, **kwargs)


def test_create_update_unchanged_by_identity_and_hash():
    result = plan({"a": "h1", "b": "h2", "c": "new"}, {"b": Local("h2"), "c": Local("old")})
    assert result.actions == {"a": Action.CREATE, "b": Action.UNCHANGED, "c": Action.UPDATE}
    assert result.guard is None


def test_force_updates_unchanged_records():
    result = plan({"b": "h2"}, {"b": Local("h2")}, force=True)
    assert result.actions == {"b": Action.UPDATE}


def test_archived_dataset_listed_again_is_restored():
    result = plan({"a": "h1"}, {"a": Local("h1", archived=True)})
    assert result.actions == {"a": Action.RESTORE}


def test_vanished_dataset_waits_out_its_grace_period_then_is_archived():
    listed = {f"r{i}": "h" for i in range(20)}
    held = {i: Local("h") for i in listed}
    held["gone"] = Local("h")
    assert plan(listed, held).actions["gone"] is Action.MARK_MISSING
    held["gone"] = Local("h", missing_since=NOW - 3 * DAY)
    assert plan(listed, held).actions["gone"] is Action.WAIT
    held["gone"] = Local("h", missing_since=NOW - 7 * DAY)
    assert plan(listed, held).actions["gone"] is Action.ARCHIVE


def test_unchanged_dataset_back_within_grace_stays_unchanged():
    # The pipeline clears the mark of every listed record; no dataset write.
    result = plan({"a": "h"}, {"a": Local("h", missing_since=NOW - DAY)})
    assert result.actions == {"a": Action.UNCHANGED}


def test_dataset_deleted_locally_but_still_listed_is_restored():
    result = plan({"a": "h"}, {"a": Local("h", active=False)})
    assert result.actions == {"a": Action.RESTORE}


def test_dataset_deleted_locally_and_vanished_is_deleted_again_under_any_policy():
    listed = {f"r{i}": "h" for i in range(20)}
    held = {i: Local("h") for i in listed} | {"gone": Local("h", active=False)}
    for policy in (Policy.ARCHIVE, Policy.DELETE):
        result = plan(listed, held, settings=Settings(policy=policy))
        assert result.actions["gone"] is Action.DELETE
        assert result.guard is None


@pytest.mark.parametrize(
    ("policy", "grace", "expected"),
    [
        (Policy.KEEP, 7 * DAY, Action.KEEP),
        (Policy.DELETE, 7 * DAY, Action.DELETE),
        (Policy.ARCHIVE, dt.timedelta(0), Action.ARCHIVE),
    ],
)
def test_policies(policy, grace, expected):
    listed = {f"r{i}": "h" for i in range(20)}
    held = {**{i: Local("h") for i in listed}, "gone": Local("h")}
    result = plan(listed, held, settings=Settings(policy=policy, grace=grace))
    assert result.actions["gone"] is expected


def test_already_archived_and_still_missing_is_left_alone():
    result = plan({"a": "h"}, {"a": Local("h"), "old": Local("h", archived=True)})
    assert result.actions["old"] is Action.KEEP
    assert result.guard is None


class TestMassDeletionGuard:
    held = {f"r{i}": Local("h") for i in range(10)}

    def test_more_than_the_allowed_share_vanishing_removes_nothing(self):
        listed = {f"r{i}": "h" for i in range(8)}  # 2 of 10 = 20% > 10%
        result = plan(listed, self.held, settings=Settings(policy=Policy.DELETE))
        assert result.ids(Action.DELETE) == []
        assert result.ids(Action.KEEP) == ["r8", "r9"]
        assert "2 of 10 datasets (20%)" in result.guard

    def test_within_the_allowed_share_proceeds(self):
        listed = {f"r{i}": "h" for i in range(9)}  # 10%
        result = plan(listed, self.held, settings=Settings(policy=Policy.DELETE))
        assert result.ids(Action.DELETE) == ["r9"]
        assert result.guard is None

    def test_empty_listing_removes_nothing(self):
        result = plan({}, self.held, settings=Settings(max_vanished_share=1.0))
        assert set(result.actions.values()) == {Action.KEEP}
        assert "no records at all" in result.guard

    def test_incomplete_listing_removes_nothing_and_starts_no_grace(self):
        listed = {f"r{i}": "h" for i in range(9)}
        result = plan(listed, self.held, listing_complete=False)
        assert result.actions["r9"] is Action.KEEP
        assert "incomplete" in result.guard

    def test_an_admin_can_confirm_the_run(self):
        result = plan({}, self.held, settings=Settings(policy=Policy.DELETE), confirmed=True)
        assert len(result.ids(Action.DELETE)) == 10
        assert result.guard is None

    def test_the_held_removals_are_listed_for_confirmation(self):
        listed = {f"r{i}": "h" for i in range(7)}
        result = plan(listed, self.held, settings=Settings(policy=Policy.DELETE))
        assert result.held == {"r7", "r8", "r9"}

    def test_a_confirmation_covers_only_the_removals_it_was_shown(self):
        delete = Settings(policy=Policy.DELETE)
        listed = {f"r{i}": "h" for i in range(5)}  # r5..r9 vanished; r7..r9 were confirmed
        result = plan(listed, self.held, settings=delete, confirmed_ids={"r7", "r8", "r9"})
        assert result.ids(Action.DELETE) == ["r7", "r8", "r9"]
        assert result.held == {"r5", "r6"}  # 2 of 10 more: held again, to be confirmed
        assert "2 of 10 datasets (20%)" in result.guard
        confirmed = {"r7", "r8", "r9"}  # and r6 too vanished since: 10%, within the limit
        within = plan({**listed, "r5": "h"}, self.held, settings=delete, confirmed_ids=confirmed)
        assert within.ids(Action.DELETE) == ["r6", "r7", "r8", "r9"] and within.guard is None

    def test_creates_and_updates_go_ahead_while_removals_are_held(self):
        listed = {"r0": "changed", "new": "h"}
        result = plan(listed, self.held)
        assert result.actions["r0"] is Action.UPDATE
        assert result.actions["new"] is Action.CREATE
        assert result.guard is not None

    def test_keep_policy_never_trips_the_guard(self):
        result = plan({}, self.held, settings=Settings(policy=Policy.KEEP))
        assert result.guard is None


def test_every_identity_gets_exactly_one_action():
    rng = random.Random(7)
    for _ in range(300):
        universe = [f"id{i}" for i in range(12)]
        remote = {i: rng.choice("ab") for i in universe if rng.random() < 0.7}
        local = {
            i: Local(
                rng.choice("ab"),
                archived=rng.random() < 0.2,
                missing_since=NOW - rng.randint(0, 10) * DAY if rng.random() < 0.3 else None,
            )
            for i in universe
            if rng.random() < 0.7
        }
        result = plan(remote, local, force=rng.random() < 0.2, confirmed=rng.random() < 0.5)
        assert set(result.actions) == set(remote) | set(local)
        assert sum(result.counts.values()) == len(result.actions)
        # Nothing listed remotely is ever removed, and nothing unlisted is created.
        for identity, action in result.actions.items():
            if identity in remote:
                assert action in {Action.CREATE, Action.UPDATE, Action.UNCHANGED, Action.RESTORE}
            else:
                assert action not in {Action.CREATE, Action.UPDATE, Action.RESTORE}
