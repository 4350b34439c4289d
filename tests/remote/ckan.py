"""A second, real CKAN for tests to harvest from.

Runs the installed CKAN as its own process with its own database, site_id,
Redis database and loopback port (see ckan.ini beside this file), seeded
through its action API like any remote portal. Nothing is mocked.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).parent
INI = HERE / "ckan.ini"
CKAN = Path(sys.executable).parent / "ckan"
DEFAULT_DB = "postgresql://harvestplus:harvestplus@127.0.0.1:5432/harvestplus_remote_test"
ADMIN = "remote-admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call_api(url: str, token: str, action: str, data: dict[str, Any], site: str) -> Any:
    """Call a served CKAN's action API with an API token; raise when it fails."""
    response = requests.post(
        f"{url}/api/3/action/{action}", json=data, headers={"Authorization": token}, timeout=60
    )
    body = response.json()
    if not body.get("success"):
        raise AssertionError(f"{site} {action} failed: {body.get('error')}")
    return body["result"]


@dataclass
class RemoteCkan:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def action(self, action: str, /, **data: Any) -> Any:
        return call_api(self.url, self.token, action, data, site="remote")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start(tmp_dir: Path) -> RemoteCkan:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CKAN_SQLALCHEMY_URL": os.environ.get("HARVESTPLUS_REMOTE_SQLALCHEMY_URL", DEFAULT_DB),
        "CKAN_SITE_URL": url,
    }

    def ckan(*args: str) -> str:
        done = subprocess.run(
            [str(CKAN), "-c", str(INI), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise RuntimeError(f"remote `ckan {' '.join(args)}` failed:\n{done.stderr[-3000:]}")
        return done.stdout

    # A fresh catalogue every session: clean, migrate, empty its index.
    ckan("db", "clean", "--yes")
    ckan("db", "init")
    # No ckanext-harvest here: the search index alone, with its own migrations.
    ckan("db", "upgrade", "-p", "harvestplus_pgsearch")
    ckan("search-index", "clear")
    ckan("user", "add", ADMIN, "email=remote@example.org", "password=remote-admin-pass")
    ckan("sysadmin", "add", ADMIN)
    token = ckan("user", "token", "add", ADMIN, "tests").strip().splitlines()[-1].strip()

    log = tmp_dir / "remote-ckan.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(CKAN), "-c", str(INI), "run", "-H", "127.0.0.1", "-p", str(port)]
            + ["--disable-reloader"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    remote = RemoteCkan(url=url, token=token, process=process, log=log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"remote CKAN exited during start-up:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/api/3/action/status_show", timeout=2).ok:
                return remote
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    remote.stop()
    raise RuntimeError(f"remote CKAN did not answer within 90 s:\n{log.read_text()[-3000:]}")
