"""Benchmark: the PostgreSQL search index behind CKAN's dataset search page.

Generates N datasets (default 10,000) in a dedicated database, fills the index
with CKAN's own ``search-index rebuild`` code, then times the query the
/dataset page sends: free text, two filters and the five default facets, as an
anonymous user (so the permission-label filter applies too).

Run with ``make bench-search`` (it prepares the database); or by hand:
    CKAN_SQLALCHEMY_URL=postgresql://.../harvestplus_bench \
        python bench/search.py --ini test.ini --datasets 10000 --queries 300
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from typing import Any

WORDS = (
    "water air soil climate population health transport energy budget school "
    "river lake forest road traffic census income housing crime election "
    "rainfall temperature emissions waste recycling hospital tourism farming "
    "fisheries noise parking bicycle railway airport harbour museum library"
).split()
FORMATS = ["CSV", "JSON", "XLSX", "PDF", "GeoJSON", "XML", "ZIP", "API"]
LICENSES = ["cc-by", "cc-by-sa", "cc-zero", "odc-by", "other-open", "notspecified"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def generate(count: int, rng: random.Random) -> None:
    """Insert datasets straight through CKAN's model (fast, same rows as the API)."""
    import ckan.model as model

    orgs = []
    for i in range(20):
        org = model.Group(name=f"org-{i:02d}", title=f"Organisation {i}", type="organization")
        org.is_organization = True
        model.Session.add(org)
        orgs.append(org)
    groups = [model.Group(name=f"group-{i}", title=f"Group {i}", type="group") for i in range(8)]
    model.Session.add_all(groups)
    tags = [model.Tag(name=w) for w in WORDS]
    model.Session.add_all(tags)
    model.Session.flush()

    started = time.perf_counter()
    for n in range(count):
        words = rng.sample(WORDS, 4)
        pkg = model.Package(
            id=str(uuid.uuid4()),
            name=f"dataset-{n:06d}",
            title=f"{words[0].title()} {words[1]} statistics {n}",
            notes=f"Figures on {words[2]} and {words[3]} collected by the {words[0]} office.",
            license_id=rng.choice(LICENSES),
            owner_org=rng.choice(orgs).id,
            private=rng.random() < 0.05,
            type="dataset",
            state="active",
        )
        model.Session.add(pkg)
        for tag in rng.sample(tags, 3):
            model.Session.add(model.PackageTag(package=pkg, tag=tag, state="active"))
        for position in range(rng.randint(1, 3)):
            resource = model.Resource(
                package_id=pkg.id,
                url=f"https://data.example.org/{n}/{uuid.uuid4().hex}",
                format=rng.choice(FORMATS),
                name=f"{words[1]} file",
            )
            resource.position = position
            model.Session.add(resource)
        group = rng.choice(groups)
        model.Session.add(
            model.Member(group=group, table_id=pkg.id, table_name="package", state="active")
        )
        if n % 1000 == 999:
            model.Session.commit()
            print(f"  generated {n + 1}/{count} datasets", file=sys.stderr)
    model.Session.commit()
    print(f"  generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    app = make_app(load_config(args.ini))
    flask_app = app._wsgi_app  # type: ignore[attr-defined]

    import ckan.lib.search as search
    import ckan.model as model

    rng = random.Random(args.seed)
    with flask_app.test_request_context():
        model.repo.delete_all()
        search.clear_all()
        generate(args.datasets, rng)

        started = time.perf_counter()
        search.rebuild(quiet=True, defer_commit=True)
        index_seconds = time.perf_counter() - started
        print(
            f"  indexed {args.datasets} datasets in {index_seconds:.1f} s "
            f"({args.datasets / index_seconds:.0f}/s)",
            file=sys.stderr,
        )

        workloads = {
            # One organisation and one format: what a visitor drills down to.
            "narrow": lambda: [
                f"+organization:org-{rng.randrange(20):02d}",
                f'res_format:"{rng.choice(FORMATS)}"',
            ],
            # Two broad filters: thousands of candidates to rank and facet.
            "broad": lambda: [f'res_format:"{rng.choice(FORMATS)}"', "-license_id:other-open"],
        }
        latencies = {name: time_queries(filters, rng, args) for name, filters in workloads.items()}

    return {
        "datasets": args.datasets,
        "index_seconds": round(index_seconds, 1),
        "index_rate_per_s": round(args.datasets / index_seconds),
        **latencies,
    }


def time_queries(filters: Any, rng: random.Random, args: argparse.Namespace) -> dict[str, Any]:
    import ckan.plugins.toolkit as tk

    facets = ["organization", "groups", "tags", "res_format", "license_id"]
    package_search = tk.get_action("package_search")
    timings: list[float] = []
    counts: list[int] = []
    for i in range(args.queries + args.warmup):
        fq, second = filters()
        params = {
            "q": rng.choice(WORDS),
            "fq": fq,
            "fq_list": [second],
            "facet.field": json.dumps(facets),
            "rows": 20,
            "sort": "score desc, metadata_modified desc",
            "include_private": True,
        }
        t0 = time.perf_counter()
        result = package_search({"user": "", "ignore_auth": False}, params)
        elapsed = (time.perf_counter() - t0) * 1000
        if i >= args.warmup:
            timings.append(elapsed)
            counts.append(result["count"])
            assert set(result["facets"]) == set(facets)
    return {
        "queries": len(timings),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "max_ms": round(max(timings), 1),
        "mean_hits": round(statistics.mean(counts), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ini", default="test.ini")
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    result = run(parser.parse_args())
    print(json.dumps(result, indent=2))
    target = 50.0
    for name in ("narrow", "broad"):
        p50 = result[name]["p50_ms"]
        verdict = "meets" if p50 <= target else "MISSES"
        print(f"{name}: p50 {p50} ms {verdict} the {target:.0f} ms target")


if __name__ == "__main__":
    main()
