"""Solr date math: ``NOW``, ``NOW-1DAY``, ``2020-01-01T00:00:00Z+6MONTHS/DAY``."""

from __future__ import annotations

import datetime as dt
import re

from ckan.lib.search.common import SearchQueryError
from dateutil.relativedelta import relativedelta

from .documents import DocumentError, solr_date

_UNITS = {
    "YEAR": "years",
    "MONTH": "months",
    "DAY": "days",
    "DATE": "days",
    "HOUR": "hours",
    "MINUTE": "minutes",
    "SECOND": "seconds",
    "MILLI": "microseconds",
    "MILLISECOND": "microseconds",
}
_OP = re.compile(r"([+-])(\d+)([A-Z]+)|/([A-Z]+)")
# Solr accepts only complete UTC timestamps in queries.
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_TRUNCATE = ("years", "months", "days", "hours", "minutes", "seconds")


def _unit(word: str) -> str:
    unit = _UNITS.get(word.rstrip("S")) or _UNITS.get(word)
    if unit is None:
        raise SearchQueryError(f"Unknown unit in date math: {word}")
    return unit


def _truncate(moment: dt.datetime, unit: str) -> dt.datetime:
    if unit == "microseconds":
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    fields = {
        "years": dict(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
        "months": dict(day=1, hour=0, minute=0, second=0, microsecond=0),
        "days": dict(hour=0, minute=0, second=0, microsecond=0),
        "hours": dict(minute=0, second=0, microsecond=0),
        "minutes": dict(second=0, microsecond=0),
        "seconds": dict(microsecond=0),
    }
    return moment.replace(**fields[unit])  # type: ignore[arg-type]


def parse_date(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """Return the UTC moment a Solr date expression stands for."""
    now = now or dt.datetime.now(dt.timezone.utc)
    upper = text.upper()
    if upper.startswith("NOW"):
        moment, rest = now, upper[3:]
    else:
        split = re.search(r"Z(?=[+/-]|$)", upper)
        end = split.end() if split else len(upper)
        if not _ISO.fullmatch(upper[:end]):
            raise SearchQueryError(
                f"Invalid date in query: {text!r} (expected YYYY-MM-DDThh:mm:ssZ or NOW)"
            )
        try:
            moment = dt.datetime.fromisoformat(solr_date(text[:end]).replace("Z", "+00:00"))
        except (DocumentError, ValueError) as e:
            raise SearchQueryError(f"Invalid date in query: {text!r}") from e
        rest = upper[end:]
    position = 0
    for match in _OP.finditer(rest):
        if match.start() != position:
            break
        sign, amount, word, rounding = match.groups()
        if rounding:
            moment = _truncate(moment, _unit(rounding))
        else:
            unit = _unit(word)
            value = int(amount) * (1000 if unit == "microseconds" else 1)
            delta = relativedelta(**{unit: value})
            moment = moment + delta if sign == "+" else moment - delta
        position = match.end()
    if position != len(rest):
        raise SearchQueryError(f"Invalid date math in query: {text!r}")
    return moment
