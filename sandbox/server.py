"""The sandbox HTTP server: stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive, one small router."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sandbox.control import handle_control
from sandbox.http import Request, Response, json_response
from sandbox.kombo import KomboApp
from sandbox.provider import ProviderApp
from sandbox.settings import SandboxSettings
from sandbox.state import State

__all__ = ["APP_CLASSES", "SandboxServer"]

APP_CLASSES: list[type[ProviderApp]] = [KomboApp]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many keep-alive clients (a fleet of workers) connect at once.
    request_queue_size = 256
    sandbox: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # the request log of /_sandbox/requests replaces per-line access logs

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > sandbox.state.settings.max_body_bytes:
            self.rfile.read(length)
            self._send(
                json_response(413, {"error": f"body over {sandbox.state.settings.max_body_bytes} bytes"})
            )
            return
        req = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        if req.path.startswith("/_sandbox/"):
            self._send(handle_control(sandbox.state, req, sorted(sandbox.apps)))
            return
        for app in sandbox.apps.values():
            if req.path.startswith(app.prefix + "/"):
                found = app.match(req.method, req.path[len(app.prefix) :])
                if found is None:
                    response = app.error(404, "NOT_FOUND", f"no route {req.method} {req.path}")
                    sandbox.state.record(app.name, req.method, "(unknown)", response.status)
                else:
                    route, req.params = found
                    response = app.handle(req, route)
                    sandbox.state.record(app.name, req.method, route.name, response.status)
                self._send(response)
                return
        self._send(json_response(404, {"error": f"no provider serves {req.path}"}))

    def _send(self, response: Response) -> None:
        if response.delay_s > 0:
            time.sleep(response.delay_s)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class SandboxServer:
    """Fake provider APIs on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self, settings: SandboxSettings | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.state = State(self.settings)
        self.apps: dict[str, ProviderApp] = {cls.name: cls(self.state) for cls in APP_CLASSES}
        self._httpd = _Server((host, port), _Handler)
        self._httpd.sandbox = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> SandboxServer:
        """Serve on a background thread (for tests)."""
        self._thread = threading.Thread(target=self.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
