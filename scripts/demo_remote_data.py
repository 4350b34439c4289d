"""Sample catalogue for the demo's remote CKAN (see scripts/demo_seed.py).

A fictional region, Northvale, with two publishers. Written for this demo;
nothing here is copied from a real portal. The remote gets the same groups as
the local demo (demo_seed.GROUPS), so harvested datasets land in them.
"""

from __future__ import annotations

from typing import Any

BASE = "https://data.northvale.example"

ORGS = [
    {
        "name": "northvale-environment-agency",
        "title": "Northvale Environment Agency",
        "description": "Monitoring of air, water, soil and wildlife across the Northvale region.",
    },
    {
        "name": "northvale-statistics-office",
        "title": "Northvale Statistics Office",
        "description": "Official statistics on population, economy and public services.",
    },
]

ENV = "northvale-environment-agency"
STATS = "northvale-statistics-office"


def _suffix(fmt: str) -> str:
    return "" if fmt in ("API", "WMS", "WFS") else f".{fmt.lower()}"


def _dataset(
    name: str,
    title: str,
    org: str,
    licence: str,
    tags: list[str],
    resources: list[tuple[str, str]],
    notes: str,
    groups: tuple[str, ...] = (),
    **more: Any,
) -> dict[str, Any]:
    """A package_create body; resources are (name, format) pairs."""
    return {
        "name": name,
        "title": title,
        "owner_org": org,
        "license_id": licence,
        "notes": notes,
        "tags": [{"name": t} for t in tags],
        "groups": [{"name": g} for g in groups],
        "resources": [
            {"name": r, "format": f, "url": f"{BASE}/{name}/{i}{_suffix(f)}"}
            for i, (r, f) in enumerate(resources, 1)
        ],
        **more,
    }


