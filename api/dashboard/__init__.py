"""The runs dashboard: one static page (HTML, a few small ES modules, one stylesheet) at ``/``.

Why a static page and a small script rather than server-rendered pages or a front-end build: the
page holds no data, so it is served without a token, and it reads everything through the same
``/v1`` endpoints and tokens as any other client (one contract, tested once, no second access
path). Nothing is built or fetched from a CDN: the files are the product, loaded by the browser
as committed (``app.js`` imports the others). The token typed in at sign-in stays in the tab's
``sessionStorage`` (never a cookie, so no CSRF; never the URL, so no logs or Referer); a strict
Content-Security-Policy allows only these files, and the scripts write data as text, never as
HTML.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

__all__ = ["STATIC", "blueprint"]

STATIC = Path(__file__).parent / "static"
#: Only the page's own files may run or be loaded; it talks to its own origin only.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

blueprint = Blueprint("dashboard", __name__, static_folder=str(STATIC), static_url_path="/static")


@blueprint.get("/")
def index() -> Response:
    return send_from_directory(STATIC, "index.html", max_age=0)


@blueprint.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
