"""``/_sandbox/*``: health, statistics, the request log, settings and reset.

No authentication: the sandbox is a loopback tool for tests, the demo and benchmarks. Control
requests are not counted in the statistics, so polling them does not disturb what they measure.

=======  ========================  ==========================================================
GET      /_sandbox/health          ``{"status": "ok", "providers": {name: prefix}, "uptime_s"}``
GET      /_sandbox/stats           counters by route and status, 429s, per-provider counters
GET      /_sandbox/requests        ``[[t_epoch_s, provider, method, route, status], ...]``,
                                   oldest first; ``?since=<epoch_s>`` keeps the later ones;
                                   ``&paths=1`` adds each request's path (which task it polled)
GET      /_sandbox/limits          what each rate limit let through, per provider and limit key:
                                   counts, peaks per window, accepted times by sub-account;
                                   ``?since=<epoch_s>`` keeps the later times (see ``_limits``)
GET      /_sandbox/config          the settings
POST     /_sandbox/config          JSON object of settings to change -> the settings (or 400)
POST     /_sandbox/reset           forget remote objects, statistics and the request log
=======  ========================  ==========================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sandbox.http import Provider, Request, Response, json_response
from sandbox.state import State

__all__ = ["CONTROL_PREFIX", "handle_control"]

CONTROL_PREFIX = "/_sandbox"


def handle_control(state: State, req: Request, providers: Mapping[str, Provider]) -> Response:
    """Answer one control request (``req.path`` starts with ``/_sandbox/``)."""
    endpoint = _ENDPOINTS.get((req.method, req.path.removeprefix(CONTROL_PREFIX)))
    if endpoint is None:
        return json_response(404, {"error": f"no control endpoint {req.method} {req.path}"})
    try:
        return endpoint(state, req, providers)
    except ValueError as exc:  # a bad parameter or settings update
        return json_response(400, {"error": str(exc)})


def _health(state: State, req: Request, providers: Mapping[str, Provider]) -> Response:
    prefixes = {name: p.prefix for name, p in providers.items()}
    uptime_s = round(time.time() - state.started_epoch_s, 3)
    return json_response(200, {"status": "ok", "providers": prefixes, "uptime_s": uptime_s})


def _stats(state: State, req: Request, providers: Mapping[str, Provider]) -> Response:
    return json_response(200, state.stats())


def _requests(state: State, req: Request, providers: Mapping[str, Provider]) -> Response:
    return json_response(200, state.requests_since(_since(req), paths=req.arg("paths") == "1"))


def _limits(state: State, req: Request, providers: Mapping[str, Provider]) -> Response:
    """Every rate limit's usage since the last reset, for tests and benchmarks::

        {"limiter": "sliding_window", "since_epoch_s": 1767225600.0, "times_kept_per_key": 100000,
         "providers": {"stackone": {"sandbox-stackone-key": {
             "algorithm": "sliding_window", "accepted": 1000, "rate_limited": 12,
             "windows": [{"window": "1000/60", "limit": 1000, "window_s": 60.0, "max_accepted": 1000}],
             "times_dropped": 0,
             "sub_accounts": {"acct-1": {"accepted": 600, "rate_limited": 5,
                                         "accepted_at_s": [1767225600.012, ...]}, ...}}},
           "kombo": {}, ...}}

    A limit key is what the provider counts by: the API key (Kombo, StackOne, Thought
    Industries; ``KEY:course_management`` for TI's category limit), ``COMPANY:read`` and
    ``COMPANY:write`` at 360Learning. Sub-accounts say who asked within the key: the Kombo
    integration (X-Integration-Id), the StackOne account (x-account-id), the 360Learning
    company, the TI key; ``""`` when the header was missing. ``rate_limited`` counts the 429s a
    limit gave (an import refused by TI's category limit is not one of its plan's).
    ``max_accepted`` is the most accepted requests in any ``window_s`` seconds (two requests
    less than ``window_s`` apart share one), whatever the algorithm: more than ``limit`` means
    the algorithm let a burst through that a stricter provider would refuse. Accepted times
    are epoch seconds, the last ``times_kept_per_key`` of each key (``times_dropped``: older
    ones forgotten); a provider whose limits were never set has no keys.
    """
    return json_response(200, state.limits_report(_since(req)))


def _since(req: Request) -> float:
    raw = req.arg("since") or "0"
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"since must be a Unix time in seconds, not {raw!r}") from None


def _get_config(state: State, req: Request, providers: Mapping[str, Provider]) -> Response:
    return json_response(200, state.settings.as_dict())


def _post_config(state: State, req: Request, providers: Mapping[str, Provider]) -> Response:
    changes = req.json()
    if not isinstance(changes, dict):
        raise ValueError('send a JSON object of the settings to change, e.g. {"latency_s": 0.1}')
    return json_response(200, state.update_settings(changes))


def _held(state: State, req: Request, providers: Mapping[str, Provider]) -> Response:
    """``{provider: [item ids its LMS holds]}``; ``?provider=kombo`` for one."""
    wanted = req.arg("provider")
    if wanted and wanted not in providers:
        raise ValueError(f"no provider {wanted!r}; known: {sorted(providers)}")
    names = [wanted] if wanted else sorted(providers)
    return json_response(200, {name: providers[name].held() for name in names})


def _reset(state: State, req: Request, providers: Mapping[str, Provider]) -> Response:
    state.reset()
    return json_response(200, {"status": "reset"})


_ENDPOINTS: dict[tuple[str, str], Callable[[State, Request, Mapping[str, Provider]], Response]] = {
    ("GET", "/health"): _health,
    ("GET", "/stats"): _stats,
    ("GET", "/requests"): _requests,
    ("GET", "/limits"): _limits,
    ("GET", "/config"): _get_config,
    ("GET", "/held"): _held,
    ("POST", "/config"): _post_config,
    ("POST", "/reset"): _reset,
}