DATASETS = [
    _dataset(
        "northvale-river-water-quality", "River water quality", ENV, "odc-odbl",
        ["water quality", "rivers", "monitoring"],
        [("Samples 2015-2025", "CSV"), ("Sampling sites", "GeoJSON")],
        "Monthly samples from 38 sites on the Vale and its tributaries: temperature, pH, "
        "dissolved oxygen, nitrate, phosphate and E. coli counts.",
        groups=("environment",), version="2025.12",
        maintainer="Water Quality Team", maintainer_email="water@northvale.example",
    ),
    _dataset(
        "northvale-flood-risk-zones", "Flood risk zones", ENV, "cc-by",
        ["flooding", "rivers", "planning", "maps"],
        [("Flood zones 1 to 3", "GeoJSON"), ("Flood zones (map service)", "WMS"),
         ("Modelling method", "PDF")],
        "Areas with a 1 in 100 and 1 in 1000 annual chance of river flooding, modelled "
        "for the 2024 regional flood plan.",
        groups=("environment",),
        extras=[{"key": "spatial_coverage", "value": "Northvale region"}],
    ),
    _dataset(
        "northvale-air-monitoring-stations", "Air monitoring stations", ENV, "odc-odbl",
        ["air quality", "sensors", "monitoring"],
        [("Stations", "CSV"), ("Daily means 2025", "CSV"), ("Live readings", "JSON")],
        "Locations and daily mean NO2, O3, PM10 and PM2.5 of the agency's 21 automatic "
        "air monitoring stations.",
        groups=("environment",),
        extras=[{"key": "update_frequency", "value": "daily"}],
    ),
    _dataset(
        "northvale-protected-areas", "Protected nature areas", ENV, "cc-by",
        ["nature", "biodiversity", "maps"],
        [("Protected areas", "GeoJSON"), ("Protected areas", "SHP")],
        "Boundaries, designation and management plans of nature reserves, bird sanctuaries "
        "and protected wetlands.",
        groups=("environment",),
    ),
    _dataset(
        "northvale-breeding-bird-survey", "Breeding bird survey", ENV, "cc-by-sa",
        ["biodiversity", "birds", "monitoring"],
        [("Counts per transect 2010-2025", "CSV"), ("Survey protocol", "PDF")],
        "Spring counts of breeding birds along 140 fixed transects, collected by volunteers "
        "and checked by the agency's ecologists.",
        groups=("environment",), author="Northvale Bird Club",
    ),
    _dataset(
        "northvale-waste-collection", "Household waste collection", ENV, "odc-pddl",
        ["waste", "recycling"],
        [("Tonnes per municipality and stream", "CSV"), ("Recycling centres", "GeoJSON")],
        "Tonnes of residual waste, paper, glass, packaging and garden waste collected per "
        "municipality and month.",
        version="2025",
    ),
    _dataset(
        "northvale-soil-contamination-register", "Soil contamination register", ENV,
        "other-open",
        ["soil", "pollution", "planning"],
        [("Registered sites", "CSV"), ("Register (map service)", "WFS")],
        "Sites where soil contamination was found or is suspected, with the substances "
        "involved and the state of clean-up.",
    ),
    _dataset(
        "northvale-groundwater-levels", "Groundwater levels", ENV, "cc-zero",
        ["water", "groundwater", "sensors"],
        [("Weekly levels", "CSV"), ("Observation wells", "GeoJSON"), ("Levels API", "API")],
        "Weekly groundwater levels in metres above sea level from 95 observation wells.",
        groups=("environment",),
        extras=[{"key": "update_frequency", "value": "weekly"}],
    ),
    _dataset(
        "northvale-road-traffic-noise", "Road traffic noise", ENV, "cc-by",
        ["noise", "roads", "maps"],
        [("Lden contours", "GeoJSON"), ("Exposure by municipality", "XLSX")],
        "Modelled day-evening-night road traffic noise and the number of residents exposed "
        "above 55 dB, per municipality.",
        groups=("environment", "mobility"),
    ),
    _dataset(
        "northvale-street-lighting-energy", "Street lighting energy use", ENV, "odc-by",
        ["energy", "lighting"],
        [("Monthly consumption per municipality", "CSV")],
        "Electricity used by public street lighting, and the share of LED lamps, per "
        "municipality and month.",
    ),
    _dataset(
        "northvale-population-by-age", "Population by age and sex", STATS, "cc-by",
        ["population", "demography"],
        [("Population 1 January 2026", "CSV"), ("Time series 2000-2026", "XLSX")],
        "Resident population per municipality on 1 January, by single year of age and sex.",
        version="2026.1", author="Northvale Statistics Office",
        author_email="info@stats.northvale.example",
    ),
    _dataset(
        "northvale-births-and-deaths", "Births and deaths", STATS, "cc-by",
        ["population", "demography", "health"],
        [("Monthly births and deaths", "CSV")],
        "Live births and deaths registered per municipality and month since 1990.",
    ),
    _dataset(
        "northvale-household-income", "Household income", STATS, "cc-by",
        ["income", "economy"],
        [("Median disposable income", "CSV"), ("Methodology", "PDF")],
        "Median and quartiles of disposable household income per municipality, from the "
        "annual income survey.",
    ),
    _dataset(
        "northvale-unemployment-rate", "Unemployment rate", STATS, "cc-by",
        ["labour market", "economy"],
        [("Quarterly rates", "CSV"), ("Quarterly rates", "JSON")],
        "Registered unemployment as a share of the labour force, by municipality, sex and "
        "age band, each quarter.",
        extras=[{"key": "update_frequency", "value": "quarterly"}],
    ),
    _dataset(
        "northvale-business-register", "Business register", STATS, "odc-odbl",
        ["business", "economy"],
        [("Active businesses", "CSV"), ("Register API", "API")],
        "Active businesses by sector (NACE), size class and municipality, updated monthly "
        "from the trade register.",
    ),
    _dataset(
        "northvale-tourism-overnight-stays", "Tourist overnight stays", STATS, "cc-by-sa",
        ["tourism", "economy"],
        [("Overnight stays by country of residence", "CSV")],
        "Arrivals and overnight stays in hotels, campsites and holiday rentals, by country "
        "of residence of the guests.",
    ),
    _dataset(
        "northvale-school-enrolment", "School enrolment", STATS, "cc-by",
        ["education", "schools"],
        [("Pupils per school and grade", "CSV"), ("Schools", "GeoJSON")],
        "Pupils enrolled on 1 October in every primary and secondary school, by grade.",
    ),
    _dataset(
        "northvale-commuter-flows", "Commuter flows", STATS, "cc-by",
        ["commuting", "transport", "labour market"],
        [("Origin-destination matrix", "CSV"), ("Flows map", "PDF")],
        "Number of people commuting between each pair of municipalities, and their main "
        "mode of transport, from the 2025 census.",
        groups=("mobility",),
    ),
    _dataset(
        "northvale-car-ownership", "Car ownership", STATS, "other-at",
        ["transport", "cars"],
        [("Registered vehicles per municipality", "CSV")],
        "Passenger cars registered per 1000 residents, by fuel type and municipality.",
        groups=("mobility",),
    ),
    _dataset(
        "northvale-housing-stock", "Housing stock", STATS, "cc-zero",
        ["housing", "planning"],
        [("Dwellings by type and age", "CSV"), ("Dwellings by type and age", "XLSX")],
        "Dwellings per municipality by type, year of construction and number of rooms.",
        version="2025",
    ),
    # Private on the remote: the demo source reads it with its api_key, and it
    # stays private on the demo site (only the admin sees it).
    _dataset(
        "northvale-staff-survey", "Staff survey (internal)", STATS, "other-closed",
        ["staff", "survey"],
        [("Answers by department", "CSV")],
        "Answers of the regional administration's yearly staff survey; not published.",
        private=True,
    ),
    # In a group the demo site does not have: its job report line says it was dropped.
    _dataset(
        "northvale-heritage-sites", "Heritage sites", ENV, "cc-by",
        ["heritage", "maps"],
        [("Listed sites", "GeoJSON")],
        "Listed buildings, monuments and archaeological sites with their protection status.",
        groups=("heritage",),
    ),
]

#: Groups only the remote has (besides demo_seed.GROUPS, which both sites have).
REMOTE_GROUPS = [
    {"name": "heritage", "title": "Heritage", "description": "Monuments and listed buildings."},
]
