"""Seed the demo CKAN with an organization, groups and datasets.

Usage: DEMO_API_TOKEN=... python scripts/demo_seed.py http://127.0.0.1:5000

Goes through the HTTP action API, like any client would, so the seeding also
exercises the search index plugin. Standard library only. The token comes
from the environment so it doesn't show up in `ps`.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

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


def main() -> int:
    base = sys.argv[1].rstrip("/")
    token = os.environ["DEMO_API_TOKEN"]
    # Skipping what exists lets a run that failed half way simply be repeated.
    try:
        if not exists(base, token, "organization_show", ORG["name"]):
            call(base, token, "organization_create", ORG)
        for group in GROUPS:
            if not exists(base, token, "group_show", group["name"]):
                call(base, token, "group_create", group)
        for name, title, licence, groups, tags, resources, notes in DATASETS:
            if exists(base, token, "package_show", name):
                continue
            call(base, token, "package_create", {
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
            })
            print(f"  dataset {name}")
    except ApiError as e:
        print(f"demo_seed.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
