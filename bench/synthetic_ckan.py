"""A fast, deterministic stand-in for a remote CKAN's action API, for the harvest benchmark.

Serves N generated datasets (bench/synthetic_datasets.py: the same on every run, dated in the
past, so an incremental harvest sees only what ``mutate`` touched) on a loopback port. Answers
what harvesters send to CKAN:

* ``package_search`` (``/api/3/action/``, ``/api/action/``; GET query string, form or JSON body):
  ``q`` empty or ``*:*``; ``fq`` made of clauses ``[+-]field:value`` (AND-ed) where field is
  ``id``, ``name``, ``organization``, ``groups`` or ``dataset_type`` with a term, a quoted term
  or ``(a OR "b")``, or ``metadata_modified``/``metadata_created`` with a range ``[X TO *]``;
  ``rows`` (capped at 1000 like CKAN), ``start``, ``sort`` on id, name and the two dates; ``fl``
  (results then hold only those keys); ``include_private`` and ``include_drafts`` are accepted.
  Anything else in ``q``/``fq``/``sort`` is a 400 "Search Query Error" saying what is not
  supported (and logged on stderr);
* ``package_show``, ``organization_show``, ``group_show``, ``status_show``.

Controls for the benchmark (JSON in, JSON out): ``POST /bench/mutate {"share", "seed"}`` changes
the title and bumps metadata_modified of exactly round(share * live datasets);
``POST /bench/delete {"share", "seed"}`` removes that many; ``POST /bench/reset {"datasets"}``
returns to the pristine state; ``GET /bench/stats`` counts requests and rows served
(``POST /bench/stats`` resets the counters).

Run alone: ``python bench/synthetic_ckan.py --datasets 1000 --port 8765``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from synthetic_datasets import GROUPS, ORGANIZATIONS, generate, group, organization, stamp

ROWS_MAX = 1000
SORT_FIELDS = ("id", "name", "metadata_created", "metadata_modified")
LIST_FIELDS = ("id", "name", "organization", "groups", "dataset_type")
DATE_FIELDS = ("metadata_created", "metadata_modified")


class QueryError(ValueError):
    """A q/fq/sort this stand-in does not understand (a 400, as CKAN answers bad queries)."""


@dataclass
class _Entry:
    index: int
    data: dict[str, Any]
    json: str
    modified: dt.datetime
    created: dt.datetime
    org: str
    groups: frozenset[str]


def _entry(index: int, data: dict[str, Any]) -> _Entry:
    return _Entry(
        index=index,
        data=data,
        json=json.dumps(data),
        modified=dt.datetime.fromisoformat(data["metadata_modified"]),
        created=dt.datetime.fromisoformat(data["metadata_created"]),
        org=data["organization"]["name"],
        groups=frozenset(g["name"] for g in data["groups"]),
    )


_CLAUSE = re.compile(
    r"""\s*(?P<op>[+-]?)(?P<field>[A-Za-z_]+):
        (?P<value>[\[{][^\]}]*[\]}]|\([^)]*\)|"[^"]*"|[^\s()"\[\]{}]+)\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"\s*AND\s+")
Predicate = Callable[[_Entry], bool]


