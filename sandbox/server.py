"""The sandbox HTTP server: stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive, one small router.

One thread per connection (daemon threads), so a slow or deliberately delayed answer never holds
up another client. :meth:`SandboxServer.handle` is a plain ``Request -> Response`` function that
tests may call without a socket; the handler class only moves bytes. Every provider request
goes through the same steps: route, injected faults (outage, 5xx, 429), the provider's handler,
an injected mutation of a 2xx answer (``sandbox.mutate``), an injected late answer, and one line
in the statistics.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from contextlib import suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.control import CONTROL_PREFIX, handle_control
from sandbox.http import Handler, Provider, Request, Response, json_response
from sandbox.mutate import mutate
from sandbox.providers import api_classes
from sandbox.settings import SandboxSettings
from sandbox.state import State

__all__ = ["SandboxServer"]

log = logging.getLogger(__name__)

#: (HTTP status, message) for a request answered without running its handler (e.g. 413).
Refusal = tuple[int, str] | None
#: Seconds an idle keep-alive connection is kept (its thread waits that long for a request).
IDLE_CONNECTION_S = 120.0


class SandboxServer:
    """Fake provider APIs on ``host:port``; port 0 picks a free port (see :attr:`url`)."""

    def __init__(
        self, settings: SandboxSettings | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.state = State(self.settings)
        self.providers: dict[str, Provider] = {p.name: p for p in (cls(self.state) for cls in api_classes())}
        self._routes = {name: list(p.routes()) for name, p in self.providers.items()}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.app = self

    @property
    def url(self) -> str:
        """``http://host:port`` without a trailing slash."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` is called from another one."""
        self._httpd.serve_forever(poll_interval=0.05)

    def start(self) -> SandboxServer:
        """Serve on a background daemon thread; returns self, e.g. ``SandboxServer().start()``."""
        self._thread = threading.Thread(target=self.serve_forever, name="sandbox-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end delayed answers and close every connection."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.close_all()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handle(self, req: Request, refusal: Refusal = None) -> Response:
        """Answer one request; ``refusal`` (status, message) answers it without running a handler."""
        if req.path.startswith(CONTROL_PREFIX + "/"):
            return handle_control(self.state, req, self.providers)
        provider = next((p for p in self.providers.values() if _under(req.path, p.prefix)), None)
        if provider is None:
            prefixes = ", ".join(p.prefix for p in self.providers.values())
            return json_response(404, {"error": f"no provider serves {req.path} (prefixes: {prefixes})"})
        path = req.path[len(provider.prefix) :] or "/"
        allowed = []
        for route in self._routes[provider.name]:
            params = route.match(path)
            if params is not None and route.method == req.method:
                req.params = params
                response = self._run(provider, route.handler, req, refusal)
                self.state.record(provider.name, req.method, route.name, response.status, req.path)
                return response
            if params is not None:
                allowed.append(route.method)
        status = 405 if allowed else 404
        response = provider.error(status, f"no route {req.method} {req.path}")
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        self.state.record(provider.name, req.method, "(unmatched)", response.status, req.path)
        return response

    def _run(self, provider: Provider, handler: Handler, req: Request, refusal: Refusal) -> Response:
        if refusal is not None:
            return provider.error(*refusal)
        fault = self.state.faults.draw(self.settings)
        if fault.kind == "down":
            left_s = (self.settings.down_until_epoch_s or 0) - time.time()
            return provider.error(503, f"The service is down for {left_s:.0f} more seconds (sandbox outage).")
        if fault.kind == "5xx":
            return provider.error(503, "The service is temporarily unavailable (sandbox fault injection).")
        if fault.kind == "429":
            return provider.error(429, "Too many requests (sandbox fault injection).")
        try:
            response: Response = handler(req)
        except Exception:  # a sandbox bug must answer 500, not kill the connection
            log.exception("sandbox handler failed: %s %s", req.method, req.path)
            return provider.error(500, "The sandbox failed to handle this request; see its log.")
        rate = self.settings.mutate_rate
        if rate > 0 and 200 <= response.status < 300:
            rng = self.state.rng("mutate")
            if rng.random() < rate:
                kind = mutate(provider.name, response, rng)
                if kind is not None:
                    self.state.mutated(kind)
        # The work is done (a task may exist now); only the answer comes late, as after a timeout.
        response.delay_s = max(response.delay_s, fault.delay_s)
        return response

    def wait_stopping(self, seconds: float) -> None:
        """Sleep ``seconds`` unless the server stops first (for delayed answers)."""
        self._stopping.wait(seconds)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a fleet of workers opens its connections at once
    app: SandboxServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall for seconds where
        # reverse DNS is slow; the name is only used for CGI variables.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_all(self) -> None:
        """Close the listening socket and every open connection (idle keep-alive ones too)."""
        self.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "coursesync-sandbox"
    disable_nagle_algorithm = True  # small answers must not wait for the peer's delayed ACK
    timeout = IDLE_CONNECTION_S
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: ``GET /_sandbox/requests`` is the access log."""

    def _serve(self) -> None:
        app = self.server.app
        split = urlsplit(self.path)
        refusal: Refusal = None
        body = b""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            refusal, self.close_connection = (411, "send the body with a Content-Length header"), True
        else:
            length = _content_length(self.headers.get("Content-Length"))
            limit = app.settings.max_body_bytes
            if length < 0:
                refusal, self.close_connection = (400, "the Content-Length header is not a number"), True
            elif length > limit:
                _discard(self.rfile, length)
                refusal = (413, f"the body has {length} bytes; the limit is {limit}")
            elif length:
                body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, split.path, parse_qs(split.query, keep_blank_values=True), headers, body)
        response = app.handle(req, refusal)
        if response.delay_s > 0:
            app.wait_stopping(response.delay_s)
        self._write(response)

    def _write(self, response: Response) -> None:
        lines = [f"{self.protocol_version} {response.status} {HTTPStatus(response.status).phrase}"]
        lines += [f"Server: {self.server_version}", f"Date: {self.date_time_string()}"]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        try:  # one write: head and body leave in one segment
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
        except OSError:  # the client gave up (e.g. timed out during a delayed answer)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


def _content_length(value: str | None) -> int:
    """The header's value, 0 when absent, -1 when it is not a non-negative integer."""
    try:
        return int(value or 0) if (value or "0").strip().isdigit() else -1
    except ValueError:
        return -1


def _discard(stream: Any, length: int, chunk: int = 1 << 16) -> None:
    # Read the refused body anyway, so the connection stays usable for the next request.
    while length > 0:
        data = stream.read(min(chunk, length))
        if not data:
            break
        length -= len(data)
