"""Every error answer of the API, in one place: ``{"error", "message", "details": [{"field", "problem"}]}``.

Validation failures name the field as clients write it (``instances[3].zipcode``, ``as_of``) and
say what is wrong; pydantic's raw messages ("Extra inputs are not permitted") are rewritten where
a client needs more: which fields exist, and that demographics are the service's job. The core's
``PredictionInputError`` carries the house's row and field; here it becomes the client's path.
"""

from __future__ import annotations

import binascii
import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import ValidationError

from lambda_fn.api.media_type import is_json
from lambda_fn.api.schemas import ErrorDetail, ErrorResponse
from lambda_fn.core.errors import ASKED_ON, CannotExplainError, PredictionInputError
from lambda_fn.core.features import HOUSE_COLUMNS
from lambda_fn.observability import logger, metrics
from lambda_fn.registry.artifacts import ArtifactError
from lambda_fn.registry.serving import get_model_store
from lambda_fn.registry.store import UnknownModelError

BATCH_PATH = "/v1/predict/batch"
BATCH_FIELD = "instances"
QUERY_NAMES = {ASKED_ON: "as_of"}   # the core's name of an input -> the query parameter clients send
MAX_DETAILS = 20   # problems described one by one in an error answer
SERVER_ERRORS_METRIC = "ServerErrors"   # 5xx answers; infra's canary alarm counts them


class UnknownQueryParameterError(ValueError):
    """A query parameter the route does not read, e.g. a misspelled ``model`` (answered with 400)."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        takes = f"known: {', '.join(known)}" if known else "this route takes none"
        super().__init__(f"unknown query parameter '{name}'; {hint}{takes}")
        self.name = name


class MinimalHouseError(Exception):
    """The minimal route's body does not match the chosen model's fields (answered with 422)."""

    def __init__(self, error: ValidationError, allowed_fields: list[str]) -> None:
        super().__init__(str(error))
        self.errors = [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        self.allowed_fields = allowed_fields


def require_json(event: APIGatewayProxyEvent) -> None:
    """Powertools accepts any Content-Type that merely starts with application/json (say
    ``application/jsonx``); this API takes exactly JSON."""
    if not is_json(event.headers.get("content-type", "")):
        raise RequestUnsupportedContentType("Unsupported content type", errors=[])


def require_json_object(event: APIGatewayProxyEvent) -> None:
    """Powertools hands a single-model body the first item of a JSON array, so ``[houseA, houseB]``
    would be priced as houseA alone (and ``[batchA, batchB]`` as batchA); it must be refused."""
    require_json(event)
    if not isinstance(event.json_body, dict):
        raise RequestValidationError([{"type": "model_type", "loc": ("body",), "msg": "expected a JSON object"}])


def field_path(loc: Sequence[Any]) -> str:
    """('body', 'instances', 3, 'zipcode') -> 'instances[3].zipcode'; the whole body -> 'body';
    ('query', 'as_of') -> 'as_of' (query parameters are named as clients write them)."""
    path = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query") else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def describe(errors: Iterable[dict[str, Any]], *, allowed_fields: Sequence[str],
             demographic_fields: Iterable[str], top_level_fields: Sequence[str] | None = None) -> list[ErrorDetail]:
    """``top_level_fields``: what a body may hold when houses sit one level down (the batch route).

    At most MAX_DETAILS problems are described, and the rest counted in one last detail: a body of
    25,000 unknown keys must not cost seconds of "did you mean" searches and an answer over
    Lambda's 6 MB limit."""
    errors = list(errors)
    demographic_fields = set(demographic_fields)
    details = []
    for error in errors[:MAX_DETAILS]:
        loc = tuple(error.get("loc", ()))
        kind = error.get("type", "")
        problem = str(error.get("msg", "invalid value"))
        if kind == "json_invalid":
            problem = f"request body is not valid JSON: {error.get('ctx', {}).get('error', problem)}"
            loc = ("body",)
        elif loc[:1] == ("query",) and isinstance(error.get("input"), list):   # ?as_of=A&as_of=B: which one?
            problem = f"given {len(error['input'])} times; give it once"
        elif kind == "extra_forbidden" and loc and loc[-1] in demographic_fields:
            problem = ("demographic fields must not be sent: the service adds them from the zipcode "
                       "(send only the house's own attributes)")
        elif kind == "extra_forbidden":
            allowed = top_level_fields if top_level_fields and len(loc) == 2 else allowed_fields
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1) if loc else []
            hint = f"did you mean '{close[0]}'? " if close else ""
            problem = f"unknown field; {hint}allowed fields: {', '.join(allowed)}"
        elif kind == "missing" and loc == ("body",):
            problem = "request body is missing: send a JSON object"
        elif kind == "value_error":
            problem = problem.removeprefix("Value error, ")
        elif kind in {"model_type", "model_attributes_type", "dict_type"}:
            problem = "expected a JSON object"
        elif kind.startswith("date") and loc[:1] == ("query",):
            problem = f"expected a day as YYYY-MM-DD, e.g. 2015-05-27 ({problem})"
        details.append(ErrorDetail(field=field_path(loc), problem=problem))
    if len(errors) > MAX_DETAILS:
        details.append(ErrorDetail(field="body", problem=f"and {len(errors) - MAX_DETAILS} more problems not listed"))
    return details


