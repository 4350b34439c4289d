"""Generated remote datasets for the harvest benchmark: realistic, deterministic, cheap.

Dataset ``i`` is the same whatever the remote's size and on every run: its id is a uuid5 of the
index, its content comes from a generator seeded with the index, and its dates lie in the past
(2019-2025), so an incremental harvest sees only what the benchmark changes. Each has the keys
of a CKAN 2.10 ``package_show``: 2-3 resources with ids, 3-6 tags, an organisation, 0-2 groups,
2-3 extras.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from typing import Any

NAMESPACE = uuid.UUID("6f1c7a52-3b5e-4c1b-9a55-1d0c2f7e8a90")
WORDS = (
    "water air soil climate population health transport energy budget school river lake "
    "forest road traffic census income housing crime election rainfall temperature emissions "
    "waste recycling hospital tourism farming fisheries noise parking bicycle railway airport "
    "harbour museum library"
).split()
FORMATS: list[tuple[str, str | None]] = [("CSV", "text/csv"), ("JSON", "application/json")]
FORMATS += [
    ("XLSX", "application/vnd.ms-excel"),
    ("PDF", "application/pdf"),
    ("GeoJSON", "application/geo+json"),
    ("ZIP", None),
]
LICENSES = ["cc-by", "cc-by-sa", "cc-zero", "odc-by", "odc-odbl", "other-open"]
ORGANIZATIONS = 25
GROUPS = 10
EPOCH = dt.datetime(2019, 1, 1)


def dataset_id(index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"dataset-{index}"))


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def organization(number: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(NAMESPACE, f"org-{number}")),
        "name": f"org-{number:02d}",
        "title": f"Department of {WORDS[number % len(WORDS)].title()} {number}",
        "type": "organization",
        "description": f"Publishes the {WORDS[number % len(WORDS)]} figures of the region.",
        "image_url": "",
        "created": "2018-06-01T09:00:00.000000",
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
    }


def group(number: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(NAMESPACE, f"group-{number}")),
        "name": f"group-{number}",
        "title": f"Theme {WORDS[-number - 1].title()}",
        "display_name": f"Theme {WORDS[-number - 1].title()}",
        "description": "",
        "image_display_url": "",
    }


def generate(index: int) -> dict[str, Any]:
    """Dataset ``index`` as a remote ``package_show`` returns it (same on every call)."""
    rng = random.Random(index * 7919 + 17)
    ident = dataset_id(index)
    words = rng.sample(WORDS, 5)
    created = EPOCH + dt.timedelta(hours=3 * index, microseconds=rng.randrange(3600 * 10**6))
    modified = created + dt.timedelta(days=rng.randrange(400), seconds=rng.randrange(86400))
    modified = min(modified, dt.datetime(2025, 12, 31))
    name = f"{words[0]}-{words[1]}-{index:06d}"
    resources = []
    for position in range(rng.randint(2, 3)):
        fmt, mimetype = rng.choice(FORMATS)
        resources.append(
            {
                "id": str(uuid.uuid5(NAMESPACE, f"resource-{index}-{position}")),
                "package_id": ident,
                "name": f"{words[position].title()} {2015 + position} ({fmt})",
                "description": f"{words[position].title()} records, one row per district.",
                "url": f"https://files.example.org/{name}/part-{position}.{fmt.lower()}",
                "format": fmt,
                "mimetype": mimetype,
                "size": rng.randrange(1_000, 50_000_000),
                "hash": "",
                "created": stamp(created),
                "last_modified": stamp(modified),
                "metadata_modified": stamp(modified),
                "position": position,
                "state": "active",
                "url_type": None,
                "cache_url": None,
            }
        )
    tags = [
        {
            "id": str(uuid.uuid5(NAMESPACE, f"tag-{word}")),
            "name": word,
            "display_name": word,
            "state": "active",
            "vocabulary_id": None,
        }
        for word in rng.sample(WORDS, rng.randint(3, 6))
    ]
    org = organization(rng.randrange(ORGANIZATIONS))
    groups = [group(g) for g in sorted(rng.sample(range(GROUPS), rng.randint(0, 2)))]
    extras = [
        {"key": "spatial_coverage", "value": f"District {rng.randrange(1, 40)}"},
        {"key": "update_frequency", "value": rng.choice(["daily", "monthly", "yearly"])},
        {"key": "source_system", "value": f"sys-{rng.randrange(5)}"},
    ][: rng.randint(2, 3)]
    return {
        "id": ident,
        "name": name,
        "title": f"{words[0].title()} and {words[1]} statistics {index}",
        "notes": (
            f"Figures on {words[2]} and {words[3]} collected by the {words[0]} office since "
            f"{2000 + index % 20}. Updated when new surveys of {words[4]} are published; see "
            "the methodology resource for definitions, sources and known gaps."
        ),
        "license_id": rng.choice(LICENSES),
        "license_title": None,
        "author": f"{words[0].title()} office",
        "author_email": f"{words[0]}@example.org",
        "maintainer": "Open data team",
        "maintainer_email": "opendata@example.org",
        "version": f"1.{index % 7}",
        "url": f"https://www.example.org/data/{name}",
        "state": "active",
        "private": False,
        "type": "dataset",
        "isopen": True,
        "owner_org": org["id"],
        "organization": org,
        "groups": groups,
        "tags": tags,
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": extras,
        "relationships_as_object": [],
        "relationships_as_subject": [],
        "metadata_created": stamp(created),
        "metadata_modified": stamp(modified),
    }


def iter_datasets(count: int) -> Iterator[dict[str, Any]]:
    """The pristine datasets 0..count-1, generated one at a time."""
    return (generate(i) for i in range(count))
