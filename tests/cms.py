"""A CMS stand-in for tests: a real HTTP server on loopback that receives signed callbacks.

It answers the first `fail_times` requests with `fail_status` (or sleeps past the client's
timeout when `delay_s` is set), then 200, checks every signature with the site's secret and
keeps what it received. Used by the worker's unit tests and the functional tests.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from service.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass
class Received:
    """One request as the CMS saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class CmsReceiver:
    """A loopback HTTP server that fails a set number of times, then accepts."""

    secret: str
    fail_times: int = 0
    fail_status: int = 503
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/modassist/callback"

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.answered < 300]

    def start(self) -> CmsReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = dict(self.headers.items())
                valid = verify(
                    receiver.secret,
                    headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    headers.get(SIGNATURE_HEADER, ""),
                ) and bool(headers.get(KEY_HEADER))
                with receiver._lock:
                    failing = len(receiver.received) < receiver.fail_times
                    status = receiver.fail_status if failing else 200
                    receiver.received.append(Received(self.path, headers, body, valid, status))
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                payload = b'{"ok": true}' if status == 200 else b'{"ok": false}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout): nothing to answer
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
