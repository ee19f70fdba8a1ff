"""The Flask app: blueprints, the token check, problem documents and the OpenAPI document.

flask-smorest was chosen over hand-written apispec: the same marshmallow schema that checks a
request's fields (``@blp.arguments``) is what the OpenAPI document shows, so the two cannot drift,
and its answers are dumped through the schema the document promises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, Response, current_app, g, json, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from api.problems import Problem, from_http_exception, problem_response
from api.tokens import Principal, authenticate
from schemas.api import ProblemSchema
from workers.config import Settings
from workers.errors import ConfigError
from workers.ports import Send

__all__ = ["OPENAPI_PATH", "create_app", "openapi_document"]

OPENAPI_PATH = "/v1/openapi.json"
#: Routes anyone may read: the document, and the liveness probe for load balancers.
_PUBLIC = {OPENAPI_PATH, "/v1/health"}


class _Api(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return problem_response(from_http_exception(error))


def create_app(r: redis.Redis, settings: Settings, send: Send) -> Flask:
    """The API over Redis ``r`` (str responses), putting tasks on the broker with ``send``."""
    from api.dashboard import blueprint as dashboard
    from api.routes import blueprints

    # No app-wide static folder: the dashboard's blueprint serves /static.
    app = Flask("coursesync.api", static_folder=None)
    app.config.update(
        API_TITLE="coursesync",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        API_SPEC_OPTIONS={
            "info": {"description": "Push course catalogs into LMSs: runs, item changes, connections."},
            "servers": [{"url": "/"}],
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    app.extensions["coursesync"] = {"r": r, "settings": settings, "send": send}
    api = _Api(app)
    app.extensions["smorest_api"] = api
    for blueprint in blueprints():
        api.register_blueprint(blueprint)
    app.register_blueprint(dashboard)  # plain Flask: the page is not part of the OpenAPI document

    @app.before_request
    def _authenticate() -> Response | None:
        if request.path in _PUBLIC or not request.path.startswith("/v1/"):
            return None
        principal = authenticate(r, request.headers.get("Authorization"))
        if principal is None:
            return problem_response(
                Problem(
                    401,
                    "send a valid API token: Authorization: Bearer cs_...",
                    headers={"WWW-Authenticate": 'Bearer realm="coursesync"'},
                )
            )
        g.principal = principal
        return None

    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return problem_response(problem)

    @app.errorhandler(ConfigError)
    def _config_error(exc: ConfigError) -> Response:
        return problem_response(Problem(422, str(exc), kind="invalid-request"))

    @app.get(OPENAPI_PATH)
    def _openapi() -> Response:
        return Response(json.dumps(openapi_document(api)), mimetype="application/json")

    return app


def state() -> tuple[redis.Redis, Settings, Send]:
    """The app's Redis client, settings and task sender (for route functions)."""
    found = current_app.extensions["coursesync"]
    return found["r"], found["settings"], found["send"]


def principal() -> Principal:
    found: Principal = g.principal
    return found


def require(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Refuse a token without ``scope`` (403: it is known, it may not do this)."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not principal().can(scope):
                raise Problem(403, f"this token lacks the {scope!r} scope", kind="scope")
            return view(*args, **kwargs)

        checked.__name__ = view.__name__
        checked.__doc__ = view.__doc__
        checked.__dict__.update(view.__dict__)
        return checked

    return wrap


def openapi_document(api: Api) -> dict[str, Any]:
    """flask-smorest's document, with what it cannot say itself: problem documents are
    ``application/problem+json``, and every route but the public ones may answer 401."""
    doc: dict[str, Any] = api.spec.to_dict()
    doc.setdefault("components", {}).setdefault("responses", {})["UNAUTHORIZED"] = {
        "description": "no valid API token",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for response in doc["components"]["responses"].values():
        content = response.get("content", {})
        if "application/json" in content:
            content["application/problem+json"] = content.pop("application/json")
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, response in operation["responses"].items():
                content = response.get("content", {})
                if (code.startswith(("4", "5")) or code == "default") and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
            if path in _PUBLIC:
                operation["security"] = []
            else:
                operation["responses"].setdefault("401", {"$ref": "#/components/responses/UNAUTHORIZED"})
    doc["paths"][OPENAPI_PATH] = {
        "get": {
            "summary": "This document (OpenAPI 3)",
            "security": [],
            "tags": ["Liveness"],
            "responses": {
                "200": {
                    "description": "the OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return doc
