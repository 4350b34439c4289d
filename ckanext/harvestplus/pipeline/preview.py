"""A dry run: the real gather engine with a sink that writes nothing.

A saved source is previewed as its next run would go, reading again only what
changed on the remote (as the run would); a source not saved yet holds
nothing, so every record it lists would be created.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ckanext.harvestplus.backends.base import Backend
from ckanext.harvestplus.pipeline.gather import Gather
from ckanext.harvestplus.pipeline.sinks import PreviewSink
from ckanext.harvestplus.types import RunOptions


@dataclass
class Preview:
    #: The mapped datasets of the first records read (at most ``limit``).
    datasets: list[dict[str, Any]]
    #: What the run would do with each of the first ``limit`` records.
    items: list[dict[str, Any]]
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
            "items": self.items,
        }


def adhoc_source(source_type: str, url: str, config: str | None) -> Any:
    """A source that exists only for a preview: no id (it holds nothing), no owner."""
    return SimpleNamespace(id="", type=source_type, url=url, config=config or "{}", publisher_id="")


def preview(
    backend: Backend, source: Any, *, limit: int = 5, force: bool = False, confirmed: bool = False
) -> Preview:
    """What a run of ``source`` would do, and its first ``limit`` records; writes
    nothing. Raises :class:`~.sourceconfig.ConfigError` for a bad configuration."""
    sink = PreviewSink(limit=limit)
    options = RunOptions(force=force, confirmed=confirmed)
    Gather(backend, source, options, sink).run()
    datasets = [i["dataset"] for i in sink.items if i["dataset"] is not None]
    return Preview(
        datasets, sink.items, sink.counts, sink.guard, sink.complete, sink.errors, sink.listed
    )
