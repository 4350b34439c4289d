"""Content hashes decide "unchanged": they must be stable and sensitive."""

from __future__ import annotations

from ckanext.harvestplus.pipeline.hashing import content_hash

DATASET = {
    "name": "river-levels",
    "title": "River levels",
    "notes": "",
    "tags": [{"name": "water"}, {"name": "rivers"}],
    "extras": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
    "resources": [{"url": "http://x.test/1.csv"}, {"url": "http://x.test/2.csv"}],
    "metadata_modified": "2026-01-01T00:00:00",
}


def test_same_content_same_hash_whatever_the_order_of_keys_tags_and_extras():
    shuffled = {
        "resources": DATASET["resources"],
        "extras": list(reversed(DATASET["extras"])),
        "tags": list(reversed(DATASET["tags"])),
        "title": "River levels",
        "name": "river-levels",
    }
    assert content_hash(shuffled) == content_hash(DATASET)


def test_harvest_timestamps_and_empty_values_do_not_count():
    again = {**DATASET, "metadata_modified": "2026-02-02T00:00:00", "notes": None, "version": ""}
    assert content_hash(again) == content_hash(DATASET)


def test_any_real_change_changes_the_hash():
    changes = [
        {**DATASET, "title": "River levels (daily)"},
        {**DATASET, "tags": [{"name": "water"}]},
        {**DATASET, "resources": list(reversed(DATASET["resources"]))},  # order shown to users
        {**DATASET, "extras": [{"key": "a", "value": "1"}, {"key": "b", "value": "3"}]},
    ]
    hashes = {content_hash(d) for d in changes}
    assert content_hash(DATASET) not in hashes
    assert len(hashes) == len(changes)


def test_numbers_hash_alike_in_int_and_float_spelling():
    assert content_hash({"size": 10}) == content_hash({"size": 10.0})
    assert content_hash({"size": 10}) != content_hash({"size": 10.5})
