"""The page for an agent and its assets through ``lambda_handler``, as API Gateway invokes it below a
stage path: HTML and assets with their types, caching and Content-Security-Policy; relative URLs
only; nothing from elsewhere; and the same query-parameter rule as every route."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from lambda_fn.api import page
from lambda_fn.api.asgi import LocalContext
from lambda_fn.api.handler import app, lambda_handler
from lambda_fn.api.routes import PAGE_ASSETS, PAGE_PATH, PUBLIC_ROUTES, query_parameters
from tests.helpers import load_event

STAGE = "/prod"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def get(path: str, *, seen_as: str | None = None, **query: str) -> dict[str, Any]:
    """GET ``path`` as API Gateway's stage ``prod`` passes it (events/health.json, another path);
    ``seen_as``: the path in the browser's URL, the stage's included."""
    event = load_event("health")
    event["path"] = event["resource"] = event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = seen_as or STAGE + path
    event["headers"]["Accept"] = event["multiValueHeaders"]["Accept"][0] = "text/html"
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()} or None
    return lambda_handler(event, LocalContext(aws_request_id=str(uuid.uuid4())))


def headers(response: dict[str, Any]) -> dict[str, str]:
    found = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        found.setdefault(name.lower(), ", ".join(values))
    return found


def directives(policy: str) -> dict[str, str]:
    return {d.split()[0]: " ".join(d.split()[1:]) for d in policy.split(";") if d.strip()}


def test_the_page_is_html_under_a_strict_content_security_policy():
    response = get(PAGE_PATH)

    assert response["statusCode"] == 200
    answer = headers(response)
    assert answer["content-type"] == "text/html; charset=utf-8"
    assert answer["x-content-type-options"] == "nosniff"
    assert answer["cache-control"] == "no-cache"
    policy = directives(answer["content-security-policy"])
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in answer["content-security-policy"]
    assert response["body"].startswith("<!doctype html>")
    assert "Prices are for the 2014–15 King County market" in response["body"]


@pytest.mark.parametrize(("path", "content_type"), [("/app/page.js", "text/javascript; charset=utf-8"),
                                                     ("/app/page.css", "text/css; charset=utf-8")])
def test_an_asset_named_with_its_current_hash_may_be_kept_and_otherwise_is_revalidated(path, content_type):
    [named] = re.findall(rf'"{path.lstrip("/")}\?v=([0-9a-f]+)"', get(PAGE_PATH)["body"])

    kept, unnamed, stale = get(path, v=named), get(path), get(path, v="0" * len(named))

    for response in (kept, unnamed, stale):
        assert response["statusCode"] == 200
        assert headers(response)["content-type"] == content_type
        assert headers(response)["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers(response)["content-security-policy"]
    assert headers(kept)["cache-control"] == "public, max-age=31536000, immutable"
    assert headers(unnamed)["cache-control"] == headers(stale)["cache-control"] == "no-cache"
    assert kept["body"] == (page.PAGE_DIR / path.rsplit("/", 1)[1]).read_text(encoding="utf-8")


def test_every_url_in_the_page_is_relative_and_on_this_origin():
    # Below API Gateway's stage path (/prod/), "/v1/..." would leave the stage; and nothing may be
    # loaded from elsewhere (the policy would refuse it anyway).
    html = get(PAGE_PATH)["body"]
    script = get("/app/page.js")["body"]
    style = get("/app/page.css")["body"]

    assert re.findall(r'(?:src|href|action)="(/[^"]*|[a-z]+://[^"]*)"', html) == []
    called = re.findall(r"\bapi\(\s*[\"'`]([^\"'`]+)", script)
    assert called and all(url.startswith("v1/") for url in called), called
    assert re.findall(r"\bfetch\(\s*[\"'`]", script) == []   # every request goes through api(), above
    assert set(re.findall(r"[a-z]+://[^\s\"'`)]+", html + script + style)) <= {SVG_NAMESPACE}
    assert "url(" not in style and "@import" not in style
    # No inline script, style or event handler: the policy would refuse them.
    assert re.findall(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", html) == []


def test_the_stage_path_without_its_slash_is_redirected_below_it():
    # https://.../prod would resolve app/page.js to https://.../app/page.js, outside the stage.
    response = get(PAGE_PATH, seen_as=STAGE)

    assert response["statusCode"] == 308
    assert headers(response)["location"] == "prod/"
    assert get(PAGE_PATH, seen_as="/")["statusCode"] == 200   # a custom domain, or the local server


def test_the_page_refuses_an_unknown_query_parameter_like_every_route():
    response = get(PAGE_PATH, x="1")

    assert response["statusCode"] == 400
    assert "unknown query parameter 'x'; this route takes none" in response["body"]


def test_the_page_and_its_assets_are_the_public_routes_outside_the_openapi_document():
    assert {("GET", PAGE_PATH), *(("GET", path) for path in PAGE_ASSETS)} == PUBLIC_ROUTES
    assert query_parameters(app).keys() >= PUBLIC_ROUTES
    documented = app.get_openapi_schema().paths
    assert not {path for _, path in PUBLIC_ROUTES} & documented.keys()


def test_a_page_that_does_not_name_an_asset_exactly_once_is_refused(tmp_path, monkeypatch):
    for name in ("page.js", "page.css"):
        (tmp_path / name).write_text("/* asset */", encoding="utf-8")
    (tmp_path / page.INDEX).write_text('<script src="app/page.js"></script>', encoding="utf-8")
    monkeypatch.setattr(page, "PAGE_DIR", tmp_path)
    page.static_files.cache_clear()
    try:
        with pytest.raises(ValueError, match=re.escape('must name "app/page.css" exactly once')):
            page.static_files()
    finally:
        page.static_files.cache_clear()
