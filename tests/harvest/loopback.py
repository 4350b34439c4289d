"""A JSON API on a loopback port: a stdlib HTTP server in a thread.

Subclasses answer ``(method, path, query, body)`` (``body``: the JSON a POST
sent, else ``{}``) with a status and a JSON body;
the catalogues built on it (dkan_server.py, captured_ckan.py) are served
over real HTTP, like any remote.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class JsonServer:
    def __init__(self) -> None:
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> JsonServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> JsonServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, Any]:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    posted = json.loads(sent) if sent else {}
                except ValueError:
                    posted = {}
                url = urlsplit(self.path)
                status, body = server.answer(
                    method,
                    url.path,
                    parse_qs(url.query),
                    posted if isinstance(posted, dict) else {},
                )
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_POST(self) -> None:
                self._reply("POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # subclasses keep their own request log where tests need one

        return Handler
