"""A dry run of the real pipeline: list, map, hash and plan, writing nothing."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ckanext.harvestplus.backends.base import Backend
from ckanext.harvestplus.pipeline import plan, sourceconfig
from ckanext.harvestplus.pipeline.context import context_for, digest, now
from ckanext.harvestplus.store import objects
from ckanext.harvestplus.types import RunOptions


@dataclass
class Preview:
    datasets: list[dict[str, Any]]
    plan: dict[str, int]
    guard: str | None
    listing_complete: bool
    errors: list[str]
    listed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "plan": self.plan,
            "guard": self.guard,
            "listing_complete": self.listing_complete,
            "errors": self.errors,
            "datasets": self.datasets,
        }


def adhoc_source(source_type: str, url: str, config: str | None) -> Any:
    """A source that exists only for a preview (nothing is held, nothing is owned)."""
    return SimpleNamespace(
        id="preview", type=source_type, url=url, config=config or "{}", publisher_id=""
    )


def preview(
    backend: Backend, source: Any, *, limit: int = 5, force: bool = False, confirmed: bool = False
) -> Preview:
    """What a run of ``source`` would do, and its first ``limit`` mapped datasets."""
    cfg = sourceconfig.parse(source.config, backend.config_keys)
    ctx = context_for(backend, source, RunOptions(force=force, confirmed=confirmed))
    held = objects.held(source.id) if source.id != "preview" else {}
    locals_ = {i: h.local() for i, h in held.items()}
    remote: dict[str, str] = {}
    shown: list[dict[str, Any]] = []
    errors: list[str] = []
    complete = True
    try:
        for page in backend.listing(ctx):
            for record in page:
                if record.identity in remote:
                    continue
                try:
                    dataset = backend.map(record, ctx)
                    found = backend.provenance(record, ctx)
                    remote[record.identity] = digest(dataset, ctx, found)
                except Exception as e:
                    errors.append(f"Could not map record {record.identity}: {e}")
                    if record.identity in held:
                        remote[record.identity] = held[record.identity].content_hash
                    continue
                if len(shown) < limit:
                    shown.append(dataset)
    except Exception as e:
        complete = False
        errors.append(f"The remote listing failed after {len(remote)} records: {e}")
    result = plan.decide(
        remote,
        locals_,
        settings=cfg.settings,
        now=now(),
        listing_complete=complete,
        force=force,
        confirmed=confirmed,
    )
    counts = {a.value: n for a, n in sorted(result.counts.items(), key=lambda kv: kv[0].value)}
    return Preview(shown, counts, result.guard, complete, errors, len(remote))
