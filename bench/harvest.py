"""Benchmark: harvesting a remote CKAN, harvestplus against ckanext-harvest and the ceiling.

Starts a synthetic remote CKAN (bench/synthetic_ckan.py) on a free loopback port in this
process, then for each size (default 1,000 and 10,000 remote datasets) runs, one child process
each, on a database rebuilt from scratch:

* ``bare``: a loop of package_create over the same dataset dicts (the ceiling);
* ``ckanext-harvest``: its own ``ckan`` harvester, run in-process as ``ckan harvester
  run-test`` does (gather, fetch and import of every object, then harvest_jobs_run);
* ``harvestplus``: the ``harvestplus_ckan`` harvester through ``run_sync`` (skipped, with the
  reason, where this install does not have it yet);
* ``harvestplus-queue``: the same harvester as production runs it: queued by
  ``harvestplus_source_run``, consumed from Redis by the gather worker and one fetch worker.

``ckanext-harvest-full`` (on request only) is ckanext-harvest with ``force_all``: by default it
asks the remote only for datasets modified since its last clean job less one hour, so its
no-change run costs one request but never sees a deletion; with force_all it lists everything.

Harvesters run three workloads in a row: first harvest, no-change reharvest, and 5% of the
remote datasets changed (title and metadata_modified) then reharvest. Reported per workload:
datasets/s (remote datasets / wall seconds), wall seconds, SQL statements per dataset and peak
RSS of the child (see bench/harvest_child.py). Prints a table and the issue's targets, and
writes bench/results/harvest-<date>.json.

Run with ``make bench-harvest`` (BENCH_ARGS="--sizes 1000"), or by hand:
    python bench/harvest.py --sizes 200 --implementations bare,ckanext-harvest
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from synthetic_ckan import SyntheticCkan, serve_in_thread

HERE = Path(__file__).parent
ROOT = HERE.parent
CHILD = HERE / "harvest_child.py"
PG_URL = "postgresql://harvestplus:harvestplus@127.0.0.1:5432"
PG_CLIENT = ["-h", "127.0.0.1", "-U", "harvestplus"]
IMPLEMENTATIONS = ("bare", "ckanext-harvest", "harvestplus", "harvestplus-queue")
# ckanext-harvest with force_all: it lists everything each run, as harvestplus does.
OPTIONAL = ("ckanext-harvest-full",)
WORKLOADS = ("first", "no-change", "5% changed")
# Targets of issue 3, item 10.
FIRST_VS_CKANEXT = 3.0
FIRST_VS_BARE = 0.9
NO_CHANGE_SECONDS = 10.0
NO_CHANGE_VS_CKANEXT = 50.0
RSS_LIMIT_MB = 400.0
# "Flat": peak RSS at the largest size at most this much above the smallest size's.
RSS_FLAT_GROWTH = 0.2


def prepare_database(db: str, ini: str) -> None:
    """Drop and recreate ``db``, then migrate it (core, harvest, harvestplus) in a child."""
    subprocess.run(["dropdb", *PG_CLIENT, "--if-exists", db], check=True)
    subprocess.run(
        [str(ROOT / "scripts" / "services.sh"), db], check=True, stdout=subprocess.DEVNULL
    )
    child(["prepare"], db, ini)


def child(args: list[str], db: str, ini: str) -> str:
    env = {**os.environ, "CKAN_SQLALCHEMY_URL": f"{PG_URL}/{db}"}
    done = subprocess.run(
        [sys.executable, str(CHILD), *args, "--ini", ini],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"child {' '.join(args)} failed with exit code {done.returncode}")
    return done.stdout


def run_one(impl: str, size: int, remote: SyntheticCkan, url: str, args: Any) -> dict[str, Any]:
    remote.reset(size)
    prepare_database(args.db, args.ini)
    print(f"==> {impl}, {size} remote datasets", file=sys.stderr, flush=True)
    out = child(["run", impl, "--size", str(size), "--remote", url], args.db, args.ini)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"child {impl} {size} printed no RESULT line:\n{out[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    for problem in ("skipped", "failed"):
        if problem in result:
            print(f"  {problem}: {result[problem]}", file=sys.stderr)
    return result


def workload(results: list[dict[str, Any]], impl: str, size: int, name: str) -> dict[str, Any]:
    for result in results:
        if result["implementation"] == impl and result["size"] == size:
            for row in result.get("workloads", []):
                if row["workload"] == name:
                    return dict(row)
    return {}


def table(results: list[dict[str, Any]]) -> str:
    header = f"{'implementation':<21}{'size':>7}  {'workload':<11}{'datasets/s':>11}"
    header += f"{'wall s':>9}{'SQL/dataset':>12}{'peak RSS MB':>12}  held (changed) complete"
    lines = [header, "-" * len(header)]
    for result in results:
        impl, size = result["implementation"], result["size"]
        if "skipped" in result:
            lines.append(f"{impl:<21}{size:>7}  skipped: {result['skipped']}")
            continue
        for row in result["workloads"]:
            lines.append(
                f"{impl:<21}{size:>7}  {row['workload']:<11}{row['datasets_per_s']:>11}"
                f"{row['wall_s']:>9}{row['sql_per_dataset']:>12}{row['peak_rss_mb']:>12}"
                f"  {row['local_datasets']} ({row['local_revised']}) "
                f"{'yes' if row['complete'] else 'NO'}"
            )
        if "failed" in result:
            lines.append(f"{impl:<21}{size:>7}  failed: {result['failed']}")
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "meets" if ok else "MISSES"


def targets(results: list[dict[str, Any]], sizes: list[int]) -> list[str]:
    """The issue's targets, judged on the largest size run (and the smallest for flatness)."""
    big, small = max(sizes), min(sizes)
    hp_first = workload(results, "harvestplus", big, "first").get("datasets_per_s")
    ck_first = workload(results, "ckanext-harvest", big, "first").get("datasets_per_s")
    bare = workload(results, "bare", big, "first").get("datasets_per_s")
    hp_same = workload(results, "harvestplus", big, "no-change").get("wall_s")
    ck_same = workload(results, "ckanext-harvest", big, "no-change").get("wall_s")
    rss = {
        r["size"]: r["peak_rss_mb"]
        for r in results
        if r["implementation"] == "harvestplus" and "peak_rss_mb" in r
    }

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    first_ck, first_bare = ratio(hp_first, ck_first), ratio(hp_first, bare)
    same_ck = ratio(ck_same, hp_same)
    flat = ratio(rss.get(big), rss.get(small)) if big != small else None
    lines = [
        f"first harvest {big}: harvestplus {shown(hp_first)} /s, ckanext-harvest "
        f"{shown(ck_first)} /s, bare package_create {shown(bare)} /s",
        f"  >= {FIRST_VS_CKANEXT:g}x ckanext-harvest: {fmt(first_ck, 'x')} "
        f"{verdict(None if first_ck is None else first_ck >= FIRST_VS_CKANEXT)}",
        f"  >= {FIRST_VS_BARE:.0%} of bare package_create: {fmt(first_bare, 'share')} "
        f"{verdict(None if first_bare is None else first_bare >= FIRST_VS_BARE)}",
        f"no-change reharvest {big}: harvestplus {shown(hp_same)} s, ckanext-harvest "
        f"{shown(ck_same)} s",
        f"  <= {NO_CHANGE_SECONDS:g} s at 10k: "
        f"{verdict(None if hp_same is None or big < 10_000 else hp_same <= NO_CHANGE_SECONDS)}",
        f"  >= {NO_CHANGE_VS_CKANEXT:g}x faster than ckanext-harvest: {fmt(same_ck, 'x')} "
        f"{verdict(None if same_ck is None else same_ck >= NO_CHANGE_VS_CKANEXT)}",
        f"peak RSS harvestplus: {rss or 'n/a'} MB",
        f"  < {RSS_LIMIT_MB:g} MB: {verdict(max(rss.values()) < RSS_LIMIT_MB if rss else None)}",
        f"  flat {small} -> {big} (growth <= {RSS_FLAT_GROWTH:.0%}): {fmt(flat, 'growth')} "
        f"{verdict(None if flat is None else flat <= 1 + RSS_FLAT_GROWTH)}",
    ]
    return lines


def shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "x":
        return f"{value:.1f}x"
    if kind == "share":
        return f"{value:.0%}"
    return f"{value - 1:+.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="remote sizes, comma separated")
    parser.add_argument("--implementations", default=",".join(IMPLEMENTATIONS))
    parser.add_argument("--db", default="harvestplus_bench", help="rebuilt for every run")
    parser.add_argument("--ini", default=str(HERE / "bench.ini"))
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    impls = [i for i in args.implementations.split(",") if i]
    unknown = set(impls) - {*IMPLEMENTATIONS, *OPTIONAL}
    if unknown:
        known = ", ".join((*IMPLEMENTATIONS, *OPTIONAL))
        parser.error(f"unknown implementations {sorted(unknown)}; known: {known}")

    remote = SyntheticCkan(min(sizes))
    server = serve_in_thread(remote)
    print(f"synthetic remote CKAN on {server.url}", file=sys.stderr)
    try:
        results = [run_one(i, size, remote, server.url, args) for size in sizes for i in impls]
    finally:
        server.shutdown()
        server.server_close()

    print(table(results))
    print()
    print("\n".join(targets(results, sizes)))
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "sizes": sizes,
        "changed_share": 0.05,
        "results": results,
    }
    out = Path(args.out) / f"harvest-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
