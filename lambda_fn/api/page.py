"""The page for an agent: a form that prices a house through this API, and shows why, served by the
same app in Lambda, on ECS and locally (``GET /``, its script and its style sheet).

Contract:
- The files are read from ``lambda_fn/api/page/`` once per process, on the first request for any.
- Every URL in the page is relative (``app/page.js``, ``v1/predict/explain``), so it works below
  API Gateway's stage path (``/prod/``). ``/prod`` asked for without its slash is redirected to
  ``prod/``, under which those URLs resolve.
- The page names each asset with its content hash (``app/page.js?v=<hash>``): asked for with the
  current hash, an asset may be kept a year; otherwise, and the page itself, is revalidated.
- Every answer carries a Content-Security-Policy that admits only this origin's script, style and
  fetches (no inline script or style), and forbids framing the page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from lambda_fn.api import routes

PAGE_DIR = Path(__file__).with_name("page")
INDEX = "index.html"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}
# img-src data: admits only the page's empty icon, which spares a /favicon.ico request per visit.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
REVALIDATE = "no-cache"
KEEP = "public, max-age=31536000, immutable"
HASH_CHARS = 16


@dataclass(frozen=True)
class StaticFile:
    body: str
    content_type: str
    version: str   # the first HASH_CHARS hex digits of the body's SHA-256


def _static_file(name: str, body: str) -> StaticFile:
    return StaticFile(body=body, content_type=CONTENT_TYPES[PurePosixPath(name).suffix],
                      version=hashlib.sha256(body.encode()).hexdigest()[:HASH_CHARS])


@cache
def static_files() -> dict[str, StaticFile]:
    """Route path -> its file: the page, with each asset's URL carrying the asset's hash, and the assets."""
    assets = {path: _static_file(path, (PAGE_DIR / PurePosixPath(path).name).read_text(encoding="utf-8"))
              for path in routes.PAGE_ASSETS}
    html = (PAGE_DIR / INDEX).read_text(encoding="utf-8")
    for path, asset in assets.items():
        url = f'"{path.lstrip("/")}"'
        if html.count(url) != 1:   # a renamed asset must fail the first request, not ship a page without it
            raise ValueError(f"{INDEX} must name {url} exactly once")
        html = html.replace(url, f'"{path.lstrip("/")}?{routes.ASSET_QUERY[0]}={asset.version}"')
    return {routes.PAGE_PATH: _static_file(INDEX, html), **assets}


def _answer(file: StaticFile, cache_control: str) -> Response:
    return Response(status_code=200, content_type=file.content_type, body=file.body,
                    headers={"Cache-Control": cache_control, "Content-Security-Policy": CONTENT_SECURITY_POLICY})


def install(app: APIGatewayRestResolver) -> None:
    """Register the page and its assets on ``app``, outside its OpenAPI document."""

    # The routes carry no return annotation: with validation on, Powertools would build a response
    # model from it, and it has none for its own Response class.
    @app.get(routes.PAGE_PATH, include_in_schema=False)
    def page():
        # Behind API Gateway the stage is part of the browser's URL (/prod/) but not of the event's
        # path (/): the request context has the former, and without its slash the page's relative URLs
        # would resolve above the stage.
        seen_as = app.current_event.request_context.path or routes.PAGE_PATH
        if not seen_as.endswith("/"):
            return Response(status_code=308, headers={"Location": f"{PurePosixPath(seen_as).name}/",
                                                      "Cache-Control": REVALIDATE})
        return _answer(static_files()[routes.PAGE_PATH], REVALIDATE)

    def asset(path: str):
        def answer():
            file = static_files()[path]
            current = app.current_event.get_query_string_value(routes.ASSET_QUERY[0]) == file.version
            return _answer(file, KEEP if current else REVALIDATE)
        return answer

    for path in routes.PAGE_ASSETS:
        app.get(path, include_in_schema=False)(asset(path))
