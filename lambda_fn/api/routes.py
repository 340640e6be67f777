"""The routes' contract, read from the app itself: which query parameters each route takes.

A route declares its query parameters once, in its signature (``Query``); Powertools writes them
into the OpenAPI document. ``query_parameters`` reads them back from that document for the
refusal of unknown parameters here and for API Gateway's request validation (``infra``), so no
second list can drift from the first.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from lambda_fn.api.errors import UnknownQueryParameterError

SWAGGER_PATH = "/v1/swagger"
# Powertools' own Swagger route is not in its OpenAPI document; it reads ?format=json.
SWAGGER_QUERY = ("format",)
# The page for an agent (lambda_fn.api.page) and its assets, also outside the OpenAPI document. Each
# asset is named in the page with its content hash, ?v=, so that browsers may keep it.
PAGE_PATH = "/"
PAGE_ASSETS = ("/app/page.js", "/app/page.css")
ASSET_QUERY = ("v",)
PAGE_ROUTES = {("GET", PAGE_PATH): (), **{("GET", path): ASSET_QUERY for path in PAGE_ASSETS}}
# Routes API Gateway serves without an API key: a browser navigating to a page cannot send a header.
# The page itself asks for the key and sends it with each call to the API.
PUBLIC_ROUTES = frozenset(PAGE_ROUTES)
METHODS = ("get", "post", "put", "patch", "delete")

_declared: dict[int, dict[tuple[str, str], tuple[str, ...]]] = {}


def query_parameters(app: APIGatewayRestResolver) -> dict[tuple[str, str], tuple[str, ...]]:
    """(METHOD, path) -> the query parameter names that route declares, for every route of ``app``
    (the page's routes included: ``lambda_fn.api.page.install`` registers them on the app)."""
    if id(app) not in _declared:
        routes = {("GET", SWAGGER_PATH): SWAGGER_QUERY, **PAGE_ROUTES}
        for path, item in app.get_openapi_schema().paths.items():
            for method in METHODS:
                operation = getattr(item, method, None)
                if operation is not None:
                    routes[(method.upper(), path)] = tuple(
                        p.name for p in operation.parameters or [] if getattr(p.in_, "value", p.in_) == "query")
        _declared[id(app)] = routes
    return _declared[id(app)]


def refuse_unknown_query_parameters(app: APIGatewayRestResolver, next_middleware):
    """Powertools middleware. A misspelled ``?modle=basic`` must not silently price with the default
    model, and ``/v1/health?as_of=...`` must not look as if the day mattered there."""
    given = app.current_event.query_string_parameters
    event = app.current_event
    known = query_parameters(app).get((event.http_method, event.path))
    # No such route (a wrong method, say): the not-found answer says so, not a query complaint.
    if given and known is not None:
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise UnknownQueryParameterError(unknown[0], known)
    return next_middleware(app)