def misdirected(body: Any, *, batch: bool) -> str | None:
    """What is wrong with a body shaped for the other route (or an array), in words that say where
    it belongs; None when its shape fits the route. Field-by-field errors would mislead here:
    Powertools validates an array's first item, and a batch body lacks every house field."""
    if isinstance(body, list):
        return (f'expected a JSON object {{"{BATCH_FIELD}": [house, ...]}}, got an array' if batch else
                f'expected a JSON object (one house), got an array; POST several houses as {{"{BATCH_FIELD}": '
                f"[...]}} to {BATCH_PATH}")
    if not isinstance(body, dict):
        return None
    if batch and BATCH_FIELD not in body and not body.keys().isdisjoint(HOUSE_COLUMNS):
        return (f'expected {{"{BATCH_FIELD}": [house, ...]}}, got the fields of one house: POST it to /v1/predict, '
                f'or send it as {{"{BATCH_FIELD}": [house]}}')
    if not batch and BATCH_FIELD in body:
        return f'this route prices one house, sent as its fields; POST {{"{BATCH_FIELD}": [...]}} to {BATCH_PATH}'
    return None


def compressed(event: APIGatewayProxyEvent) -> str | None:
    """The body's Content-Encoding if it is compressed (this API reads bodies as sent: API Gateway
    passes them through, and the local server does too); None for none or ``identity``."""
    encoding = (event.headers.get("content-encoding") or "").strip()
    return None if encoding.lower() in ("", "identity") else encoding[:40]


def client_field(field: str, row: int | None, path: str) -> str:
    """The core's (field, row) as the client wrote it: ``instances[3].zipcode`` on the batch route."""
    field = QUERY_NAMES.get(field, field)
    if row is not None and path == BATCH_PATH:
        return f"{BATCH_FIELD}[{row}].{field}"
    return field


# Every answer says what it is and forbids browsers to guess otherwise (routes: api/handler.py).
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}


def error_response(status: int, error: str, message: str, details: list[ErrorDetail] | None = None) -> Response:
    body = ErrorResponse(error=error, message=message, details=details or [])
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body.model_dump(),
                    headers=dict(SECURITY_HEADERS))


def _summary(details: list[ErrorDetail]) -> str:
    return "; ".join(f"{d.field}: {d.problem}" for d in details[:3])


def _demographic_fields() -> list[str]:
    return get_model_store().get().demographic_fields