def _bound(text: str, field: str) -> dt.datetime | None:
    text = text.strip()
    if text == "*":
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip('"'))
    except ValueError:
        raise QueryError(f"{field}: date {text!r} is not ISO 8601 (no NOW arithmetic)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _range(field: str, value: str) -> Predicate:
    inclusive = value[0] == "["
    parts = value[1:-1].split(" TO ")
    if len(parts) != 2:
        raise QueryError(f"{field}: range {value!r} is not [X TO Y]")
    low, high = (_bound(part, field) for part in parts)

    def check(entry: _Entry) -> bool:
        moment = entry.modified if field == "metadata_modified" else entry.created
        if low is not None and (moment < low if inclusive else moment <= low):
            return False
        return high is None or (moment <= high if inclusive else moment < high)

    return check


def _terms(field: str, value: str) -> frozenset[str]:
    if value.startswith("("):
        parts = re.split(r"\s+OR\s+", value[1:-1].strip())
    else:
        parts = [value]
    terms = [part.strip().strip('"') for part in parts]
    if any(not t or re.search(r'[\s"()*]', t) for t in terms):
        raise QueryError(f"{field}: only terms joined by OR are supported, not {value!r}")
    return frozenset(terms)


def _id_range(value: str) -> Predicate:
    """``{X TO *]`` or ``[X TO *]`` on id: what key paging sends."""
    low, _, high = value[1:-1].partition(" TO ")
    if high.strip() != "*":
        raise QueryError(f"id: only ranges open at the top are supported, not {value!r}")
    low = low.strip().strip('"')
    if value[0] == "[":
        return lambda entry: entry.data["id"] >= low
    return lambda entry: entry.data["id"] > low


def _clause(field: str, value: str) -> Predicate:
    if field == "id" and value[0] in "[{":
        return _id_range(value)
    if field in DATE_FIELDS:
        if value[0] not in "[{":
            raise QueryError(f"{field}: only ranges such as [X TO *] are supported")
        return _range(field, value)
    if field not in LIST_FIELDS or value[0] in "[{":
        raise QueryError(f"fq field {field!r} with value {value!r} is not supported")
    terms = _terms(field, value)
    if field == "groups":
        return lambda entry: not entry.groups.isdisjoint(terms)
    if field == "organization":
        return lambda entry: entry.org in terms
    key = "type" if field == "dataset_type" else field
    return lambda entry: entry.data[key] in terms


def parse_fq(fq: str) -> list[tuple[bool, Predicate]]:
    """``fq`` as (wanted, predicate) pairs, all of which must hold. Raises QueryError."""
    clauses: list[tuple[bool, Predicate]] = []
    position, text = 0, fq.strip()
    while position < len(text):
        joined = _AND.match(text, position)
        if joined and clauses:
            position = joined.end()
        match = _CLAUSE.match(text, position)
        if not match:
            raise QueryError(f"fq not supported by the synthetic remote at {text[position:]!r}")
        clauses.append((match["op"] != "-", _clause(match["field"], match["value"])))
        position = match.end()
    return clauses


def parse_sort(sort: str) -> list[tuple[str, bool]]:
    """``sort`` as (field, descending) pairs; "score" is dropped (every hit scores the same)."""
    keys = []
    for part in sort.split(","):
        words = part.split()
        if len(words) != 2 or words[1] not in ("asc", "desc"):
            raise QueryError(f"sort {part.strip()!r} is not 'field asc|desc'")
        if words[0] == "score":
            continue
        if words[0] not in SORT_FIELDS:
            raise QueryError(f"sort on {words[0]!r} not supported (only {', '.join(SORT_FIELDS)})")
        keys.append((words[0], words[1] == "desc"))
    return keys


def _sort_key(field: str) -> Callable[[_Entry], str]:
    return lambda entry: str(entry.data[field])


class SyntheticCkan:
    """The remote's state: N generated datasets, some changed or deleted; thread safe."""

    def __init__(self, datasets: int) -> None:
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self.size = datasets
        self.reset()

    def reset(self, datasets: int | None = None) -> None:
        with self._lock:
            self.size = self.size if datasets is None else datasets
            self._entries = {i: _entry(i, generate(i)) for i in range(self.size)}
            self._by_key = {e.data[k]: e for e in self._entries.values() for k in ("id", "name")}
            self._version = 0
            self._revision = 0
            self._cache: OrderedDict[tuple[Any, ...], list[_Entry]] = OrderedDict()

    def _live(self) -> list[int]:
        return sorted(self._entries)

    def mutate(self, share: float, seed: int = 0) -> list[str]:
        """Change the title and bump metadata_modified (to now) of round(share * live)."""
        with self._lock:
            live = self._live()
            chosen = random.Random(seed).sample(live, round(share * len(live)))
            self._revision += 1
            now = stamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
            changed = []
            for index in sorted(chosen):
                data = dict(self._entries[index].data)
                data["title"] = f"{data['title']} (revision {self._revision})"
                data["metadata_modified"] = now
                entry = _entry(index, data)
                self._entries[index] = entry
                self._by_key[data["id"]] = self._by_key[data["name"]] = entry
                changed.append(data["id"])
            self._invalidate()
            return changed

    def delete(self, share: float, seed: int = 0) -> list[str]:
        """Remove round(share * live) datasets from the remote."""
        with self._lock:
            live = self._live()
            chosen = random.Random(seed).sample(live, round(share * len(live)))
            deleted = []
            for index in sorted(chosen):
                entry = self._entries.pop(index)
                del self._by_key[entry.data["id"]], self._by_key[entry.data["name"]]
                deleted.append(entry.data["id"])
            self._invalidate()
            return deleted

    def _invalidate(self) -> None:
        self._version += 1
        self._cache.clear()

    def _matches(self, fq: str, sort: str) -> list[_Entry]:
        key = (fq, sort, self._version)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        clauses = parse_fq(fq)
        keys = parse_sort(sort)
        hits = [e for e in self._entries.values() if all(want == test(e) for want, test in clauses)]
        for field, descending in reversed(keys):  # stable sorts: last key first
            hits.sort(key=_sort_key(field), reverse=descending)
        self._cache[key] = hits
        while len(self._cache) > 32:
            self._cache.popitem(last=False)
        return hits

    def search(self, params: dict[str, Any]) -> str:
        """The ``result`` of package_search as JSON text. Raises QueryError."""
        q = str(params.get("q") or "*:*").strip()
        if q not in ("*:*", "*"):
            raise QueryError(f"q {q!r} not supported by the synthetic remote (only *:*)")
        try:
            rows = min(int(params.get("rows", 10)), ROWS_MAX)
            start = int(params.get("start", 0))
        except ValueError:
            raise QueryError("rows and start must be integers") from None
        sort = str(params.get("sort") or "score desc, metadata_modified desc")
        fl = [f for f in re.split(r"[\s,]+", str(params.get("fl") or "")) if f]
        with self._lock:
            hits = self._matches(str(params.get("fq") or ""), sort)
            page = hits[start : start + rows] if rows > 0 and start >= 0 else []
            if fl:
                results = json.dumps([{f: e.data[f] for f in fl if f in e.data} for e in page])
            else:
                results = "[" + ", ".join(e.json for e in page) + "]"
            self.stats["package_search"] += 1
            self.stats["rows_served"] += len(page)
        return (
            f'{{"count": {len(hits)}, "sort": {json.dumps(sort)}, "facets": {{}}, '
            f'"search_facets": {{}}, "results": {results}}}'
        )

    def show(self, key: str) -> str | None:
        with self._lock:
            self.stats["package_show"] += 1
            entry = self._by_key.get(key)
            return entry.json if entry else None


def _organization_or_group(key: str, kind: str) -> dict[str, Any] | None:
    make, count = (organization, ORGANIZATIONS) if kind == "organization" else (group, GROUPS)
    for number in range(count):
        found = make(number)
        if key in (found["id"], found["name"]):
            return found
    return None


ACTION_PATH = re.compile(r"^/api/(?:3/)?action/(?P<action>[a-z_]+)/?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real CKAN behind a web server
    server: SyntheticServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _params(self) -> dict[str, Any]:
        url = urlsplit(self.path)
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode("utf-8")
            if "json" in (self.headers.get("Content-Type") or "") or body.startswith("{"):
                params.update(json.loads(body))
            else:
                params.update({k: v[-1] for k, v in parse_qs(body).items()})
        return params

    def _send(self, status: int, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _action(self, action: str, status: int, result: str) -> None:
        help_url = f"{self.server.url}/api/3/action/help_show?name={action}"
        key = "result" if status == 200 else "error"
        success = "true" if status == 200 else "false"
        self._send(status, f'{{"help": "{help_url}", "success": {success}, "{key}": {result}}}')

    def _error(self, action: str, status: int, kind: str, message: str) -> None:
        self._action(action, status, json.dumps({"__type": kind, "message": message}))

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        try:
            params = self._params()
        except (ValueError, UnicodeDecodeError) as error:
            self._send(400, json.dumps({"success": False, "error": {"message": str(error)}}))
            return
        if path.startswith("/bench/"):
            self._control(path, params)
            return
        match = ACTION_PATH.match(path)
        if not match:
            self._send(404, json.dumps({"success": False, "error": {"message": "Not found"}}))
            return
        action = match["action"]
        remote = self.server.remote
        if action == "package_search":
            try:
                self._action(action, 200, remote.search(params))
            except QueryError as error:
                print(f"synthetic CKAN: 400 for {params}: {error}", file=sys.stderr)
                self._error(action, 400, "Search Query Error", f"Search Query is invalid: {error}")
        elif action == "package_show":
            found = remote.show(str(params.get("id", "")))
            if found is None:
                self._error(action, 404, "Not Found Error", "Not found")
            else:
                self._action(action, 200, found)
        elif action in ("organization_show", "group_show"):
            kind = action.removesuffix("_show")
            shown = _organization_or_group(str(params.get("id", "")), kind)
            if shown is None:
                self._error(action, 404, "Not Found Error", f"{kind.title()} not found")
            else:
                self._action(action, 200, json.dumps({**shown, "package_count": 0}))
        elif action == "status_show":
            status = {"ckan_version": "2.10.4", "site_url": self.server.url, "extensions": []}
            self._action(action, 200, json.dumps(status))
        else:
            self._error(action, 400, "Bad request", f"Action {action!r} is not emulated")

    def _control(self, path: str, params: dict[str, Any]) -> None:
        remote = self.server.remote
        share, seed = float(params.get("share", 0)), int(params.get("seed", 0))
        if path == "/bench/mutate":
            answer: dict[str, Any] = {"changed": remote.mutate(share, seed)}
        elif path == "/bench/delete":
            answer = {"deleted": remote.delete(share, seed)}
        elif path == "/bench/reset":
            remote.reset(int(params["datasets"]) if "datasets" in params else None)
            answer = {"datasets": remote.size}
        elif path == "/bench/stats":
            answer = dict(remote.stats)
            if self.command == "POST":
                remote.stats.clear()
        else:
            self._send(404, json.dumps({"error": f"no control {path}"}))
            return
        self._send(200, json.dumps(answer))


class SyntheticServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, remote: SyntheticCkan, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), Handler)
        self.remote = remote
        self.url = f"http://{host}:{self.server_address[1]}"


def serve_in_thread(remote: SyntheticCkan, port: int = 0) -> SyntheticServer:
    """Start serving in a daemon thread; stop with ``server.shutdown(); server.server_close()``."""
    server = SyntheticServer(remote, port=port)
    threading.Thread(target=server.serve_forever, name="synthetic-ckan", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = SyntheticServer(SyntheticCkan(args.datasets), port=args.port)
    print(f"synthetic CKAN with {args.datasets} datasets on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()
