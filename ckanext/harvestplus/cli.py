"""``ckan harvestplus ...`` commands: thin front ends over the actions.

Every command takes ``--json`` for machine-readable output on stdout; the
human form goes to stdout too, progress to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ckan.plugins.toolkit as tk
import click

JSON = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@click.group(short_help="Harvest external catalogues (ckanext-harvestplus).")
def harvestplus() -> None:
    """Commands of ckanext-harvestplus."""


def _context() -> dict[str, Any]:
    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"user": user["name"], "ignore_auth": True}


def _call(action: str, **data: Any) -> Any:
    try:
        return tk.get_action(action)(_context(), data)
    except tk.ValidationError as e:
        problems = "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in e.error_dict.items()
        )
        raise click.ClickException(problems) from e
    except tk.ObjectNotFound as e:
        raise click.ClickException(str(e) or "not found") from e


def _emit(value: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(value, indent=2, default=str))
    else:
        human(value)


@contextmanager
def _app() -> Iterator[None]:
    """Run inside the CKAN app (actions need a request context)."""
    ctx = click.get_current_context()
    app = ctx.meta.get("flask_app")
    if app is None:
        yield
        return
    with app.test_request_context():
        yield


@harvestplus.command()
@JSON
def backends(as_json: bool) -> None:
    """List the harvesters this site offers and their source type names."""
    with _app():
        found = _call("harvestplus_backends")

    def human(items: list[dict[str, Any]]) -> None:
        for b in items:
            mark = "harvestplus" if b["harvestplus"] else "other"
            click.echo(f"{b['name']:<24} {mark:<12} {b['title']}")

    _emit(found, as_json, human)


SUMMARY_FIELDS = (
    "created",
    "updated",
    "unchanged",
    "deleted",
    "archived",
    "restored",
    "errored",
    "kept",
)


def _print_summary(s: dict[str, Any]) -> None:
    click.echo(f"Job {s['job_id']}: {s['status']}")
    click.echo("  " + ", ".join(f"{k} {s[k]}" for k in SUMMARY_FIELDS))
    if s.get("duration") is not None:
        click.echo(f"  duration {s['duration']:.1f} s")
    if s.get("guard"):
        click.echo(f"  removals held back: {s['guard']}")
    for error in s.get("errors") or []:
        click.echo(f"  error: {error}")
    for item in s.get("notes") or []:
        for note in item["notes"]:
            click.echo(f"  not kept, {item['title'] or item['guid']}: {note}")


@harvestplus.command()
@click.argument("source")
@click.option("--sync", is_flag=True, help="Run gather, fetch and import now, in this process.")
@click.option(
    "--wait",
    is_flag=True,
    help="Queue the job for the workers and wait until it is finished, showing progress.",
)
@click.option("--force", is_flag=True, help="Re-import every record, changed or not.")
@click.option("--confirm", is_flag=True, help="Confirm removals the mass-deletion guard holds.")
@JSON
def run(source: str, sync: bool, wait: bool, force: bool, confirm: bool, as_json: bool) -> None:
    """Run SOURCE (name or id): queue a job for the workers (--wait: and follow
    it to the end), or with --sync run it here."""
    from ckanext.harvestplus import jobs

    with _app():
        if not sync:
            queued = _call("harvestplus_source_run", id=source, force=force, confirm=confirm)
            if not wait:
                _emit(queued, as_json, lambda q: click.echo(f"Queued job {q['job_id']}."))
                return
            click.echo(f"Queued job {queued['job_id']}; waiting for the workers.", err=True)
            bar = _Progress(enabled=not as_json)
            try:
                result = _follow(queued["job_id"], bar)
            finally:
                bar.close()
        else:
            bar = _Progress(enabled=not as_json)
            try:
                result = jobs.run_sync(
                    source, force=force, confirmed=confirm, progress=bar.update
                ).as_dict()
            except jobs.RunError as e:
                raise click.ClickException(str(e)) from e
            finally:
                bar.close()
    _emit(result, as_json, _print_summary)
    if result["errored"] or result["errors"]:
        sys.exit(1)


def _follow(job_id: str, bar: _Progress, poll: float = 1.0) -> dict[str, Any]:
    """Wait for the workers to finish a job; progress once its gather is done."""
    import time

    from ckanext.harvestplus import jobs
    from ckanext.harvestplus.types import ENDED

    while True:
        progress = jobs.progress(job_id)
        if progress.gathered:
            bar.update(progress.done, progress.total)
        if progress.status in ENDED:
            return dict(_call("harvestplus_job_summary", id=job_id))
        time.sleep(poll)


class _Progress:
    """A click progress bar on stderr, started once the gather stage knows the total."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.done = 0

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if total == 0:
                click.echo("Gathered: nothing to import (no record needs a write).", err=True)
                self.enabled = False
                return
            click.echo(f"Gathered: {total} record(s) to import.", err=True)
            self.bar = click.progressbar(
                length=max(total, 1), label="Importing", file=sys.stderr, show_pos=True
            )
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@harvestplus.command()
@click.argument("source", required=False)
@click.option("--type", "source_type", help="Source type, for a source that does not exist yet.")
@click.option("--url", help="Remote URL, with --type.")
@click.option("--config", "config", help="Source configuration (JSON), with --type.")
@click.option("--limit", default=5, show_default=True, help="Mapped datasets to print.")
@JSON
def preview(
    source: str | None,
    source_type: str | None,
    url: str | None,
    config: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Dry run of SOURCE, or of --type/--url: the plan and the first mapped datasets.

    Nothing is written.
    """
    if not source and not (source_type and url):
        raise click.UsageError("Give a SOURCE, or --type and --url.")
    with _app():
        if source:
            found = _call("harvestplus_preview", id=source, limit=limit)
        else:
            found = _call(
                "harvestplus_preview", type=source_type, url=url, config=config, limit=limit
            )

    def human(p: dict[str, Any]) -> None:
        for dataset in p["datasets"]:
            click.echo(json.dumps(dataset, indent=2, ensure_ascii=False))
        complete = "" if p["listing_complete"] else " (listing incomplete)"
        click.echo(f"Listed {p['listed']} record(s){complete}.")
        click.echo("Plan: " + ", ".join(f"{k} {v}" for k, v in p["plan"].items()))
        if p["guard"]:
            click.echo(f"Removals held back: {p['guard']}")
        for error in p["errors"]:
            click.echo(f"error: {error}")

    _emit(found, as_json, human)


@harvestplus.command()
@click.argument("source", required=False)
@click.option("--repair", is_flag=True, help="Repair as each source's deletion policy says.")
@JSON
def orphans(source: str | None, repair: bool, as_json: bool) -> None:
    """Find datasets stranded by earlier runs (of SOURCE, or of every source)."""
    with _app():
        found = _call("harvestplus_orphans", source_id=source, repair=repair)

    def human(r: dict[str, Any]) -> None:
        if not r["orphans"]:
            click.echo("No orphaned datasets.")
            return
        verb = "" if r["repaired"] else "would "
        for o in r["orphans"]:
            click.echo(
                f"{o['name']} (source {o['source_id']}, remote id {o['remote_id']}): "
                f"{verb}{o['action']}"
            )
        if not r["repaired"]:
            click.echo("Run again with --repair to do it.")

    _emit(found, as_json, human)


@harvestplus.command()
@click.argument("source", required=False)
@click.option("--repair", is_flag=True, help="Fix what can be fixed safely.")
@JSON
def check(source: str | None, repair: bool, as_json: bool) -> None:
    """Report every broken invariant of SOURCE (or of every source): duplicates,
    datasets held by two sources, orphans, objects of purged datasets, and search
    index entries that disagree with the database. Exits 1 while any remains."""
    with _app():
        found = _call("harvestplus_check", source_id=source, repair=repair)

    def human(r: dict[str, Any]) -> None:
        if not r["problems"]:
            click.echo("No problems found.")
            return
        fixed = {json.dumps(p, sort_keys=True) for p in r["repaired"]}
        for p in r["problems"]:
            what = p["package_id"] or f"remote id {p['remote_id']}"
            if json.dumps(p, sort_keys=True) in fixed:
                outcome = f"repaired ({p['repair']})"
            elif p["repair"]:
                outcome = f"--repair would {p['repair']}"
            else:
                outcome = "an admin must decide"
            click.echo(f"{p['kind']}: {what}: {p['detail']}; {outcome}")
        click.echo(f"{len(r['problems'])} problem(s), {r['remaining']} remaining.")

    _emit(found, as_json, human)
    if found["remaining"]:
        sys.exit(1)


@harvestplus.command()
@click.argument("source")
@click.option("--dry-run", is_flag=True, help="Only list what would be adopted.")
@JSON
def adopt(source: str, dry_run: bool, as_json: bool) -> None:
    """Adopt into SOURCE the datasets detached from an earlier, deleted source of
    the same URL, instead of letting its first run create them again."""
    with _app():
        found = _call("harvestplus_source_adopt", id=source, dry_run=dry_run)

    def human(r: dict[str, Any]) -> None:
        verb = "Would adopt" if r["dry_run"] else "Adopted"
        for d in r["adopted"]:
            click.echo(f"{d['name']} (remote id {d['remote_id']})")
        click.echo(f"{verb} {len(r['adopted'])} dataset(s).")

    _emit(found, as_json, human)


@harvestplus.command()
@click.argument("stage", type=click.Choice(["gather", "fetch"]))
@click.option(
    "--max-messages",
    type=int,
    default=None,
    help="Stop after this many messages (default: run until stopped).",
)
def worker(stage: str, max_messages: int | None) -> None:
    """Consume the gather or fetch queue; run one of each in production.

    Unlike `ckan harvester gather-consumer`/`fetch-consumer`, a worker survives
    an idle or restarted Redis, skips jobs stopped while queued, and marks a
    job Finished as soon as its last record is done. SIGTERM stops it after the
    current message.
    """
    from ckanext.harvestplus.workers import Stage, Worker

    runner = Worker(Stage(stage))
    runner.install_signal_handlers()
    with _app():
        try:
            runner.run(max_messages=max_messages)
        except RuntimeError as e:
            raise click.ClickException(str(e)) from e
    click.echo(f"{stage} worker stopped after {runner.handled} message(s).", err=True)


@harvestplus.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=60,
    show_default=True,
    help="Seconds between two ticks.",
)
@click.option("--once", is_flag=True, help="Tick once and exit (for cron).")
def scheduler(interval: float, once: bool) -> None:
    """Every INTERVAL seconds, do what `ckan harvester run` does: start the
    sources that are due, finish or time out running jobs, re-queue lost
    messages. Runs until stopped (SIGTERM or Ctrl-C)."""
    import signal
    import time

    from ckanext.harvestplus import jobs

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        while True:
            with _app():
                try:
                    jobs.tick()
                except Exception as e:  # a failed tick must not end the loop
                    click.echo(f"scheduler: tick failed: {e}", err=True)
                    if once:
                        raise click.ClickException(str(e)) from e
            if once:
                return
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.5)
            if stopping:
                return
    except KeyboardInterrupt:
        return