def install(app: APIGatewayRestResolver) -> None:
    """Register the mapping of every domain and validation error to its HTTP answer on ``app``."""

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_media_type(error: Exception) -> Response:
        encoding = compressed(app.current_event)
        if encoding:
            problem = f"Content-Encoding '{encoding}' is not accepted: send the JSON body uncompressed"
            return error_response(415, "unsupported_media_type", problem,
                                  [ErrorDetail(field="Content-Encoding", problem=problem)])
        content_type = app.current_event.headers.get("content-type", "")
        problem = (f"Content-Type '{content_type}' is not accepted: send the body as JSON with "
                   "Content-Type: application/json")
        return error_response(415, "unsupported_media_type", problem,
                              [ErrorDetail(field="Content-Type", problem=problem)])

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response:
        # Powertools parses form posts too (curl -d without -H sends one); this API speaks JSON only.
        if not is_json(app.current_event.headers.get("content-type", "")):
            return unsupported_media_type(error)
        batch = app.current_event.path == BATCH_PATH
        errors = error.errors()
        malformed = any(e.get("type") == "json_invalid" for e in errors)
        shape = None if malformed else misdirected(app.current_event.json_body, batch=batch)
        if shape:   # the body's own field errors would mislead; the query's still stand
            errors = [e for e in errors if tuple(e.get("loc", ()))[:1] == ("query",)]
        details = describe(errors, allowed_fields=HOUSE_COLUMNS,
                           top_level_fields=(BATCH_FIELD,) if batch else None, demographic_fields=_demographic_fields())
        if malformed:
            if compressed(app.current_event):
                return unsupported_media_type(error)
            return error_response(400, "malformed_json", details[0].problem, details)
        if shape:
            details.append(ErrorDetail(field="body", problem=shape))
        return error_response(422, "invalid_input", _summary(details), details)

    @app.exception_handler(MinimalHouseError)
    def invalid_minimal_house(error: MinimalHouseError) -> Response:
        shape = misdirected(app.current_event.json_body, batch=False)
        if shape:
            return error_response(422, "invalid_input", f"body: {shape}", [ErrorDetail(field="body", problem=shape)])
        details = describe(error.errors, allowed_fields=error.allowed_fields, demographic_fields=_demographic_fields())
        return error_response(422, "invalid_input", _summary(details), details)

    @app.exception_handler(PredictionInputError)
    def unpriceable_input(error: PredictionInputError) -> Response:
        field = client_field(error.field, error.row, app.current_event.path)
        return error_response(422, "invalid_input", f"{field}: {error.problem}",
                              [ErrorDetail(field=field, problem=error.problem)])

    @app.exception_handler(ValueError)
    def unparseable_body(error: ValueError) -> Response:
        # Powertools parses form and multipart bodies itself before any route runs, and a malformed
        # one (multipart/form-data without a boundary) raises ValueError. This API takes only JSON;
        # any other ValueError is a bug.
        if isinstance(error, binascii.Error):   # an event marked isBase64Encoded whose body is not base64
            problem = "request body is marked as base64-encoded but is not valid base64"
            return error_response(400, "malformed_json", problem, [ErrorDetail(field="body", problem=problem)])
        if is_json(app.current_event.headers.get("content-type", "")):
            return internal_error(error)
        return unsupported_media_type(error)

    @app.exception_handler(Exception)
    def internal_error(error: Exception) -> Response:
        # A bug is answered, not crashed on: a JSON 500 naming the request, the traceback in the log,
        # and a ServerErrors metric that the canary deployment's alarm counts (a client's bad input,
        # a 4xx, never does). An error Lambda itself raises still counts as an invocation error.
        if isinstance(error, ServiceError):   # Powertools' own HTTP errors keep their status
            return error_response(error.status_code, "error", str(error.msg))
        request_id = app.current_event.request_context.request_id
        logger.exception("unhandled error", extra={"request_id": request_id})
        with single_metric(name=SERVER_ERRORS_METRIC, unit=MetricUnit.Count, value=1, namespace=metrics.namespace,
                           default_dimensions={"service": metrics.service}):
            pass  # printed as EMF when the block closes
        return error_response(500, "internal_error", f"the service failed on this request ({request_id}); it has "
                              "been logged: retry, and quote the request id if it fails again")

    @app.exception_handler(UnicodeDecodeError)
    def undecodable_body(error: UnicodeDecodeError) -> Response:
        if compressed(app.current_event):   # a gzip body is never UTF-8: say why it was not read
            return unsupported_media_type(error)
        problem = "request body is not valid JSON: it is not UTF-8 text"
        return error_response(400, "malformed_json", problem, [ErrorDetail(field="body", problem=problem)])

    @app.exception_handler(UnknownQueryParameterError)
    def unknown_query_parameter(error: UnknownQueryParameterError) -> Response:
        return error_response(400, "unknown_query_parameter", str(error),
                              [ErrorDetail(field=error.name, problem=str(error))])

    @app.exception_handler(CannotExplainError)
    def cannot_explain(error: CannotExplainError) -> Response:
        able = [m["name"] for m in get_model_store().metadata() if m.get("explains")]
        problem = (f"{error}; models that can: {', '.join(able)} (?model=NAME)" if able
                   else f"{error}; no model served here can")
        return error_response(422, "cannot_explain", problem, [ErrorDetail(field="model", problem=problem)])

    @app.exception_handler(UnknownModelError)
    def unknown_model(error: UnknownModelError) -> Response:
        return error_response(400, "unknown_model", str(error), [ErrorDetail(field="model", problem=str(error))])

    @app.exception_handler(ArtifactError)
    def model_unavailable(error: ArtifactError) -> Response:
        # A baked-in model that fails its checks when first named: the service's fault, not the client's.
        logger.error("model could not be loaded", extra={"reason": str(error)})
        return error_response(503, "model_unavailable", "the model asked for could not be loaded; try another "
                              "model (GET /v1/models) or retry later", [])

    @app.not_found
    def not_found(error: NotFoundError) -> Response:
        path = app.current_event.path
        return error_response(404, "not_found", f"no route {app.current_event.http_method} {path}; see /v1/swagger")
