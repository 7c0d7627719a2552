"""A real HTTP server on 127.0.0.1 that records the webhook payloads it receives (shared by the notification,
flow and security tests). Its URL carries a secret in the path and the query, as real webhook URLs do."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "T000-SECRET-TOKEN-xyz"


class Recorder(ThreadingHTTPServer):
    def __init__(self, status: int = 200) -> None:
        self.status, self.received = status, []
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/{SECRET}?token={SECRET}"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass
