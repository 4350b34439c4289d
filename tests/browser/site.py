"""The CKAN site the browser tests drive, served for real.

A web server plus ckanext-harvest's gather and fetch queues consumed by
``ckan harvestplus worker`` and a ``ckan harvestplus scheduler``, each its own
process of the installed CKAN, logging to a file. The site has its own
database, site_id, Redis database and loopback port (ckan.ini beside this
file), rebuilt from scratch on each start, so it never meets the in-process
tests' database or the remote CKAN's.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.remote.ckan import CKAN, call_api, free_port

INI = Path(__file__).parent / "ckan.ini"
DEFAULT_DB = "postgresql://harvestplus:harvestplus@127.0.0.1:5432/harvestplus_browser_test"
ADMIN = "browser-admin"
PASSWORD = "browser-admin-pass"
START_SECONDS = 90


def tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "(no log)"


@dataclass
class Site:
    url: str
    token: str
    env: dict[str, str]
    logs: Path
    admin: str = ADMIN
    password: str = PASSWORD
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def action(self, action: str, /, **data: Any) -> Any:
        """Call the site's action API as the sysadmin."""
        return call_api(self.url, self.token, action, data, site="site")

    def spawn(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as out:
            self.processes[name] = subprocess.Popen(
                [str(CKAN), "-c", str(INI), *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def dead(self) -> dict[str, int]:
        """Processes that exited, with their exit codes."""
        return {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}

    def log_tails(self, names: list[str] | None = None, chars: int = 3000) -> str:
        logs = [self.logs / f"{name}.log" for name in names or list(self.processes)]
        return "\n".join(f"--- tail of {log} ---\n{tail(log, chars)}" for log in logs)

    def check_alive(self) -> None:
        """Raise, with the end of their logs, if any of the site's processes died."""
        if dead := self.dead():
            codes = ", ".join(f"{n} (exit {c})" for n, c in dead.items())
            raise RuntimeError(f"browser site process died: {codes}\n{self.log_tails(list(dead))}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def start(logs: Path) -> Site:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = os.environ.get("HARVESTPLUS_BROWSER_SQLALCHEMY_URL", DEFAULT_DB)
    # None of the pytest process's CKAN_* settings (they name the in-process tests' database).
    env = {k: v for k, v in os.environ.items() if not k.startswith("CKAN_")}
    env |= {
        "CKAN_SQLALCHEMY_URL": database,
        "CKAN_SITE_URL": url,
        # site_id names the harvest queues: runs on two databases never share them.
        "CKAN_SITE_ID": f"harvestplus-browser-{database.rsplit('/', 1)[-1]}",
    }

    def ckan(*args: str) -> str:
        done = subprocess.run(
            [str(CKAN), "-c", str(INI), *args], env=env, capture_output=True, text=True, timeout=300
        )
        if done.returncode:
            command = " ".join(args)
            raise RuntimeError(f"browser site `ckan {command}` failed:\n{done.stderr[-3000:]}")
        return done.stdout

    # A fresh site every session: clean, migrate, empty its index and harvest queues
    # (a killed run may leave messages), one sysadmin.
    ckan("db", "clean", "--yes")
    ckan("db", "init")
    ckan("db", "upgrade", "-p", "harvest")
    ckan("db", "upgrade", "-p", "harvestplus")
    ckan("db", "upgrade", "-p", "harvestplus_pgsearch")
    ckan("search-index", "clear")
    ckan("harvester", "purge-queues")
    ckan("user", "add", ADMIN, "email=browser@example.org", f"password={PASSWORD}")
    ckan("sysadmin", "add", ADMIN)
    token = ckan("user", "token", "add", ADMIN, "tests").strip().splitlines()[-1].strip()

    site = Site(url=url, token=token, env=env, logs=logs)
    try:
        site.spawn("web", "run", "-H", "127.0.0.1", "-p", str(port), "--disable-reloader")
        site.spawn("gather", "harvestplus", "worker", "gather")
        site.spawn("fetch", "harvestplus", "worker", "fetch")
        site.spawn("scheduler", "harvestplus", "scheduler", "--interval", "10")
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            site.check_alive()
            try:
                if requests.get(f"{url}/api/3/action/status_show", timeout=2).ok:
                    return site
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise RuntimeError(
            f"browser site did not answer within {START_SECONDS} s:\n{site.log_tails(['web'])}"
        )
    except BaseException:
        site.stop()
        raise
