"""``/_sandbox/*``: health, statistics, the request log, settings and reset. Loopback tooling."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.http import Request, Response, json_response
from sandbox.state import State

__all__ = ["handle_control"]


def _update_config(state: State, req: Request) -> Response:
    try:
        changes = req.json()
        if not isinstance(changes, dict):
            raise ValueError("send a JSON object of settings to change")
        with state.lock:
            state.settings.update(changes)
    except ValueError as exc:
        return json_response(400, {"error": str(exc)})
    return json_response(200, state.settings.as_dict())


def _reset(state: State, req: Request) -> Response:
    state.reset()
    return json_response(200, {"status": "reset"})


_ENDPOINTS: dict[tuple[str, str], Callable[[State, Request], Response]] = {
    ("GET", "/stats"): lambda state, req: json_response(200, state.stats()),
    ("GET", "/requests"): lambda state, req: json_response(
        200, {"requests": state.requests_since(float(req.query.get("since", ["0"])[0]))}
    ),
    ("GET", "/config"): lambda state, req: json_response(200, state.settings.as_dict()),
    ("POST", "/config"): _update_config,
    ("POST", "/reset"): _reset,
}


def handle_control(state: State, req: Request, providers: list[str]) -> Response:
    path = req.path[len("/_sandbox") :]
    if req.method == "GET" and path == "/health":
        return json_response(200, {"status": "ok", "providers": providers})
    endpoint = _ENDPOINTS.get((req.method, path))
    if endpoint is None:
        return json_response(404, {"error": f"no control endpoint {req.method} {req.path}"})
    return endpoint(state, req)
