"""Seed the demo sites through their action APIs.

Usage:
    DEMO_API_TOKEN=... python scripts/demo_seed.py remote http://127.0.0.1:5001
    DEMO_API_TOKEN=... python scripts/demo_seed.py local http://127.0.0.1:5000 \
        --source northvale-portal --remote-url http://127.0.0.1:5001

``remote`` fills the remote catalogue with the datasets of demo_remote_data.py.
``local`` seeds the local site's own datasets and, with --source, ensures an
organisation and a harvestplus_ckan harvest source for the remote.

Goes through the HTTP action API, like any client would, so the seeding also
exercises the search index plugin. Standard library only. Each step skips
what exists, so a run that failed half way is simply repeated. The token
comes from the environment so it doesn't show up in `ps`; it is meant for one
run and revoked at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

import demo_remote_data

ORG = {
    "name": "riverton-open-data",
    "title": "Riverton Open Data Office",
    "description": "Open data published by the (fictional) city of Riverton.",
}

GROUPS = [
    {"name": "environment", "title": "Environment",
     "description": "Air, water, noise and green spaces."},
    {"name": "mobility", "title": "Mobility",
     "description": "Public transport, cycling and roads."},
]

# (name, title, licence, groups, tags, [(resource name, format)], notes)
DATASETS: list[tuple[str, str, str, list[str], list[str], list[tuple[str, str]], str]] = [
    ("air-quality-measurements", "Air quality measurements", "odc-odbl", ["environment"],
     ["air quality", "environment", "sensors"],
     [("Hourly readings 2026", "CSV"), ("Live readings API", "JSON")],
     "Hourly NO2, PM10 and PM2.5 readings from the city's twelve monitoring stations."),
    ("street-trees", "Street trees", "odc-by", ["environment"],
     ["trees", "environment", "urban green"],
     [("Tree inventory", "GeoJSON"), ("Tree inventory (table)", "CSV")],
     "Every tree the city maintains: species, planting year, trunk girth and location."),
    ("noise-map-2025", "Strategic noise map 2025", "cc-by", ["environment"],
     ["noise", "environment", "maps"],
     [("Noise contours", "WMS"), ("Method report", "PDF")],
     "Day-evening-night noise levels from road, rail and industry, modelled on a 10 m grid."),
    ("bike-share-trips", "Bike share trips", "cc-by", ["mobility"],
     ["cycling", "transport"],
     [("Trips 2025", "CSV"), ("Trips 2025 (archive)", "ZIP")],
     "Anonymised start and end stations and durations of every bike share trip."),
    ("bus-stops", "Bus stops and timetables", "cc-by-sa", ["mobility"],
     ["public transport", "transport", "maps"],
     [("Stops", "GeoJSON"), ("Timetables", "GTFS"), ("Realtime departures", "API")],
     "Locations of all bus stops and the scheduled timetables in GTFS."),
    ("city-budget-2026", "City budget 2026", "cc-zero", [],
     ["budget", "finance"],
     [("Budget by department", "XLSX"), ("Budget book", "PDF")],
     "The adopted 2026 budget, broken down by department and programme."),
    ("building-permits", "Building permits", "other-open", [],
     ["housing", "planning"],
     [("Permits since 2015", "CSV"), ("Permits API", "JSON")],
     "Building permit applications and decisions, updated weekly."),
    ("library-visits", "Library visits", "odc-pddl", [],
     ["culture", "libraries"],
     [("Monthly visits", "CSV")],
     "Monthly visitor counts for the central library and its five branches."),
]


class ApiError(Exception):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def exists(base: str, token: str, action: str, name: str) -> bool:
    try:
        call(base, token, action, {"id": name})
    except ApiError as e:
        if e.status == 404:
            return False
        raise
    return True


def call(base: str, token: str, action: str, data: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        f"{base}/api/3/action/{action}",
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "Authorization": token},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")[:2000]
        raise ApiError(f"{action} {data.get('name', '')}: HTTP {e.code}: {detail}", e.code) from e
    if not body.get("success"):
        raise ApiError(f"{action}: {body.get('error')}")
    return body["result"]


def seed_catalogue(
    base: str,
    token: str,
    orgs: list[dict[str, Any]],
    groups: list[dict[str, Any]],
    datasets: list[dict[str, Any]],
) -> None:
    for org in orgs:
        if not exists(base, token, "organization_show", org["name"]):
            call(base, token, "organization_create", org)
    for group in groups:
        if not exists(base, token, "group_show", group["name"]):
            call(base, token, "group_create", group)
    for dataset in datasets:
        if exists(base, token, "package_show", dataset["name"]):
            continue
        call(base, token, "package_create", dataset)
        print(f"  dataset {dataset['name']}")


def local_datasets() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "title": title,
            "notes": notes,
            "owner_org": ORG["name"],
            "license_id": licence,
            "groups": [{"name": g} for g in groups],
            "tags": [{"name": t} for t in tags],
            "resources": [
                {"name": r, "format": f, "url": f"https://data.riverton.example/{name}/{i}"}
                for i, (r, f) in enumerate(resources)
            ],
        }
        for name, title, licence, groups, tags, resources, notes in DATASETS
    ]


# Harvested datasets belong to this local organisation (the source's own).
SOURCE_ORG = {
    "name": "northvale-region",
    "title": "Northvale Region (harvested)",
    "description": "Datasets harvested from the Northvale Regional Data Portal, "
    "the demo's remote CKAN.",
}
SOURCE_CONFIG: dict[str, Any] = {"deletion_policy": "archive", "grace_days": 7}
if os.environ.get("DEMO_REMOTE_API_KEY"):
    # The remote admin's token (scripts/demo.sh): the source reads private datasets too.
    SOURCE_CONFIG["api_key"] = os.environ["DEMO_REMOTE_API_KEY"]


def ensure_source(base: str, token: str, name: str, remote_url: str) -> None:
    """The harvest source NAME for REMOTE_URL: created, or brought up to date."""
    if not exists(base, token, "organization_show", SOURCE_ORG["name"]):
        call(base, token, "organization_create", SOURCE_ORG)
    wanted = {
        "name": name,
        "title": "Northvale Regional Data Portal",
        "notes": "The demo's remote CKAN (demo-remote.ini), harvested with harvestplus_ckan.",
        "source_type": "harvestplus_ckan",
        "owner_org": SOURCE_ORG["name"],
        "frequency": "MANUAL",
        "url": remote_url,
        "config": json.dumps(SOURCE_CONFIG),
    }
    try:
        found = call(base, token, "harvest_source_show", {"id": name})
    except ApiError as e:
        if e.status != 404:
            raise
        call(base, token, "harvest_source_create", wanted)
        print(f"  harvest source {name} -> {remote_url}")
        return
    # Over HTTP the source's config and type come back as extras.
    extras = {e["key"]: e["value"] for e in found.get("extras") or []}
    config = json.loads(found.get("config") or extras.get("config") or "{}")
    source_type = found.get("source_type") or extras.get("source_type")
    # Another DEMO_REMOTE_PORT, or a config edited in the UI: put the demo's back.
    # Not harvest_source_patch: ckanext-harvest 1.6.3 merges into the shown source,
    # whose config and type are extras there, and its own validation refuses that.
    current = (found.get("url"), config, source_type)
    if current != (remote_url, SOURCE_CONFIG, wanted["source_type"]):
        call(base, token, "harvest_source_update", {"id": found["id"], **wanted})
        print(f"  harvest source {name} updated -> {remote_url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", choices=("local", "remote"))
    parser.add_argument("url", help="the site's base URL")
    parser.add_argument("--source", help="(local) name of the harvest source to ensure")
    parser.add_argument("--remote-url", help="(local) the remote the source harvests")
    args = parser.parse_args()
    if bool(args.source) != bool(args.remote_url):
        parser.error("--source and --remote-url go together")
    base = args.url.rstrip("/")
    token = os.environ["DEMO_API_TOKEN"]
    try:
        if args.site == "remote":
            seed_catalogue(
                base,
                token,
                demo_remote_data.ORGS,
                GROUPS + demo_remote_data.REMOTE_GROUPS,
                demo_remote_data.DATASETS,
            )
        else:
            seed_catalogue(base, token, [ORG], GROUPS, local_datasets())
            if args.source:
                ensure_source(base, token, args.source, args.remote_url.rstrip("/"))
    except ApiError as e:
        print(f"demo_seed.py: {e}", file=sys.stderr)
        return 1
    finally:
        try:
            call(base, token, "api_token_revoke", {"token": token})
        except (ApiError, OSError) as e:
            print(f"demo_seed.py: could not revoke the token: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
